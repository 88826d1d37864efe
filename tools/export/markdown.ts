/**
 * Writes a post as Markdown with YAML front matter, for Jekyll, Hugo and anything else that reads CommonMark.
 *
 * Markdown cells are copied as they are; code is fenced as `ts`, text outputs as `text`; images become files in the
 * assets folder; `text/html` outputs are sanitised and kept as raw HTML. `hide-input` / `hide-output` / `hide-cell`
 * leave the content visible here (a collapsible block needs raw HTML, which Hugo drops by default); `remove-*` tags
 * remove it.
 */
import { dump } from 'js-yaml';
import type { Block, ImageAsset, OutputBlock, Post, PostMeta } from './post.ts';
import { sanitizeFragment } from './sanitize.ts';
import { fence } from './text.ts';

/** A file the exporter writes, relative to the output folder. */
export interface OutputFile {
  path: string;
  content: string | Uint8Array;
}

/** Folder (inside the output folder) that holds images of every post. */
export const ASSETS_DIR = 'assets';

/** YAML front matter block (with its `---` fences) that Jekyll and Hugo both accept. */
export function frontMatter(meta: PostMeta): string {
  const yaml = dump(
    { title: meta.title, date: meta.date, description: meta.description, tags: meta.tags },
    { lineWidth: -1 },
  );
  return `---\n${yaml}---\n`;
}

const FENCE_LANGUAGES: Record<string, string> = { typescript: 'ts', javascript: 'js' };

function escapeAlt(text: string): string {
  return text.replace(/[\\[\]]/g, '\\$&').replace(/\s+/g, ' ');
}

function imageMarkdown(image: ImageAsset): string {
  return `![${escapeAlt(image.alt)}](${ASSETS_DIR}/${image.name})`;
}

// A raw HTML block ends at the first blank line in CommonMark; keep the sanitised HTML in one block.
function htmlBlock(html: string): string {
  const clean = sanitizeFragment(html, { offline: false })
    .trim()
    .replace(/\n[ \t]*(?=\n)/g, '')
    .replace(/\n{2,}/g, '\n');
  return clean === '' ? '' : `<div class="nb-output">\n${clean}\n</div>`;
}

function outputMarkdown(output: OutputBlock): string {
  switch (output.kind) {
    case 'text':
    case 'error':
      return fence(output.text, 'text');
    case 'image':
      return imageMarkdown(output.image);
    case 'html':
      return htmlBlock(output.html);
    case 'markdown':
      return output.source.trim();
  }
}

function resolveAttachments(source: string, attachments: Map<string, ImageAsset>): string {
  let text = source;
  for (const [name, image] of attachments) {
    text = text.replaceAll(`attachment:${name}`, `${ASSETS_DIR}/${image.name}`);
  }
  return text;
}

function blockMarkdown(block: Block): string[] {
  switch (block.kind) {
    case 'markdown':
      return [resolveAttachments(block.source, block.attachments).trim()];
    case 'html':
      return [htmlBlock(block.html)];
    case 'code': {
      const parts: string[] = [];
      if (block.input !== 'remove')
        parts.push(fence(block.source, FENCE_LANGUAGES[block.language] ?? block.language));
      parts.push(...block.outputs.map(outputMarkdown));
      return parts;
    }
  }
}

function decodeBase64(data: string): Uint8Array {
  return Uint8Array.from(Buffer.from(data, 'base64'));
}

function assetFiles(post: Post): OutputFile[] {
  const files: OutputFile[] = [];
  const add = (image: ImageAsset) => {
    const content = image.mime === 'image/svg+xml' ? `${image.data}\n` : decodeBase64(image.data);
    files.push({ path: `${ASSETS_DIR}/${image.name}`, content });
  };
  for (const section of post.sections) {
    for (const block of section.blocks) {
      if (block.kind === 'markdown') for (const image of block.attachments.values()) add(image);
      if (block.kind === 'code')
        for (const output of block.outputs) if (output.kind === 'image') add(output.image);
    }
  }
  return files;
}

/**
 * Renders a post as Markdown: `<slug>.md` plus one file per image under {@link ASSETS_DIR}.
 * Pure: the same post always gives the same files.
 */
export function renderMarkdown(post: Post): OutputFile[] {
  const body = post.sections
    .flatMap((section) => section.blocks.flatMap(blockMarkdown))
    .filter((part) => part !== '')
    .join('\n\n');
  return [{ path: `${post.slug}.md`, content: `${frontMatter(post.meta)}\n${body}\n` }, ...assetFiles(post)];
}
