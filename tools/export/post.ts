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
/** A post carries at most this many tags: the ones its notebooks name most often. */
export const MAX_TAGS = 5;
/** Where the notebooks and the package live, linked from every post when the project names no other repository. */
export const DEFAULT_REPOSITORY = 'https://github.com/async-batching/async-batching';

/** One notebook handed to the exporter: where it came from, its content, and when it last changed. */
export interface NotebookInput {
  /** The file name as given (shown in errors and in the page footer). */
  file: string;
  notebook: Notebook;
  /** The notebook's last change (git commit or file modification time), the post date when metadata has none. */
  modified: Date;
}

/** The post this edition retells (notebook metadata `async_batching.original`). */
export interface OriginalPost {
  title: string;
  author: string;
  url: string;
  /** YYYY-MM-DD */
  date?: string;
}

/** Front matter of a post. */
export interface PostMeta {
  title: string;
  /** YYYY-MM-DD, from notebook metadata when it has one, so the same notebooks always give the same date. */
  date: string;
  description: string;
  tags: string[];
  /** Author of this edition. */
  author?: string;
  original?: OriginalPost;
  /** The URL search engines should treat as this post's home. */
  canonical?: string;
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

/** Charts are drawn about 720 px wide with 11 px labels: below this width their labels would be too small to read. */
const LEGIBLE_WIDTH = 600;

/**
 * The width (CSS px) a chart keeps on a narrow screen, from its SVG's own `width`, so its labels stay legible; its
 * frame scrolls below that. Undefined for bitmaps and SVGs without a width.
 */
export function legibleWidth(image: ImageAsset): number | undefined {
  if (image.mime !== 'image/svg+xml') return undefined;
  const open = image.data.slice(0, image.data.indexOf('>'));
  const width = Number(/\swidth="(\d+(?:\.\d+)?)(?:px)?"/.exec(open)?.[1]);
  return Number.isFinite(width) && width > 0 ? Math.round(Math.min(width, LEGIBLE_WIDTH)) : undefined;
}

/** One output of a code cell, as it will be shown. */
export type OutputBlock =
  | { kind: 'text'; stream: 'stdout' | 'stderr' | 'result'; text: string; executionCount: number | null }
  | { kind: 'error'; ename: string; evalue: string; text: string }
  | { kind: 'image'; image: ImageAsset }
  /** Unsanitised HTML: each writer sanitises for where it will be shown. */
  | { kind: 'html'; html: string }
  /** Markdown written by code, not by the author: always rendered through the sanitiser. */
  | { kind: 'markdown'; source: string };

/** How a part of a cell is shown, after the cell's tags. */
export type Visibility = 'show' | 'hide' | 'remove';

/** One cell of a post. */
export type Block =
  /**
   * `trusted` is the author's own markdown cell (raw HTML in it is still sanitised unless the writer is told to trust
   * it); a raw cell marked `text/markdown` is not trusted.
   */
  | { kind: 'markdown'; source: string; attachments: Map<string, ImageAsset>; trusted: boolean }
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

/** A post's neighbours when each notebook is its own post. */
export interface SeriesLinks {
  /** 1-based position in the series. */
  position: number;
  total: number;
  previous?: { slug: string; title: string };
  next?: { slug: string; title: string };
}

/** One line of a recap: a part of the walkthrough and what it showed. */
export interface RecapEntry {
  title: string;
  description: string;
  /** The part's own post, in a series. */
  slug?: string;
}

/** A post ready to be written as Markdown or HTML. */
export interface Post {
  slug: string;
  meta: PostMeta;
  sections: PostSection[];
  /** Set for the posts of a `perNotebook` export. */
  series?: SeriesLinks;
  /** The project's repository (notebooks and package), linked at the end of the post. */
  repository: string;
  /** What each part showed, at the end of the one long post and of a series' last post. */
  recap?: RecapEntry[];
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

  /** Names the image; an SVG is sanitised here and, when it names itself (title, aria-label), that is its alt text. */
  image(mime: ImageAsset['mime'], data: string, alt: () => string): ImageAsset {
    this.#count += 1;
    const ext = mime === 'image/svg+xml' ? 'svg' : BITMAP_EXTENSIONS[mime];
    const name = `${this.slug}-${this.#count}.${ext}`;
    if (mime !== 'image/svg+xml') {
      return { name, mime, data: data.replace(/\s+/g, ''), alt: alt(), styled: false };
    }
    const { svg, styled, label } = sanitizeSvgImage(data);
    return { name, mime, data: svg, alt: label ?? alt(), styled };
  }
}

function describeImage(bundle: MimeBundle, n: number): string {
  const plain = bundleText(bundle, 'text/plain')?.trim();
  // Kernels put a repr like "<Figure size 640x480>" in text/plain; that is not a description.
  const usefulPlain =
    plain && !plain.includes('\n') && !(plain.startsWith('<') && plain.endsWith('>')) && plain.length <= 120
      ? plain
      : undefined;
  return usefulPlain ?? `Figure ${n}`;
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
      const n = figureCount();
      return { kind: 'image', image: assets.image(mime, data, () => describeImage(bundle, n)) };
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

/** A language name fit for a code fence's info string and a highlighter: letters, digits and `+#._-` only. */
const LANGUAGE_NAME = /^[a-z0-9][a-z0-9+#._-]{0,39}$/;

function notebookLanguage(notebook: Notebook): string {
  const name = (
    notebook.metadata.language_info?.name ??
    notebook.metadata.kernelspec?.language ??
    'typescript'
  )
    .toString()
    .toLowerCase();
  // Anything else (a backtick, a space, markup) could end the fence or inject an attribute: show plain text.
  if (!LANGUAGE_NAME.test(name)) return 'text';
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
      if (mime)
        attachments.set(
          name,
          assets.image(mime, bundleText(bundle, mime)!, () => name),
        );
    }
    return source.trim() === '' ? undefined : { kind: 'markdown', source, attachments, trusted: true };
  }
  if (cell.cell_type === 'raw') {
    const type = (cell.metadata.raw_mimetype ?? cell.metadata.format ?? '').toString().toLowerCase();
    if (type === 'text/markdown') return { kind: 'markdown', source, attachments: new Map(), trusted: false };
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

/**
 * How many levels a post's Markdown headings move down so that the title is the post's one H1 and no level is skipped:
 * one when a notebook heading is an H1 (other than an opening H1 that repeats the title, which is dropped), else none.
 */
export function headingShift(post: Post): 0 | 1 {
  let first = true;
  for (const section of post.sections) {
    for (const block of section.blocks) {
      if (block.kind !== 'markdown') continue;
      for (const token of new Lexer().lex(block.source)) {
        if (token.type !== 'heading') continue;
        const repeatsTitle = first && token.depth === 1 && token.text.trim() === post.meta.title;
        first = false;
        if (token.depth === 1 && !repeatsTitle) return 1;
      }
    }
  }
  return 0;
}

/** Formats a date as YYYY-MM-DD in UTC, so the same file gives the same date on every machine. */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** `metadata.async_batching` as the walkthrough notebooks write it. */
interface OwnMetadata {
  title?: unknown;
  description?: unknown;
  tags?: unknown;
  date?: unknown;
  author?: unknown;
  original?: unknown;
  canonical?: unknown;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `metadata.async_batching.original`: the post this one is a second edition of. */
function originalPost(value: unknown, fail: (field: string, expected: string) => never): OriginalPost {
  const o = value as Record<string, unknown>;
  const text = (v: unknown) => typeof v === 'string' && v.trim() !== '';
  if (typeof o !== 'object' || o === null || !text(o.title) || !text(o.author) || !text(o.url)) {
    fail('original', 'an object with string title, author and url');
  }
  if (!/^https?:\/\//.test(o.url as string)) fail('original.url', 'an http(s) URL');
  if (o.date !== undefined && !(typeof o.date === 'string' && DAY.test(o.date))) {
    fail('original.date', 'a date like 2008-06-20');
  }
  return {
    title: o.title as string,
    author: o.author as string,
    url: o.url as string,
    ...(o.date !== undefined ? { date: o.date as string } : {}),
  };
}

function ownMeta(input: NotebookInput): {
  title?: string;
  description?: string;
  tags?: string[];
  date?: string;
  author?: string;
  original?: OriginalPost;
  canonical?: string;
} {
  const { metadata } = input.notebook;
  const own = metadata.async_batching as OwnMetadata | undefined;
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
  const optionalString = (field: 'author' | 'canonical'): string | undefined => {
    const value = own?.[field];
    if (value !== undefined && (typeof value !== 'string' || value.trim() === ''))
      fail(field, 'a non-empty string');
    return value as string | undefined;
  };
  const author = optionalString('author');
  const canonical = optionalString('canonical');
  if (canonical !== undefined && !/^https?:\/\//.test(canonical)) fail('canonical', 'an http(s) URL');
  const original = own?.original === undefined ? undefined : originalPost(own.original, fail);
  return {
    title: title as string | undefined,
    description: own?.description as string | undefined,
    tags: own?.tags as string[] | undefined,
    date,
    author,
    original,
    canonical,
  };
}

/** The optional keys, only when present, so front matter lists no empty ones. */
function provenance(own: ReturnType<typeof ownMeta>): Pick<PostMeta, 'author' | 'original' | 'canonical'> {
  return {
    ...(own.author !== undefined ? { author: own.author } : {}),
    ...(own.original !== undefined ? { original: own.original } : {}),
    ...(own.canonical !== undefined ? { canonical: own.canonical } : {}),
  };
}

function dateOf(input: NotebookInput): string {
  return ownMeta(input).date ?? isoDay(input.modified);
}

/** At most {@link MAX_TAGS} tags: the most often named first, ties in the order they first appear. */
export function pickTags(lists: readonly (readonly string[])[]): string[] {
  const counts = new Map<string, number>();
  for (const list of lists) for (const tag of new Set(list)) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  const order = [...counts.keys()];
  return order
    .sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || order.indexOf(a) - order.indexOf(b))
    .slice(0, MAX_TAGS);
}

/** Front matter for a post made of one notebook: its metadata, else its first heading and paragraph. */
export function notebookMeta(input: NotebookInput): PostMeta {
  const own = ownMeta(input);
  const summary = markdownSummary(input.notebook);
  return {
    title: own.title?.trim() || summary.heading || notebookStem(input.file),
    date: dateOf(input),
    description: own.description?.trim() || (summary.paragraph ? truncate(summary.paragraph, 200) : ''),
    tags: own.tags && own.tags.length > 0 ? pickTags([own.tags]) : [...DEFAULT_TAGS],
    ...provenance(own),
  };
}

/** Front matter for the post that gathers several notebooks: the default title, the newest date, all their tags. */
export function combinedMeta(inputs: readonly NotebookInput[]): PostMeta {
  const tags = pickTags(inputs.map((input) => ownMeta(input).tags ?? []));
  const dates = inputs.map(dateOf).sort();
  // The first notebook that names an author or an original speaks for the whole post; a canonical URL is one
  // notebook's own and does not carry over.
  const owns = inputs.map(ownMeta);
  const first = <K extends 'author' | 'original'>(key: K) =>
    owns.find((own) => own[key] !== undefined)?.[key];
  return {
    title: DEFAULT_TITLE,
    date: dates[dates.length - 1],
    description: DEFAULT_DESCRIPTION,
    tags: tags.length > 0 ? tags : [...DEFAULT_TAGS],
    ...provenance({ author: first('author'), original: first('original') }),
  };
}

function buildPost(slug: string, meta: PostMeta, inputs: readonly NotebookInput[], repository: string): Post {
  const assets = new AssetNamer(slug);
  let figures = 0;
  const figureCount = () => {
    figures += 1;
    return figures;
  };
  return { slug, meta, sections: inputs.map((input) => sectionOf(input, assets, figureCount)), repository };
}

/** Options for {@link buildPosts}. */
export interface BuildOptions {
  /** One post per notebook (slug from the file name) instead of one post for all. */
  perNotebook?: boolean;
  /** The project's repository; default {@link DEFAULT_REPOSITORY}. */
  repository?: string;
}

/**
 * Builds the posts for a list of notebooks, in the order given: by default one post titled {@link DEFAULT_TITLE}
 * with slug {@link DEFAULT_SLUG}; with `perNotebook`, one post per notebook.
 *
 * @throws RangeError when `inputs` is empty; {@link NotebookFormatError} when notebook metadata has the wrong shape
 */
export function buildPosts(inputs: readonly NotebookInput[], options: BuildOptions = {}): Post[] {
  if (inputs.length === 0) throw new RangeError('Expected `inputs` to hold at least one notebook, got none');
  const repository = options.repository ?? DEFAULT_REPOSITORY;
  if (!/^https?:\/\/[^\s<>"]+$/.test(repository)) {
    throw new RangeError(`Expected \`repository\` to be an http(s) URL, got ${JSON.stringify(repository)}`);
  }
  const metas = inputs.map(notebookMeta);
  if (!options.perNotebook) {
    const post = buildPost(DEFAULT_SLUG, combinedMeta(inputs), inputs, repository);
    if (inputs.length > 1)
      post.recap = metas.map((meta) => ({ title: meta.title, description: meta.description }));
    return [post];
  }
  const slugs = new Set<string>();
  const posts = inputs.map((input, i) => {
    const slug = slugify(notebookStem(input.file)) || 'notebook';
    if (slugs.has(slug)) {
      throw new RangeError(
        `Expected notebook file names to give distinct slugs, but "${slug}" repeats (${input.file})`,
      );
    }
    slugs.add(slug);
    return buildPost(slug, metas[i], [input], repository);
  });
  posts.forEach((post, i) => {
    const neighbour = (other: Post | undefined) => other && { slug: other.slug, title: other.meta.title };
    post.series = {
      position: i + 1,
      total: posts.length,
      previous: neighbour(posts[i - 1]),
      next: neighbour(posts[i + 1]),
    };
  });
  const last = posts[posts.length - 1];
  if (posts.length > 1) {
    last.recap = posts.map((post) => ({
      title: post.meta.title,
      description: post.meta.description,
      slug: post.slug,
    }));
  }
  return posts;
}
