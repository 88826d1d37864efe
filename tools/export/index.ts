/**
 * The exporter as a pure function: parsed notebooks in, the files of the blog post(s) out. The command line (`cli.ts`,
 * run by `tools/export.ts`) does all reading and writing.
 */
import type { Highlight } from './highlight.ts';
import { renderHtml, renderHtmlIndex } from './html.ts';
import type { OutputFile, Target } from './markdown.ts';
import { renderMarkdown, renderMarkdownIndex } from './markdown.ts';
import type { NotebookInput } from './post.ts';
import { buildPosts } from './post.ts';

export { NotebookFormatError, parseNotebook } from '../nbformat/index.ts';
export type { Highlight } from './highlight.ts';
export { createHighlight } from './highlight.ts';
export { renderHtml, renderHtmlIndex } from './html.ts';
export type { MarkdownOptions, OutputFile, Target } from './markdown.ts';
export { ASSETS_DIR, frontMatter, renderMarkdown, renderMarkdownIndex } from './markdown.ts';
export type { NotebookInput, Post, PostMeta } from './post.ts';
export { buildPosts, DEFAULT_REPOSITORY, DEFAULT_SLUG, DEFAULT_TITLE, MAX_TAGS } from './post.ts';

/** An output format of the exporter. */
export type Format = 'md' | 'html';

/** Options for {@link exportNotebooks}. */
export interface ExportOptions {
  /** Which formats to write; at least one. */
  formats: readonly Format[];
  /**
   * One post per notebook (a series with an index) instead of one post for all. Default: a series for the `jekyll`
   * and `hugo` targets, one post for `plain`.
   */
  perNotebook?: boolean;
  /** Needed when `formats` includes `html` (create it once with `createHighlight()`). */
  highlight?: Highlight;
  /** The blog engine the Markdown is laid out for; default `plain`. */
  target?: Target;
  /** Jekyll: the site's base URL for image and post links; default `/`. */
  baseUrl?: string;
  /** Keep raw HTML in the author's Markdown cells as written; default false (sanitised). */
  trustMarkdown?: boolean;
  /** The project's repository, linked from every post; default {@link DEFAULT_REPOSITORY}. */
  repository?: string;
}

/** Where the self-contained HTML pages go: beside the Markdown (plain), or where the site copies them as they are. */
const HTML_DIRS: Record<Target, string> = { plain: '', jekyll: 'standalone/', hugo: 'static/standalone/' };

const TARGETS: readonly Target[] = ['plain', 'jekyll', 'hugo'];

/**
 * Converts notebooks into blog post files (paths relative to the output folder): for the `plain` target `<slug>.md`
 * with its images under `assets/` and/or a self-contained `<slug>.html`; for `jekyll` and `hugo` a tree that mirrors
 * the site (see `renderMarkdown`). With `perNotebook`, each post links to its neighbours and an index page lists them.
 *
 * @throws RangeError when `formats` is empty, `inputs` is, or `target` is unknown; TypeError when HTML is asked for without `highlight`;
 *   `NotebookFormatError` for notebook metadata of the wrong shape
 */
export function exportNotebooks(inputs: readonly NotebookInput[], options: ExportOptions): OutputFile[] {
  if (options.formats.length === 0)
    throw new RangeError('Expected `formats` to name md and/or html, got none');
  if (options.formats.includes('html') && !options.highlight) {
    throw new TypeError('Expected `highlight` (from createHighlight()) when `formats` includes html');
  }
  const target = options.target ?? 'plain';
  if (!TARGETS.includes(target)) {
    throw new RangeError(
      `Expected \`target\` to be one of ${TARGETS.join(', ')}, got ${JSON.stringify(target)}`,
    );
  }
  const perNotebook = options.perNotebook ?? target !== 'plain';
  const markdown = { target, baseUrl: options.baseUrl, trustMarkdown: options.trustMarkdown };
  const inHtmlDir = (file: OutputFile): OutputFile => ({ ...file, path: `${HTML_DIRS[target]}${file.path}` });
  const files: OutputFile[] = [];
  const posts = buildPosts(inputs, { perNotebook, repository: options.repository });
  for (const post of posts) {
    if (options.formats.includes('md')) files.push(...renderMarkdown(post, markdown));
    if (options.formats.includes('html')) files.push(inHtmlDir(renderHtml(post, options.highlight!)));
  }
  if (perNotebook) {
    if (options.formats.includes('md')) files.push(renderMarkdownIndex(posts, markdown));
    if (options.formats.includes('html')) files.push(inHtmlDir(renderHtmlIndex(posts)));
  }
  return files;
}
