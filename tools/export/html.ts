/**
 * Writes a post as one self-contained HTML page: inline CSS, images inlined (sanitised SVG or data: URIs), code
 * highlighted by shiki in a light and a dark theme, a table of contents, and no script at all. A Content-Security-Policy
 * forbids script and every fetch, as a second line of defence behind the sanitiser.
 */

import type { Token, Tokens } from 'marked';
import { Marked } from 'marked';
import type { Highlight } from './highlight.ts';
import type { OutputFile } from './markdown.ts';
import type { Block, ImageAsset, OutputBlock, Post, Visibility } from './post.ts';
import {
  DEFAULT_DESCRIPTION,
  DEFAULT_REPOSITORY,
  DEFAULT_TITLE,
  headingShift,
  legibleWidth,
} from './post.ts';
import { sanitizeFragment } from './sanitize.ts';
import { PAGE_CSS } from './style.ts';
import { AnchorSet, escapeHtml } from './text.ts';

/** The page must not run script or fetch anything, whatever slipped through. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

interface TocEntry {
  depth: number;
  text: string;
  id: string;
}

function plainText(tokens: Token[] | undefined): string {
  return (tokens ?? [])
    .map((token) => {
      if ('tokens' in token && Array.isArray(token.tokens)) return plainText(token.tokens);
      return 'text' in token ? String(token.text) : '';
    })
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Renders Markdown for one page: anchors are unique across it, and headings shift down a level under the page title. */
class MarkdownRenderer {
  readonly toc: TocEntry[] = [];
  readonly #anchors = new AnchorSet();
  readonly #highlight: Highlight;
  readonly #pageTitle: string;
  readonly #shift: number;
  #seenHeading = false;

  constructor(highlight: Highlight, pageTitle: string, shift: number) {
    this.#highlight = highlight;
    this.#pageTitle = pageTitle;
    this.#shift = shift;
  }

  /** Reserves an id (for a section) so no heading takes it. */
  anchor(text: string): string {
    return this.#anchors.take(text);
  }

  render(source: string, options: { contents: boolean }): string {
    const slots: string[] = [];
    const marked = new Marked({ gfm: true });
    const self = this;
    marked.use({
      renderer: {
        heading(this: { parser: { parseInline(tokens: Token[]): string } }, token: Tokens.Heading): string {
          const text = plainText(token.tokens);
          const first = !self.#seenHeading;
          self.#seenHeading = true;
          // The page header already shows the title; a notebook that opens by repeating it would say it twice.
          if (first && token.depth === 1 && text === self.#pageTitle) return '';
          const id = self.#anchors.take(text);
          if (options.contents) self.toc.push({ depth: token.depth, text, id });
          const level = Math.min(6, token.depth + self.#shift);
          return `<h${level} id="${id}">${this.parser.parseInline(token.tokens)}</h${level}>\n`;
        },
        code(token: Tokens.Code): string {
          const language = (token.lang ?? '').trim().split(/\s+/)[0] || 'text';
          slots.push(self.#highlight(token.text, language));
          return `<pre class="shiki-slot-${slots.length - 1}"></pre>\n`;
        },
      },
    });
    const html = sanitizeFragment(marked.parse(source, { async: false }));
    // Highlighted code is ours (shiki escapes it) and would lose its colours in the sanitiser, so it goes in after.
    return html.replace(
      /<pre class="shiki-slot-(\d+)"><\/pre>/g,
      (_slot, n: string) => slots[Number(n)] ?? '',
    );
  }
}

function dataUri(image: ImageAsset): string {
  const base64 = image.mime === 'image/svg+xml' ? Buffer.from(image.data).toString('base64') : image.data;
  return `data:${image.mime};base64,${base64}`;
}

/** An inline chart is `role="img"` (set by the sanitiser); it gets the alt text as its name unless it names itself. */
function inlineSvg(image: ImageAsset): string {
  const open = image.data.slice(0, image.data.indexOf('>'));
  if (!image.data.startsWith('<svg') || open.includes(' aria-label=')) return image.data;
  return `<svg aria-label="${escapeHtml(image.alt)}"${image.data.slice(4)}`;
}

function imageHtml(image: ImageAsset): string {
  const min = legibleWidth(image);
  const style = min === undefined ? '' : ` style="min-width: ${min}px"`;
  const inner =
    image.mime === 'image/svg+xml' && !image.styled
      ? inlineSvg(image).replace(/^<svg/, `<svg${style}`)
      : `<img src="${escapeHtml(dataUri(image))}" alt="${escapeHtml(image.alt)}"${style}>`;
  return `<div class="figure" tabindex="0">${inner}</div>`;
}

function output(kind: string, label: string, body: string): string {
  return `<div class="output output-${kind}"><div class="output-label">${escapeHtml(label)}</div>${body}</div>`;
}

function outputHtml(block: OutputBlock, markdown: MarkdownRenderer): string {
  switch (block.kind) {
    case 'text': {
      const label =
        block.stream === 'stderr' ? 'stderr' : block.executionCount ? `Out [${block.executionCount}]` : 'Out';
      const kind = block.stream === 'result' ? 'text' : block.stream;
      return output(kind, label, `<pre tabindex="0">${escapeHtml(block.text.replace(/\n+$/, ''))}</pre>`);
    }
    case 'error':
      return output(
        'error',
        'Error',
        `<pre tabindex="0">${escapeHtml(block.text.replace(/\n+$/, ''))}</pre>`,
      );
    case 'image':
      return output('image', 'Out', imageHtml(block.image));
    case 'html':
      return output('html', 'Out', sanitizeFragment(block.html));
    case 'markdown':
      return output('html', 'Out', markdown.render(block.source, { contents: false }));
  }
}

function collapsible(visibility: Visibility, summary: string, className: string, body: string): string {
  if (visibility === 'hide') {
    return `<details class="collapsed ${className}"><summary>${summary}</summary>${body}</details>`;
  }
  return `<div class="${className}">${body}</div>`;
}

function resolveAttachments(source: string, attachments: Map<string, ImageAsset>): string {
  let text = source;
  for (const [name, image] of attachments) text = text.replaceAll(`attachment:${name}`, dataUri(image));
  return text;
}

function blockHtml(block: Block, markdown: MarkdownRenderer, highlight: Highlight): string {
  switch (block.kind) {
    case 'markdown':
      return `<div class="markdown">${markdown.render(resolveAttachments(block.source, block.attachments), { contents: true })}</div>`;
    case 'html':
      return `<div class="markdown">${sanitizeFragment(block.html)}</div>`;
    case 'code': {
      const parts: string[] = [];
      if (block.input !== 'remove') {
        parts.push(
          collapsible(block.input, 'Show code', 'cell-input', highlight(block.source, block.language)),
        );
      }
      if (block.outputs.length > 0) {
        const outputs = block.outputs.map((out) => outputHtml(out, markdown)).join('');
        parts.push(collapsible(block.output, 'Show output', 'cell-outputs', outputs));
      }
      return `<div class="cell">${parts.join('')}</div>`;
    }
  }
}

function tocHtml(entries: readonly TocEntry[]): string {
  const shown = entries.filter((entry) => entry.depth <= 2);
  if (shown.length < 2) return '';
  const top = Math.min(...shown.map((entry) => entry.depth));
  let html = '';
  let open = false;
  for (const entry of shown) {
    const link = `<a href="#${entry.id}">${escapeHtml(entry.text)}</a>`;
    if (entry.depth === top) {
      if (open) html += '</ol></li>';
      else if (html !== '') html += '</li>';
      open = false;
      html += `<li>${link}`;
    } else {
      if (!open) html += '<ol>';
      open = true;
      html += `<li>${link}</li>`;
    }
  }
  html += open ? '</ol></li>' : '</li>';
  return `<nav class="toc" aria-label="Contents"><details open><summary>Contents</summary><ol>${html}</ol></details></nav>`;
}

function originalHtml(post: Post): string {
  const original = post.meta.original;
  if (!original || !/^https?:\/\//.test(original.url)) return '';
  const when = original.date ? ` (${escapeHtml(original.date.slice(0, 4))})` : '';
  return `<p class="original">After <a href="${escapeHtml(original.url)}">${escapeHtml(original.title)}</a> by ${escapeHtml(original.author)}${when}.</p>`;
}

function seriesHtml(post: Post): string {
  const series = post.series;
  if (!series) return '';
  const link = (slug: string, text: string, rel: string) =>
    `<a href="${escapeHtml(slug)}.html" rel="${rel}">${escapeHtml(text)}</a>`;
  const parts = [
    `<li>Part ${series.position} of ${series.total} of <a href="index.html">${escapeHtml(DEFAULT_TITLE)}</a></li>`,
  ];
  if (series.previous)
    parts.push(`<li>Previous: ${link(series.previous.slug, series.previous.title, 'prev')}</li>`);
  if (series.next) parts.push(`<li>Next: ${link(series.next.slug, series.next.title, 'next')}</li>`);
  return `<nav class="series" aria-label="Series"><ul>${parts.join('')}</ul></nav>`;
}

/** What each part showed: linked to its page in a series, to its section on the one long page. */
function recapHtml(post: Post, sectionIds: readonly string[], markdown: MarkdownRenderer): string {
  const recap = post.recap;
  if (!recap) return '';
  const id = markdown.anchor('recap');
  markdown.toc.push({ depth: 1, text: 'Recap', id });
  const items = recap
    .map((entry, i) => {
      const href = entry.slug ? `${entry.slug}.html` : `#${sectionIds[i] ?? ''}`;
      const about = entry.description ? `: ${escapeHtml(entry.description)}` : '';
      return `<li><a href="${escapeHtml(href)}">${escapeHtml(entry.title)}</a>${about}</li>`;
    })
    .join('');
  return `<section class="recap" aria-labelledby="${id}"><h2 id="${id}">Recap</h2><ol>${items}</ol></section>\n`;
}

/** Where the notebooks and the package live. */
function repositoryHtml(repository: string): string {
  const url = escapeHtml(repository);
  return `The notebooks and the async-batching package: <a href="${url}">${url}</a>.`;
}

interface PageParts {
  title: string;
  description: string;
  header: string;
  toc: string;
  main: string;
  footer: string;
}

/** The page around a post or an index: one H1 (the title), landmarks for every part, the inline style sheet. */
function page(parts: PageParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">
<meta name="color-scheme" content="light dark">
<meta name="description" content="${escapeHtml(parts.description)}">
<title>${escapeHtml(parts.title)}</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<div class="page">
<header class="post-header">
<h1>${escapeHtml(parts.title)}</h1>
${parts.header}
</header>
${parts.toc}
<main>
${parts.main}
</main>
<footer class="post-footer">${parts.footer}</footer>
</div>
</body>
</html>
`;
}

/** The index page of a series: every post, in order, linked to its page. */
export function renderHtmlIndex(posts: readonly Post[]): OutputFile {
  const items = posts
    .map(
      (post) =>
        `<li><a href="${escapeHtml(post.slug)}.html">${escapeHtml(post.meta.title)}</a>${
          post.meta.description ? `<p>${escapeHtml(post.meta.description)}</p>` : ''
        }</li>`,
    )
    .join('\n');
  const html = page({
    title: DEFAULT_TITLE,
    description: DEFAULT_DESCRIPTION,
    header: `<p class="lede">${escapeHtml(DEFAULT_DESCRIPTION)}</p>${posts[0] ? originalHtml(posts[0]) : ''}`,
    toc: '',
    main: `<article><ol class="series-index">\n${items}\n</ol></article>`,
    footer: repositoryHtml(posts[0]?.repository ?? DEFAULT_REPOSITORY),
  });
  return { path: 'index.html', content: html };
}

/**
 * Renders a post as `<slug>.html`, a page that needs nothing else: no script, no fonts, no network.
 * Pure given `highlight`: the same post always gives the same page.
 */
export function renderHtml(post: Post, highlight: Highlight): OutputFile {
  const markdown = new MarkdownRenderer(highlight, post.meta.title, headingShift(post));
  const ids: string[] = [];
  const sections = post.sections.map((section) => {
    const id = markdown.anchor(`notebook-${section.id}`);
    ids.push(id);
    const body = section.blocks.map((block) => blockHtml(block, markdown, highlight)).join('\n');
    return `<section class="notebook" id="${id}">\n${body}\n</section>`;
  });
  const recap = recapHtml(post, ids, markdown);
  const { title, date, description, tags } = post.meta;
  const html = page({
    title,
    description,
    header: `<div class="post-meta"><time datetime="${escapeHtml(date)}">${escapeHtml(date)}</time>${
      post.meta.author ? `<span class="author">${escapeHtml(post.meta.author)}</span>` : ''
    }${
      tags.length > 0
        ? `<ul class="tags">${tags.map((tag) => `<li>${escapeHtml(tag)}</li>`).join('')}</ul>`
        : ''
    }</div>
${description ? `<p class="lede">${escapeHtml(description)}</p>` : ''}${originalHtml(post)}`,
    toc: tocHtml(markdown.toc),
    main: `<article>\n${sections.join('\n')}\n${recap}</article>\n${seriesHtml(post)}`,
    footer: repositoryHtml(post.repository),
  });
  return { path: `${post.slug}.html`, content: html };
}
