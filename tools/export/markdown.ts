/**
 * Writes a post as Markdown with YAML front matter, laid out for a blog engine (`target`): plain CommonMark files,
 * a Jekyll site (`_posts/YYYY-MM-DD-slug.md`, images under `assets/`) or a Hugo site (a page bundle per post).
 *
 * The Markdown is as safe as the HTML page: everything that is not the author's own Markdown cell text (outputs, raw
 * cells, `text/markdown` outputs) is rendered and sanitised by the same sanitiser as the HTML page, or fenced as text;
 * a block of an author's Markdown cell that holds raw HTML or a link with a script URL is rendered and sanitised too
 * (unless `trustMarkdown`). Code fences are longer than any run of backticks inside them, and their language names are
 * checked, so no content can close a fence. Notebook headings start at H2: the post's title (front matter) is its one
 * H1. `hide-*` tags leave content visible here (a collapsible block needs raw HTML, which Hugo drops by default);
 * `remove-*` tags remove it.
 */
import { dump } from 'js-yaml';
import type { Token, TokensList } from 'marked';
import { Lexer, Marked } from 'marked';
import type { Block, ImageAsset, OutputBlock, Post, PostMeta } from './post.ts';
import { DEFAULT_DESCRIPTION, DEFAULT_SLUG, DEFAULT_TITLE, headingShift } from './post.ts';
import { sanitizeFragment } from './sanitize.ts';
import { fence } from './text.ts';

/** A file the exporter writes, relative to the output folder. */
export interface OutputFile {
  path: string;
  content: string | Uint8Array;
}

/** Folder (inside the output folder) that holds images of every post, for the `plain` and `jekyll` targets. */
export const ASSETS_DIR = 'assets';

/** The blog engine a Markdown export is laid out for. */
export type Target = 'plain' | 'jekyll' | 'hugo';

/** How to write Markdown. */
export interface MarkdownOptions {
  /** Default `plain`. */
  target?: Target;
  /**
   * Jekyll only: the site's base URL (its `baseurl`, or a full URL), prefixed to image and post links so they work
   * from any permalink, feed or index page. Default `/`.
   */
  baseUrl?: string;
  /** Keep raw HTML in the author's Markdown cells verbatim instead of sanitising it. Default false. */
  trustMarkdown?: boolean;
}

/** Where one target puts things, and how a post links to them. */
interface Layout {
  postPath(post: Post): string;
  indexPath: string;
  assetPath(post: Post, image: ImageAsset): string;
  /** The URL of an image as written in the post's Markdown. */
  assetUrl(post: Post, image: ImageAsset): string;
  /** URL of another post of the series, from a post, or from the index (`from` undefined). */
  postUrl(slug: string, from: 'post' | 'index'): string;
  indexUrl: string;
  extraFrontMatter(post: Post | undefined): Record<string, unknown>;
}

function layoutFor(options: MarkdownOptions, series: boolean): Layout {
  const target = options.target ?? 'plain';
  if (target === 'jekyll') {
    const base = (options.baseUrl ?? '/').replace(/\/*$/, '/');
    // Explicit permalinks make every link predictable without Liquid, which is off (render_with_liquid: false) so
    // that `{{`/`{%` in code and outputs stay text.
    const permalink = (slug: string) => (series ? `/${DEFAULT_SLUG}/${slug}/` : `/${slug}/`);
    return {
      postPath: (post) => `_posts/${post.meta.date}-${post.slug}.md`,
      indexPath: `${DEFAULT_SLUG}/index.md`,
      assetPath: (_post, image) => `${ASSETS_DIR}/${image.name}`,
      assetUrl: (_post, image) => `${base}${ASSETS_DIR}/${image.name}`,
      postUrl: (slug) => `${base}${permalink(slug).slice(1)}`,
      indexUrl: `${base}${DEFAULT_SLUG}/`,
      extraFrontMatter: (post) => ({
        permalink: post ? permalink(post.slug) : `/${DEFAULT_SLUG}/`,
        render_with_liquid: false,
      }),
    };
  }
  if (target === 'hugo') {
    // Page bundles: each post's images sit beside its index.md, so relative URLs resolve under any base URL.
    const section = series ? DEFAULT_SLUG : 'posts';
    return {
      postPath: (post) => `content/${section}/${post.slug}/index.md`,
      indexPath: `content/${section}/_index.md`,
      assetPath: (post, image) => `content/${section}/${post.slug}/${image.name}`,
      assetUrl: (_post, image) => image.name,
      postUrl: (slug, from) => (from === 'post' ? `../${slug}/` : `${slug}/`),
      indexUrl: '../',
      extraFrontMatter: () => ({}),
    };
  }
  return {
    postPath: (post) => `${post.slug}.md`,
    indexPath: 'index.md',
    assetPath: (_post, image) => `${ASSETS_DIR}/${image.name}`,
    assetUrl: (_post, image) => `${ASSETS_DIR}/${image.name}`,
    postUrl: (slug) => `${slug}.md`,
    indexUrl: 'index.md',
    extraFrontMatter: () => ({}),
  };
}

/** YAML front matter block (with its `---` fences) that Jekyll and Hugo both accept. */
export function frontMatter(meta: PostMeta, extra: Record<string, unknown> = {}): string {
  const fields: Record<string, unknown> = {
    title: meta.title,
    date: meta.date,
    description: meta.description,
    tags: meta.tags,
  };
  if (meta.author !== undefined) fields.author = meta.author;
  if (meta.original !== undefined) fields.original = { ...meta.original };
  if (meta.canonical !== undefined) fields.canonical = meta.canonical;
  const yaml = dump({ ...fields, ...extra }, { lineWidth: -1 });
  return `---\n${yaml}---\n`;
}

const FENCE_LANGUAGES: Record<string, string> = { typescript: 'ts', javascript: 'js' };

/**
 * Text for a link label or alt text, inert in CommonMark and kramdown alike: markup characters as entities, Markdown
 * punctuation escaped, one line.
 */
export function inlineText(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\`*_[\]$]/g, '\\$&')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;');
}

// A raw HTML block ends at the first blank line in CommonMark; keep the sanitised HTML in one block.
function htmlBlock(html: string, className: string): string {
  const clean = sanitizeFragment(html)
    .trim()
    .replace(/\n[ \t]*(?=\n)/g, '')
    .replace(/\n{2,}/g, '\n');
  return clean === '' ? '' : `<div class="${className}">\n${clean}\n</div>`;
}

/** Renders Markdown to HTML with every heading `shift` levels down (the post's title is its only H1). */
function renderDemoted(tokens: Token[], links: TokensList['links'], shift: number): string {
  const marked = new Marked({ gfm: true });
  const list = Object.assign([...tokens], { links }) as TokensList;
  marked.walkTokens(list, (token) => {
    if (token.type === 'heading') token.depth = Math.min(6, token.depth + shift);
  });
  return marked.parser(list);
}

// Links a browser would follow without running anything: web and mail URLs, and paths without a scheme. Entities,
// escapes and colons are not allowed in the rest, so `javascript&#58;` cannot pass as a path.
function safeHref(href: string): boolean {
  if (/^(?:https?:\/\/|mailto:)[^\s\\<>"]*$/i.test(href)) return true;
  return !/[:&\\\s<>"]/.test(href);
}

// Parsers disagree on what a link is: kramdown reads `[x](javascript:a 'b')` as a link where marked sees text, and
// browsers drop tabs and newlines inside a URL. A block that mentions a script or data scheme, a character reference
// or a kramdown extension (`{:`, `{::`) anywhere is therefore rendered by marked and sanitised, whatever marked made of it.
const SUSPECT = ['script:', 'data:', '&#', '&colon', '{:'];

function suspectText(raw: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: URL parsers skip exactly these characters
  const squeezed = raw.toLowerCase().replace(/[\s\u0000-\u001f]+/g, '');
  return SUSPECT.some((marker) => squeezed.includes(marker));
}

/** True when a token (or one inside it) holds raw HTML or a link that is not plainly safe. */
function needsSanitising(token: Token): boolean {
  if (token.type !== 'code' && suspectText(token.raw)) return true;
  let found = false;
  const visit = (value: unknown): void => {
    if (found || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    const node = value as { type?: unknown; href?: unknown };
    if (node.type === 'html') found = true;
    else if (node.type === 'link' && !safeHref(String(node.href ?? ''))) found = true;
    // A remote image would be fetched when the post is read; the sanitiser turns it into a link, as on the HTML page.
    else if (node.type === 'image' && (!safeHref(String(node.href ?? '')) || /^\w+:/.test(String(node.href))))
      found = true;
    else for (const child of Object.values(value)) if (typeof child === 'object') visit(child);
  };
  visit(token);
  return found;
}

/** True when a heading sits inside the token (in a list or a quote), where only rendering can move its level. */
function hasNestedHeading(token: Token): boolean {
  let nested = false;
  const visit = (value: unknown, top: boolean): void => {
    if (nested || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, false);
      return;
    }
    if (!top && (value as { type?: unknown }).type === 'heading') nested = true;
    for (const child of Object.values(value)) if (typeof child === 'object') visit(child, false);
  };
  visit(token, true);
  return nested;
}

function trailingNewlines(raw: string): string {
  let end = raw.length;
  while (end > 0 && raw[end - 1] === '\n') end -= 1;
  return raw.slice(end);
}

/**
 * Makes a Markdown cell safe for the post. Blocks without raw HTML or risky links stay Markdown as written (headings
 * one level down); each block that has them is rendered and passed through the sanitiser. With `trust`, raw HTML is
 * kept as written.
 */
function authorMarkdown(
  source: string,
  title: string | undefined,
  trust: boolean,
  first: { seen: boolean },
  shift: number,
) {
  const tokens = new Lexer({ gfm: true }).lex(source.replace(/\r\n?/g, '\n'));
  const parts: string[] = [];
  for (const token of tokens) {
    if (token.type === 'heading') {
      const isFirst = !first.seen;
      first.seen = true;
      // The front matter carries the title; a notebook that opens by repeating it would say it twice.
      if (isFirst && token.depth === 1 && token.text.trim() === title) continue;
      const inline = needsSanitising(token) && !trust;
      if (!inline) {
        const hashes = '#'.repeat(Math.min(6, token.depth + shift));
        parts.push(`${hashes} ${token.text.replace(/\n/g, ' ')}${trailingNewlines(token.raw)}`);
        continue;
      }
    }
    if ((needsSanitising(token) && !trust) || hasNestedHeading(token)) {
      // An HTML block runs to the next blank line: the newline here and the token's own keep one after it.
      const html = htmlBlock(renderDemoted([token], tokens.links, shift), 'nb-markdown');
      parts.push(`${html}\n${trailingNewlines(token.raw)}`);
    } else {
      parts.push(token.raw);
    }
  }
  return parts.join('').trim();
}

/** Markdown that code wrote (an output, a raw cell): rendered and sanitised as a whole, as the HTML page does. */
function untrustedMarkdown(source: string): string {
  const tokens = new Lexer({ gfm: true }).lex(source.replace(/\r\n?/g, '\n'));
  return htmlBlock(renderDemoted(tokens, tokens.links, 1), 'nb-output');
}

// Hugo expands shortcodes anywhere in a page, code blocks included; its own escape form shows them as written.
function escapeShortcodes(markdown: string): string {
  return markdown.replace(/\{\{([<%])([\s\S]*?)([>%])\}\}/g, '{{$1/*$2*/$3}}');
}

class PostWriter {
  readonly #post: Post;
  readonly #layout: Layout;
  readonly #options: MarkdownOptions;
  readonly #firstHeading = { seen: false };
  readonly #shift: number;

  constructor(post: Post, layout: Layout, options: MarkdownOptions) {
    this.#post = post;
    this.#shift = headingShift(post);
    this.#layout = layout;
    this.#options = options;
  }

  image(image: ImageAsset): string {
    return `![${inlineText(image.alt)}](${this.#layout.assetUrl(this.#post, image)})`;
  }

  output(output: OutputBlock): string {
    switch (output.kind) {
      case 'text':
      case 'error':
        return fence(output.text, 'text');
      case 'image':
        return this.image(output.image);
      case 'html':
        return htmlBlock(output.html, 'nb-output');
      case 'markdown':
        return untrustedMarkdown(output.source);
    }
  }

  block(block: Block): string[] {
    switch (block.kind) {
      case 'markdown': {
        let source = block.source;
        for (const [name, image] of block.attachments) {
          source = source.replaceAll(`attachment:${name}`, this.#layout.assetUrl(this.#post, image));
        }
        if (!block.trusted) return [untrustedMarkdown(source)];
        const trust = this.#options.trustMarkdown === true;
        return [authorMarkdown(source, this.#post.meta.title, trust, this.#firstHeading, this.#shift)];
      }
      case 'html':
        return [htmlBlock(block.html, 'nb-markdown')];
      case 'code': {
        const parts: string[] = [];
        if (block.input !== 'remove')
          parts.push(fence(block.source, FENCE_LANGUAGES[block.language] ?? block.language));
        parts.push(...block.outputs.map((output) => this.output(output)));
        return parts;
      }
    }
  }

  /** A line naming the post this one retells, linked. */
  original(): string {
    const original = this.#post.meta.original;
    if (!original || !safeHref(original.url)) return '';
    const when = original.date ? ` (${original.date.slice(0, 4)})` : '';
    return `*After [${inlineText(original.title)}](${original.url}) by ${inlineText(original.author)}${when}.*`;
  }

  /** Previous / index / next links of a series post. */
  seriesNav(): string {
    const series = this.#post.series;
    if (!series) return '';
    const link = (text: string, url: string) => `[${inlineText(text)}](${url})`;
    const parts = [
      `Part ${series.position} of ${series.total} of ${link(DEFAULT_TITLE, this.#layout.indexUrl)}.`,
    ];
    if (series.previous) {
      parts.push(
        `Previous: ${link(series.previous.title, this.#layout.postUrl(series.previous.slug, 'post'))}.`,
      );
    }
    if (series.next)
      parts.push(`Next: ${link(series.next.title, this.#layout.postUrl(series.next.slug, 'post'))}.`);
    return parts.join(' ');
  }

  write(): string {
    const body = [
      this.original(),
      ...this.#post.sections.flatMap((section) => section.blocks.flatMap((block) => this.block(block))),
      this.seriesNav(),
    ]
      .filter((part) => part !== '')
      .join('\n\n');
    const front = frontMatter(this.#post.meta, this.#layout.extraFrontMatter(this.#post));
    const text = `${front}\n${body}\n`;
    return this.#options.target === 'hugo' ? escapeShortcodes(text) : text;
  }
}

function decodeBase64(data: string): Uint8Array {
  return Uint8Array.from(Buffer.from(data, 'base64'));
}

function assetFiles(post: Post, layout: Layout): OutputFile[] {
  const files: OutputFile[] = [];
  const add = (image: ImageAsset) => {
    const content = image.mime === 'image/svg+xml' ? `${image.data}\n` : decodeBase64(image.data);
    files.push({ path: layout.assetPath(post, image), content });
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
 * Renders a post as Markdown: the post file plus one file per image, where `options.target` puts them.
 * Pure: the same post always gives the same files.
 */
export function renderMarkdown(post: Post, options: MarkdownOptions = {}): OutputFile[] {
  const layout = layoutFor(options, post.series !== undefined);
  const content = new PostWriter(post, layout, options).write();
  return [{ path: layout.postPath(post), content }, ...assetFiles(post, layout)];
}

/** The index page of a series (a `perNotebook` export): every post in order, with its description. */
export function renderMarkdownIndex(posts: readonly Post[], options: MarkdownOptions = {}): OutputFile {
  const layout = layoutFor(options, true);
  const dates = posts.map((post) => post.meta.date).sort();
  const first = posts.find(
    (post) => post.meta.author !== undefined || post.meta.original !== undefined,
  )?.meta;
  const meta: PostMeta = {
    title: DEFAULT_TITLE,
    date: dates[dates.length - 1],
    description: DEFAULT_DESCRIPTION,
    tags: [...new Set(posts.flatMap((post) => post.meta.tags))],
    ...(first?.author !== undefined ? { author: first.author } : {}),
    ...(first?.original !== undefined ? { original: first.original } : {}),
  };
  const items = posts.map((post, i) => {
    const about = post.meta.description ? ` — ${inlineText(post.meta.description)}` : '';
    return `${i + 1}. [${inlineText(post.meta.title)}](${layout.postUrl(post.slug, 'index')})${about}`;
  });
  const body = `${inlineText(DEFAULT_DESCRIPTION)}\n\n${items.join('\n')}\n`;
  return {
    path: layout.indexPath,
    content: `${frontMatter(meta, layout.extraFrontMatter(undefined))}\n${body}`,
  };
}
