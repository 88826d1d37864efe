/**
 * The exporter as a pure function: parsed notebooks in, the files of the blog post(s) out. The CLI (`tools/export.ts`)
 * does all reading and writing.
 */
import type { Highlight } from './highlight.ts';
import { renderHtml } from './html.ts';
import type { OutputFile } from './markdown.ts';
import { renderMarkdown } from './markdown.ts';
import type { NotebookInput } from './post.ts';
import { buildPosts } from './post.ts';

export { NotebookFormatError, parseNotebook } from '../nbformat/index.ts';
export type { Highlight } from './highlight.ts';
export { createHighlight } from './highlight.ts';
export { renderHtml } from './html.ts';
export type { OutputFile } from './markdown.ts';
export { ASSETS_DIR, frontMatter, renderMarkdown } from './markdown.ts';
export type { NotebookInput, Post, PostMeta } from './post.ts';
export { buildPosts, DEFAULT_SLUG, DEFAULT_TITLE } from './post.ts';

/** An output format of the exporter. */
export type Format = 'md' | 'html';

/** Options for {@link exportNotebooks}. */
export interface ExportOptions {
  /** Which formats to write; at least one. */
  formats: readonly Format[];
  /** One post per notebook instead of one post for all. */
  perNotebook?: boolean;
  /** Needed when `formats` includes `html` (create it once with `createHighlight()`). */
  highlight?: Highlight;
}

/**
 * Converts notebooks into blog post files (paths relative to the output folder): `<slug>.md` with its images under
 * `assets/`, and/or a self-contained `<slug>.html`.
 *
 * @throws RangeError when `formats` is empty or `inputs` is; TypeError when HTML is asked for without `highlight`;
 *   `NotebookFormatError` for notebook metadata of the wrong shape
 */
export function exportNotebooks(inputs: readonly NotebookInput[], options: ExportOptions): OutputFile[] {
  if (options.formats.length === 0)
    throw new RangeError('Expected `formats` to name md and/or html, got none');
  if (options.formats.includes('html') && !options.highlight) {
    throw new TypeError('Expected `highlight` (from createHighlight()) when `formats` includes html');
  }
  const files: OutputFile[] = [];
  for (const post of buildPosts(inputs, { perNotebook: options.perNotebook })) {
    if (options.formats.includes('md')) files.push(...renderMarkdown(post));
    if (options.formats.includes('html')) files.push(renderHtml(post, options.highlight!));
  }
  return files;
}
