/**
 * Turns parsed notebooks into posts: a format-neutral model that both writers (Markdown and HTML) render. Cell tags are
 * applied here, outputs are reduced to the one representation each will show, SVG is sanitised, and every image gets
 * its asset file name, so the two formats agree on what a post contains.
 */

import type { Token } from 'marked';
import { Lexer } from 'marked';
import type { Cell, CodeCell, MimeBundle, Notebook, Output } from '../nbformat/index.ts';
import { cellTags, joinText as joinSource, NotebookFormatError } from '../nbformat/index.ts';
import { sanitizeSvgImage } from './sanitize.ts';
import { slugify, terminalText } from './text.ts';

/** Title of the post that gathers every notebook. */
export const DEFAULT_TITLE = 'Async batching in TypeScript: a walkthrough';
/** File name (without extension) of the post that gathers every notebook. */
export const DEFAULT_SLUG = 'async-batching-walkthrough';
/** Description of the gathered post when no notebook supplies one. */
export const DEFAULT_DESCRIPTION =
  'Running thousands of asynchronous jobs with only a few in flight at a time, in TypeScript: Deferreds, ' +
  'semaphores, a cooperator and streams, each step a notebook you can run.';
/** Tags used when no notebook names any. */
export const DEFAULT_TAGS: readonly string[] = ['typescript', 'async', 'concurrency', 'batching'];

/** One notebook handed to the exporter: where it came from, its content, and when it last changed. */
export interface NotebookInput {
  /** The file name as given (shown in errors and in the page footer). */
  file: string;
  notebook: Notebook;
  /** The notebook's last change (git commit or file modification time), the post date when metadata has none. */
  modified: Date;
}

/** Front matter of a post. */
export interface PostMeta {
  title: string;
  /** YYYY-MM-DD */
  date: string;
  description: string;
  tags: string[];
}

/** An image that becomes an asset file next to the Markdown post, or inline data in the HTML page. */
export interface ImageAsset {
  /** File name inside the assets folder: `<slug>-<n>.<ext>`. */
  name: string;
  mime: 'image/svg+xml' | 'image/png' | 'image/jpeg' | 'image/gif';
  /** Sanitised SVG markup, or base64 for bitmaps. */
  data: string;
  alt: string;
  /** An SVG with its own style sheet: show it as an image, never inline, so its CSS and the page's stay apart. */
  styled: boolean;
}

/** One output of a code cell, as it will be shown. */
export type OutputBlock =
  | { kind: 'text'; stream: 'stdout' | 'stderr' | 'result'; text: string; executionCount: number | null }
  | { kind: 'error'; ename: string; evalue: string; text: string }
  | { kind: 'image'; image: ImageAsset }
  /** Unsanitised HTML: each writer sanitises for where it will be shown. */
  | { kind: 'html'; html: string }
  | { kind: 'markdown'; source: string };

/** How a part of a cell is shown, after the cell's tags. */
export type Visibility = 'show' | 'hide' | 'remove';

/** One cell of a post. */
export type Block =
  | { kind: 'markdown'; source: string; attachments: Map<string, ImageAsset> }
  | { kind: 'html'; html: string }
  | {
      kind: 'code';
      source: string;
      language: string;
      executionCount: number | null;
      input: Visibility;
      output: Visibility;
      outputs: OutputBlock[];
    };

/** The part of a post that came from one notebook. */
export interface PostSection {
  file: string;
  /** Anchor-safe name of the notebook file. */
  id: string;
  blocks: Block[];
}

/** A post ready to be written as Markdown or HTML. */
export interface Post {
  slug: string;
  meta: PostMeta;
  sections: PostSection[];
}

const BITMAP_EXTENSIONS = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif' } as const;
const IMAGE_PRIORITY = ['image/svg+xml', 'image/png', 'image/jpeg', 'image/gif'] as const;

function bundleText(bundle: MimeBundle, mime: string): string | undefined {
  const value = bundle[mime];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((line) => typeof line === 'string')) return value.join('');
  return undefined;
}

/** Stem of a notebook file name: `notebooks/01-deferreds.ipynb` becomes `01-deferreds`. */
export function notebookStem(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/\.ipynb$/i, '');
}

class AssetNamer {
  #count = 0;
  readonly slug: string;
  constructor(slug: string) {
    this.slug = slug;
  }

  image(mime: ImageAsset['mime'], data: string, alt: string): ImageAsset {
    this.#count += 1;
    const ext = mime === 'image/svg+xml' ? 'svg' : BITMAP_EXTENSIONS[mime];
    const name = `${this.slug}-${this.#count}.${ext}`;
    if (mime !== 'image/svg+xml') return { name, mime, data: data.replace(/\s+/g, ''), alt, styled: false };
    const { svg, styled } = sanitizeSvgImage(data);
    return { name, mime, data: svg, alt, styled };
  }
}

function svgTitle(svg: string): string | undefined {
  const match = /<title[^>]*>([^<]*)<\/title>/i.exec(svg);
  return match?.[1].trim() || undefined;
}

function describeImage(bundle: MimeBundle, mime: string, data: string, n: number): string {
  const fromSvg = mime === 'image/svg+xml' ? svgTitle(data) : undefined;
  const plain = bundleText(bundle, 'text/plain')?.trim();
  // Kernels put a repr like "<Figure size 640x480>" in text/plain; that is not a description.
  const usefulPlain =
    plain && !plain.includes('\n') && !/^<.*>$/.test(plain) && plain.length <= 120 ? plain : undefined;
  return fromSvg ?? usefulPlain ?? `Figure ${n}`;
}

function convertData(
  output: Extract<Output, { data: MimeBundle }>,
  assets: AssetNamer,
  figureCount: () => number,
): OutputBlock | undefined {
  const bundle = output.data;
  for (const mime of IMAGE_PRIORITY) {
    const data = bundleText(bundle, mime);
    if (data !== undefined) {
      const alt = describeImage(bundle, mime, data, figureCount());
      return { kind: 'image', image: assets.image(mime, data, alt) };
    }
  }
  const html = bundleText(bundle, 'text/html');
  if (html !== undefined) return { kind: 'html', html };
  const markdown = bundleText(bundle, 'text/markdown');
  if (markdown !== undefined) return { kind: 'markdown', source: markdown };
  const text = bundleText(bundle, 'text/plain');
  if (text !== undefined) {
    const executionCount = output.output_type === 'execute_result' ? (output.execution_count ?? null) : null;
    return { kind: 'text', stream: 'result', text: terminalText(text), executionCount };
  }
  return undefined;
}

function convertOutputs(cell: CodeCell, assets: AssetNamer, figureCount: () => number): OutputBlock[] {
  const blocks: OutputBlock[] = [];
  for (const output of cell.outputs) {
    if (output.output_type === 'stream') {
      const text = terminalText(joinSource(output.text));
      const last = blocks[blocks.length - 1];
      // Kernels flush a stream in pieces; readers expect one block per run of the same stream.
      if (last?.kind === 'text' && last.stream === output.name) {
        last.text += text;
      } else {
        blocks.push({ kind: 'text', stream: output.name, text, executionCount: null });
      }
    } else if (output.output_type === 'error') {
      const head = `${output.ename}: ${output.evalue}`;
      const trace = output.traceback.map((line) => terminalText(line)).join('\n');
      const text = trace.trim() === '' ? head : trace.includes(head) ? trace : `${head}\n${trace}`;
      blocks.push({ kind: 'error', ename: output.ename, evalue: output.evalue, text });
    } else {
      const block = convertData(output, assets, figureCount);
      if (block) blocks.push(block);
    }
  }
  return blocks.filter((block) => block.kind !== 'text' || block.text.trim() !== '');
}

function visibility(tags: Set<string>, part: 'input' | 'output'): Visibility {
  if (tags.has(`remove-${part}`)) return 'remove';
  if (tags.has(`hide-${part}`) || tags.has('hide-cell')) return 'hide';
  return 'show';
}

function notebookLanguage(notebook: Notebook): string {
  const name = (
    notebook.metadata.language_info?.name ??
    notebook.metadata.kernelspec?.language ??
    'typescript'
  )
    .toString()
    .toLowerCase();
  return name === 'ts' ? 'typescript' : name;
}

function convertCell(
  cell: Cell,
  language: string,
  assets: AssetNamer,
  figureCount: () => number,
): Block | undefined {
  const tags = cellTags(cell);
  if (tags.has('remove-cell')) return undefined;
  const source = joinSource(cell.source);
  if (cell.cell_type === 'markdown') {
    const attachments = new Map<string, ImageAsset>();
    for (const [name, bundle] of Object.entries(cell.attachments ?? {})) {
      const mime = IMAGE_PRIORITY.find((type) => bundleText(bundle, type) !== undefined);
      if (mime) attachments.set(name, assets.image(mime, bundleText(bundle, mime)!, name));
    }
    return source.trim() === '' ? undefined : { kind: 'markdown', source, attachments };
  }
  if (cell.cell_type === 'raw') {
    const type = (cell.metadata.raw_mimetype ?? cell.metadata.format ?? '').toString().toLowerCase();
    if (type === 'text/markdown') return { kind: 'markdown', source, attachments: new Map() };
    if (type === 'text/html') return { kind: 'html', html: source };
    // Raw cells meant for another format (LaTeX, reST) have no place in a blog post.
    return undefined;
  }
  const input = source.trim() === '' ? 'remove' : visibility(tags, 'input');
  const output = visibility(tags, 'output');
  const outputs = output === 'remove' ? [] : convertOutputs(cell, assets, figureCount);
  if (input === 'remove' && outputs.length === 0) return undefined;
  return {
    kind: 'code',
    source: source.replace(/\s+$/, ''),
    language,
    executionCount: cell.execution_count,
    input,
    output,
    outputs,
  };
}

function sectionOf(input: NotebookInput, assets: AssetNamer, figureCount: () => number): PostSection {
  const language = notebookLanguage(input.notebook);
  const blocks = input.notebook.cells
    .map((cell) => convertCell(cell, language, assets, figureCount))
    .filter((block) => block !== undefined);
  return { file: input.file, id: slugify(notebookStem(input.file)) || 'notebook', blocks };
}

function inlineText(tokens: Token[] | undefined): string {
  return (tokens ?? [])
    .map((token) => {
      if ('tokens' in token && Array.isArray(token.tokens)) return inlineText(token.tokens);
      return token.type === 'br' ? ' ' : 'text' in token ? String(token.text) : '';
    })
    .join('');
}

/** The first level-1 heading and the first paragraph of a notebook's Markdown, as plain text. */
function markdownSummary(notebook: Notebook): { heading?: string; paragraph?: string } {
  const found: { heading?: string; paragraph?: string } = {};
  for (const cell of notebook.cells) {
    if (cell.cell_type !== 'markdown' || cellTags(cell).has('remove-cell')) continue;
    for (const token of new Lexer().lex(joinSource(cell.source))) {
      if (token.type === 'heading' && token.depth === 1 && found.heading === undefined) {
        found.heading = inlineText(token.tokens).trim();
      } else if (token.type === 'paragraph' && found.paragraph === undefined) {
        found.paragraph = inlineText(token.tokens).replace(/\s+/g, ' ').trim();
      }
      if (found.heading !== undefined && found.paragraph !== undefined) return found;
    }
  }
  return found;
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), max / 2)).replace(/[\s,;:.]+$/, '')}…`;
}

/** Formats a date as YYYY-MM-DD in UTC, so the same file gives the same date on every machine. */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function ownMeta(input: NotebookInput): {
  title?: string;
  description?: string;
  tags?: string[];
  date?: string;
} {
  const { metadata } = input.notebook;
  const own = metadata.async_batching;
  const where = (field: string): string => `metadata.async_batching.${field}`;
  const fail = (field: string, expected: string): never => {
    throw new NotebookFormatError(input.file, `${where(field)} should be ${expected}`);
  };
  if (own !== undefined && (typeof own !== 'object' || own === null || Array.isArray(own))) {
    throw new NotebookFormatError(input.file, 'metadata.async_batching should be an object');
  }
  const title = own?.title ?? metadata.title;
  if (title !== undefined && typeof title !== 'string') fail('title', 'a string');
  if (own?.description !== undefined && typeof own.description !== 'string') fail('description', 'a string');
  if (
    own?.tags !== undefined &&
    !(Array.isArray(own.tags) && own.tags.every((tag) => typeof tag === 'string'))
  ) {
    fail('tags', 'a list of strings');
  }
  let date: string | undefined;
  if (own?.date !== undefined) {
    const parsed = typeof own.date === 'string' ? new Date(own.date) : new Date(Number.NaN);
    if (Number.isNaN(parsed.getTime()))
      fail('date', `a date like 2025-01-31, got ${JSON.stringify(own.date)}`);
    date = isoDay(parsed);
  }
  return { title: title as string | undefined, description: own?.description, tags: own?.tags, date };
}

function dateOf(input: NotebookInput): string {
  return ownMeta(input).date ?? isoDay(input.modified);
}

/** Front matter for a post made of one notebook: its metadata, else its first heading and paragraph. */
export function notebookMeta(input: NotebookInput): PostMeta {
  const own = ownMeta(input);
  const summary = markdownSummary(input.notebook);
  return {
    title: own.title?.trim() || summary.heading || notebookStem(input.file),
    date: dateOf(input),
    description: own.description?.trim() || (summary.paragraph ? truncate(summary.paragraph, 200) : ''),
    tags: own.tags && own.tags.length > 0 ? [...own.tags] : [...DEFAULT_TAGS],
  };
}

/** Front matter for the post that gathers several notebooks: the default title, the newest date, all their tags. */
export function combinedMeta(inputs: readonly NotebookInput[]): PostMeta {
  const tags = [...new Set(inputs.flatMap((input) => ownMeta(input).tags ?? []))];
  const dates = inputs.map(dateOf).sort();
  return {
    title: DEFAULT_TITLE,
    date: dates[dates.length - 1],
    description: DEFAULT_DESCRIPTION,
    tags: tags.length > 0 ? tags : [...DEFAULT_TAGS],
  };
}

function buildPost(slug: string, meta: PostMeta, inputs: readonly NotebookInput[]): Post {
  const assets = new AssetNamer(slug);
  let figures = 0;
  const figureCount = () => {
    figures += 1;
    return figures;
  };
  return { slug, meta, sections: inputs.map((input) => sectionOf(input, assets, figureCount)) };
}

/** Options for {@link buildPosts}. */
export interface BuildOptions {
  /** One post per notebook (slug from the file name) instead of one post for all. */
  perNotebook?: boolean;
}

/**
 * Builds the posts for a list of notebooks, in the order given: by default one post titled {@link DEFAULT_TITLE}
 * with slug {@link DEFAULT_SLUG}; with `perNotebook`, one post per notebook.
 *
 * @throws RangeError when `inputs` is empty; {@link NotebookFormatError} when notebook metadata has the wrong shape
 */
export function buildPosts(inputs: readonly NotebookInput[], options: BuildOptions = {}): Post[] {
  if (inputs.length === 0) throw new RangeError('Expected `inputs` to hold at least one notebook, got none');
  if (!options.perNotebook) return [buildPost(DEFAULT_SLUG, combinedMeta(inputs), inputs)];
  const slugs = new Set<string>();
  return inputs.map((input) => {
    const slug = slugify(notebookStem(input.file)) || 'notebook';
    if (slugs.has(slug)) {
      throw new RangeError(
        `Expected notebook file names to give distinct slugs, but "${slug}" repeats (${input.file})`,
      );
    }
    slugs.add(slug);
    return buildPost(slug, notebookMeta(input), [input]);
  });
}
