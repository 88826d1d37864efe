/**
 * Writes a post as Markdown with YAML front matter, laid out for a blog engine (`target`): plain CommonMark files,
 * a Jekyll site (`_posts/YYYY-MM-DD-slug.md`, images under `assets/`) or a Hugo site (a page bundle per post).
 *
 * The Markdown is as safe as the HTML page, and means the same to every engine: the author's Markdown cells are parsed
 * (marked) and written again from their tokens in one portable form, every text span escaped for Markdown and for the
 * target's template language, every fence closed (`portable.ts`); a block that holds raw HTML is rendered and
 * sanitised (unless `trustMarkdown`). Everything else (outputs, raw cells, `text/markdown` outputs) is rendered and
 * sanitised by the same sanitiser as the HTML page, or written as code. Notebook headings start at H2: the post's title
 * (front matter) is its one H1. `hide-*` tags leave content visible here (a collapsible block needs raw HTML, which Hugo drops by default);
 * `remove-*` tags remove it.
 */
import { dump } from 'js-yaml';
import type { Token, TokensList } from 'marked';
import { Lexer, Marked } from 'marked';
import { codeBlock, htmlBlock, inlineText, linkDestination, PortableWriter, safeHref } from './portable.ts';
import type { Block, ImageAsset, OutputBlock, Post, PostMeta } from './post.ts';
import {
  DEFAULT_DESCRIPTION,
  DEFAULT_SLUG,
  DEFAULT_TITLE,
  headingShift,
  legibleWidth,
  pickTags,
} from './post.ts';
import { escapeHtml } from './text.ts';

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
  /** Front matter keys the engine needs beyond the post's own, for a post or (`post` undefined) the series index. */
  extraFrontMatter(post: Post | undefined, meta: PostMeta): Record<string, unknown>;
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
      extraFrontMatter: (post, meta) => ({
        // The layouts of minima, the theme `jekyll new` sets up: a post with its header and date, the index a page.
        layout: post ? 'post' : 'page',
        permalink: post ? permalink(post.slug) : `/${DEFAULT_SLUG}/`,
        render_with_liquid: false,
        // minima prints the author as HTML (`{{ page.author }}`, unescaped), unlike the title; it gets the text.
        ...(meta.author !== undefined ? { author: escapeHtml(meta.author) } : {}),
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

/** Renders Markdown tokens to HTML with every heading `shift` levels down (the post's title is its only H1). */
function renderDemoted(
  tokens: Token[],
  links: TokensList['links'],
  shift: number,
  attachmentUrl: (name: string) => string | undefined = () => undefined,
): string {
  const marked = new Marked({ gfm: true });
  const list = Object.assign([...tokens], { links }) as TokensList;
  marked.walkTokens(list, (token) => {
    if (token.type === 'heading') token.depth = Math.min(6, token.depth + shift);
    if (token.type === 'image' && token.href.startsWith('attachment:')) {
      token.href = attachmentUrl(token.href.slice('attachment:'.length)) ?? token.href;
    }
  });
  return marked.parser(list);
}

/** Markdown that code wrote (an output, a raw cell): rendered and sanitised as a whole, as the HTML page does. */
function untrustedMarkdown(source: string): string {
  const tokens = new Lexer({ gfm: true }).lex(source.replace(/\r\n?/g, '\n'));
  return htmlBlock(renderDemoted(tokens, tokens.links, 1), 'nb-output');
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
    const markdown = `![${inlineText(image.alt)}](${linkDestination(this.#layout.assetUrl(this.#post, image))})`;
    const min = legibleWidth(image);
    if (this.#options.target !== 'jekyll' || min === undefined) return markdown;
    // kramdown attribute lists: the chart keeps a legible width and its paragraph scrolls on a narrow screen.
    return `${markdown}{: style="min-width: ${min}px; max-width: none"}\n{: style="overflow-x: auto" tabindex="0"}`;
  }

  code(text: string, language: string): string {
    return codeBlock(text, language, this.#options.target ?? 'plain');
  }

  output(output: OutputBlock): string {
    switch (output.kind) {
      case 'text':
      case 'error':
        return this.code(output.text, 'text');
      case 'image':
        return this.image(output.image);
      case 'html':
        return htmlBlock(output.html, 'nb-output');
      case 'markdown':
        return untrustedMarkdown(output.source);
    }
  }

  /** An author's Markdown cell, written again from its tokens (see `portable.ts`). */
  markdown(source: string, attachments: Map<string, ImageAsset>): string {
    const tokens = new Lexer({ gfm: true }).lex(source.replace(/\r\n?/g, '\n'));
    const attachmentUrl = (name: string) => {
      const image = attachments.get(name);
      return image && this.#layout.assetUrl(this.#post, image);
    };
    const title = this.#post.meta.title;
    const first = this.#firstHeading;
    const writer = new PortableWriter({
      dialect: this.#options.target ?? 'plain',
      trustHtml: this.#options.trustMarkdown === true,
      headingShift: this.#shift,
      // The front matter carries the title; a notebook that opens by repeating it would say it twice.
      keepHeading: (heading) => {
        const isFirst = !first.seen;
        first.seen = true;
        return !(isFirst && heading.depth === 1 && heading.text.trim() === title);
      },
      renderHtml: (list) => renderDemoted(list, tokens.links, this.#shift, attachmentUrl),
      attachmentUrl,
    });
    return writer.write(tokens);
  }

  block(block: Block): string[] {
    switch (block.kind) {
      case 'markdown': {
        if (!block.trusted) {
          let source = block.source;
          for (const [name, image] of block.attachments) {
            source = source.replaceAll(`attachment:${name}`, this.#layout.assetUrl(this.#post, image));
          }
          return [untrustedMarkdown(source)];
        }
        return [this.markdown(block.source, block.attachments)];
      }
      case 'html':
        return [htmlBlock(block.html, 'nb-markdown')];
      case 'code': {
        const parts: string[] = [];
        if (block.input !== 'remove')
          parts.push(this.code(block.source, FENCE_LANGUAGES[block.language] ?? block.language));
        parts.push(...block.outputs.map((output) => this.output(output)));
        return parts;
      }
    }
  }

  /** The post's opening line, always ours: the part of the series, or the post it retells, or its description. */
  opening(): string {
    const series = this.#post.series;
    const link = (text: string, url: string) => `[${inlineText(text)}](${linkDestination(url)})`;
    const parts: string[] = [];
    if (series) {
      parts.push(
        `Part ${series.position} of ${series.total} of ${link(DEFAULT_TITLE, this.#layout.indexUrl)}.`,
      );
    }
    const original = this.#post.meta.original;
    if (original && safeHref(original.url)) {
      const when = original.date ? ` (${original.date.slice(0, 4)})` : '';
      parts.push(`After ${link(original.title, original.url)} by ${inlineText(original.author)}${when}.`);
    }
    if (parts.length === 0 && this.#post.meta.description)
      parts.push(inlineText(this.#post.meta.description));
    return parts.length > 0 ? `*${parts.join(' ')}*` : '';
  }

  /** What each part showed, linked to its post in a series. */
  recap(): string {
    const recap = this.#post.recap;
    if (!recap) return '';
    const items = recap.map((entry, i) => {
      const title = entry.slug
        ? `[${inlineText(entry.title)}](${linkDestination(this.#layout.postUrl(entry.slug, 'post'))})`
        : `**${inlineText(entry.title)}**`;
      return `${i + 1}. ${title}${entry.description ? `: ${inlineText(entry.description)}` : ''}`;
    });
    return `## Recap\n\n${items.join('\n')}`;
  }

  /** Previous and next links of a series post, and where the code is. */
  closing(): string {
    const series = this.#post.series;
    const link = (text: string, url: string) => `[${inlineText(text)}](${linkDestination(url)})`;
    const parts: string[] = [];
    if (series?.previous) {
      parts.push(
        `Previous: ${link(series.previous.title, this.#layout.postUrl(series.previous.slug, 'post'))}.`,
      );
    }
    if (series?.next)
      parts.push(`Next: ${link(series.next.title, this.#layout.postUrl(series.next.slug, 'post'))}.`);
    if (series) parts.push(`All parts: ${link(DEFAULT_TITLE, this.#layout.indexUrl)}.`);
    const code = `The notebooks and the async-batching package: ${link(this.#post.repository, this.#post.repository)}.`;
    return [parts.join(' '), code].filter((part) => part !== '').join('\n\n');
  }

  write(): string {
    const body = [
      this.opening(),
      ...this.#post.sections.flatMap((section) => section.blocks.flatMap((block) => this.block(block))),
      this.recap(),
      this.closing(),
    ]
      .filter((part) => part !== '')
      .join('\n\n');
    const front = frontMatter(this.#post.meta, this.#layout.extraFrontMatter(this.#post, this.#post.meta));
    return `${front}\n${body}\n`;
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
    tags: pickTags(posts.map((post) => post.meta.tags)),
    ...(first?.author !== undefined ? { author: first.author } : {}),
    ...(first?.original !== undefined ? { original: first.original } : {}),
  };
  const items = posts.map((post, i) => {
    const about = post.meta.description ? ` — ${inlineText(post.meta.description)}` : '';
    return `${i + 1}. [${inlineText(post.meta.title)}](${linkDestination(layout.postUrl(post.slug, 'index'))})${about}`;
  });
  const repository = posts[0]?.repository;
  const code = repository
    ? `\n\nThe notebooks and the async-batching package: [${inlineText(repository)}](${linkDestination(repository)}).`
    : '';
  const body = `${inlineText(DEFAULT_DESCRIPTION)}\n\n${items.join('\n')}${code}\n`;
  return {
    path: layout.indexPath,
    content: `${frontMatter(meta, layout.extraFrontMatter(undefined, meta))}\n${body}`,
  };
}
