/**
 * Portable Markdown: writes Markdown from the tokens of a CommonMark parser (marked) so that the engines a post is
 * published with (CommonMark/GFM renderers, Jekyll's kramdown behind Liquid, Hugo's goldmark behind its shortcode
 * lexer) all read it the way the author's notebook showed it, and none of them finds markup or template code that the
 * author wrote as text.
 *
 * Nothing of the source is passed through as written. Each block is written again in one conservative form that the
 * three engines agree on: ATX headings, `*`/`**`/`~~` spans, `-` and `1.` lists, `>` quotes, GFM tables, and code in
 * fences longer than any backtick run inside them, so every fence is closed wherever the source's was not. Every text
 * span is escaped for all of them at once: Markdown punctuation (kramdown's extensions `{:`, `{::…}`, `$$`, `|`
 * included) and the template languages' delimiters (`{{`, `{%` for Liquid; `{{<`, `{{%` for Hugo), which cannot form
 * once `{` is escaped. Code cannot be escaped, so for Hugo, whose shortcode lexer reads code too, code holding a
 * shortcode delimiter is written in Hugo's own comment form (`{{</* … *\/>}}`, shown as `{{< … >}}`) when that gives
 * back exactly the same text, and as an HTML `<pre>` with entities when it cannot (an unclosed `{{<`).
 *
 * Raw HTML is the one thing a Markdown cell can hold that is not rewritten here: a block that holds any (or a construct
 * this writer does not know) is rendered by marked and passed through the sanitiser as one HTML block, unless the
 * author's cells are trusted (`--trust-markdown`).
 */
import { decodeHTMLStrict } from 'entities';
import type { Token, Tokens } from 'marked';
import { sanitizeFragment } from './sanitize.ts';
import { escapeHtml, fence, longestRun } from './text.ts';

/** The engine that will read the Markdown: `plain` CommonMark/GFM, Jekyll (Liquid, kramdown) or Hugo (goldmark). */
export type Dialect = 'plain' | 'jekyll' | 'hugo';

/** How {@link PortableWriter} writes one cell. */
export interface PortableOptions {
  dialect: Dialect;
  /** Keep raw HTML as written instead of rendering and sanitising the block that holds it. */
  trustHtml: boolean;
  /** How many levels every heading moves down. */
  headingShift: number;
  /** Decides, for each top-level heading in turn, whether it is written (the post's title is not repeated). */
  keepHeading?: (heading: Tokens.Heading) => boolean;
  /** Renders tokens to HTML (marked, headings shifted); the writer sanitises the result. */
  renderHtml: (tokens: Token[]) => string;
  /** The URL of a cell attachment (`attachment:name`), or undefined when the cell has none by that name. */
  attachmentUrl?: (name: string) => string | undefined;
}

/** Deeper than this, a block is rendered and sanitised rather than written as Markdown (no deep recursion here). */
const MAX_DEPTH = 64;

// Escaped everywhere in text. Backslash escapes are ones CommonMark and kramdown both define; the rest are entities.
const TEXT_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '`': '\\`',
  '*': '\\*',
  _: '\\_',
  '[': '\\[',
  ']': '\\]',
  '{': '\\{',
  '}': '\\}',
  '|': '\\|',
  $: '\\$',
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  '~': '&#126;',
};
const TEXT_SPECIAL = /[\\`*_[\]{}|$<>&~]/g;
// In a heading a `#` could also close it.
const HEADING_SPECIAL = /[\\`*_[\]{}|$<>&~#]/g;

/**
 * Escapes plain text so that it is text to every engine: no Markdown, HTML, kramdown extension, Liquid tag or Hugo
 * shortcode can form from it. Newlines become spaces. `lineStart` also escapes what opens a block at the start of a
 * line (`#`, `-`, `+`, `=`, `:`, `^`, `1.`).
 */
export function escapeText(text: string, options: { lineStart?: boolean; heading?: boolean } = {}): string {
  let out = text
    .replace(/\s*\n\s*/g, ' ')
    .replace(options.heading ? HEADING_SPECIAL : TEXT_SPECIAL, (c) => TEXT_ESCAPES[c] ?? `\\${c}`)
    // A bare URL in text would be made a link by GFM engines, reaching over the escapes after it; the author's own
    // bare URLs are link tokens by now and written as links.
    .replace(/(https?|ftp):(?=\/\/)/gi, '$1\\:')
    .replace(/www\./gi, (w) => `${w.slice(0, 3)}\\.`);
  if (options.lineStart) {
    out = out
      .replace(/^[ \t]+/, '')
      .replace(/^([#+\-=:])/, '\\$1')
      .replace(/^\^/, '&#94;')
      .replace(/^(\d{1,9})([.)])/, '$1\\$2');
  }
  return out;
}

/** Text of a link label, image alt text or list entry: {@link escapeText} at the start of a line. */
export function inlineText(text: string): string {
  return escapeText(text.replace(/\s+/g, ' ').trim(), { lineStart: true });
}

// Links a browser would follow without running anything: web and mail URLs, and paths without a scheme. Entities,
// escapes and colons are not allowed in the rest, so `javascript&#58;` cannot pass as a path.
export function safeHref(href: string): boolean {
  if (/^(?:https?:\/\/|mailto:)[^\s\\<>"]*$/i.test(href)) return true;
  return !/[:&\\\s<>"]/.test(href);
}

/**
 * A link destination written so that no engine reads more into it: characters with a meaning to Markdown or a
 * template language are percent-encoded (which a browser reads as the same URL), `&` is written as an entity.
 */
export function linkDestination(url: string): string {
  return url
    .replace(/[^A-Za-z0-9\-._~:/?#@!$'+,;=%&]/g, (c) =>
      [...new TextEncoder().encode(c)]
        .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
        .join(''),
    )
    .replaceAll('&', '&amp;');
}

const HUGO_DELIMITER = /\{\{[<%]/;
const HUGO_SUMMARY = '<!--more-->';

/**
 * `text` written with each Hugo shortcode in Hugo's comment form, which Hugo shows as the text it stands for
 * (`{{</* x *\/>}}` is shown as `{{< x >}}`); `undefined` when the text has a delimiter that form cannot give back
 * (an opening `{{<` with no `>}}` after it).
 */
export function hugoCommentForm(text: string): string | undefined {
  let out = '';
  let from = 0;
  for (;;) {
    const rest = text.slice(from);
    const match = HUGO_DELIMITER.exec(rest);
    if (match === null) return out + rest;
    const start = from + match.index;
    const kind = text[start + 2];
    const close = kind === '<' ? '>}}' : '%}}';
    const end = text.indexOf(close, start + 3);
    if (end < 0) return undefined;
    out += `${text.slice(from, start)}{{${kind}/*${text.slice(start + 3, end)}*/${close}`;
    from = end + 3;
  }
}

/** Braces as entities: in HTML they read the same, and no Liquid tag or shortcode can form. */
export function entityBraces(html: string): string {
  return html.replaceAll('{', '&#123;').replaceAll('}', '&#125;');
}

/**
 * Sanitised HTML as one raw block that every engine keeps whole: braces as entities, no blank line inside (CommonMark
 * ends an HTML block at a blank line; a blank line in a `<pre>` is kept as `&#10;`).
 */
export function htmlBlock(html: string, className: string): string {
  const clean = entityBraces(sanitizeFragment(html).trim()).replace(/\n([ \t]*)(?=\n)/g, '&#10;$1');
  return clean === '' ? '' : `<div class="${className}">\n${clean}\n</div>`;
}

/** Code as an HTML `<pre>`: for Hugo when its comment form cannot carry the code's shortcode delimiters. */
function htmlCodeBlock(text: string, language: string): string {
  const lang = /^[\w+#.-]+$/.test(language) ? ` class="language-${language}"` : '';
  const body = entityBraces(escapeHtml(text.replace(/\n+$/, ''))).replace(/\n([ \t]*)(?=\n)/g, '&#10;$1');
  return `<pre><code${lang}>${body}</code></pre>`;
}

/** A fenced code block the dialect shows exactly as `text`, whatever the text holds. */
export function codeBlock(text: string, language: string, dialect: Dialect): string {
  if (dialect === 'hugo' && (HUGO_DELIMITER.test(text) || text.includes(HUGO_SUMMARY))) {
    const form = text.includes(HUGO_SUMMARY) ? undefined : hugoCommentForm(text);
    if (form === undefined) return htmlCodeBlock(text, language);
    return fence(form, language);
  }
  return fence(text, language);
}

/** An inline code span the dialect shows exactly as `text`. */
function codeSpan(text: string, dialect: Dialect, inTable: boolean): string {
  let code = text;
  if (dialect === 'hugo' && (HUGO_DELIMITER.test(code) || code.includes(HUGO_SUMMARY))) {
    const form = code.includes(HUGO_SUMMARY) ? undefined : hugoCommentForm(code);
    // Inline HTML: what is between the tags is still read as Markdown, so its punctuation goes as entities too.
    if (form === undefined)
      return `<code>${code.replace(/[\\`*_[\]{}|$~#!<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)}</code>`;
    code = form;
  }
  // In a GFM table a pipe ends the cell even inside code; `\|` is a pipe there.
  if (inTable) code = code.replaceAll('|', '\\|');
  const bar = '`'.repeat(longestRun(code, '`') + 1);
  const pad = /^[` ]|[` ]$/.test(code) ? ' ' : '';
  const span = `${bar}${pad}${code}${pad}${bar}`;
  // Themes (minima) do not break a long inline code span, which then widens a phone's page: kramdown lets it break.
  if (dialect === 'jekyll' && !inTable && /\S{25,}/.test(code))
    return `${span}{: style="overflow-wrap: anywhere"}`;
  return span;
}

function decode(text: string): string {
  return text.includes('&') ? decodeHTMLStrict(text) : text;
}

function plainText(tokens: readonly Token[] | undefined): string {
  return (tokens ?? [])
    .map((token) => {
      if ('tokens' in token && Array.isArray(token.tokens)) return plainText(token.tokens);
      if (token.type === 'br') return ' ';
      if (token.type === 'text' || token.type === 'escape') return decode(String(token.text));
      return 'text' in token ? String(token.text) : '';
    })
    .join('');
}

/** The plain text of a heading or paragraph's inline tokens, entities decoded. */
export function tokensText(tokens: readonly Token[] | undefined): string {
  return plainText(tokens).replace(/\s+/g, ' ').trim();
}

const KNOWN_BLOCKS = new Set([
  'space',
  'def',
  'paragraph',
  'text',
  'heading',
  'code',
  'blockquote',
  'list',
  'list_item',
  'table',
  'hr',
]);
const KNOWN_INLINE = new Set([
  'text',
  'escape',
  'strong',
  'em',
  'del',
  'codespan',
  'br',
  'link',
  'image',
  'checkbox',
]);

/** Lists in a row stay apart only if their markers differ: each one takes the other marker than the one before. */
class ListMarkers {
  #previous: { ordered: boolean; other: boolean } | undefined;

  /** Whether `list` takes the other marker (`*` or `1)` rather than `-` or `1.`). */
  next(list: Tokens.List): boolean {
    const other = this.#previous?.ordered === list.ordered && !this.#previous.other;
    this.#previous = { ordered: list.ordered, other };
    return other;
  }

  reset(): void {
    this.#previous = undefined;
  }
}

interface InlineState {
  lineStart: boolean;
  afterStar?: boolean;
  inTable: boolean;
  heading: boolean;
}

/** Writes the tokens of one Markdown cell as portable Markdown (see the module comment). */
export class PortableWriter {
  readonly #options: PortableOptions;

  constructor(options: PortableOptions) {
    this.#options = options;
  }

  /** Top-level blocks, separated by blank lines. */
  write(tokens: readonly Token[]): string {
    const parts: string[] = [];
    const lists = new ListMarkers();
    for (const token of tokens) {
      if (token.type === 'space' || token.type === 'def') continue;
      if (token.type === 'heading' && this.#options.keepHeading) {
        if (!this.#options.keepHeading(token as Tokens.Heading)) continue;
      }
      let text: string;
      if (this.#needsHtml(token)) text = this.#html(token);
      else if (token.type === 'list')
        text = this.#list(token as Tokens.List, 0, lists.next(token as Tokens.List));
      else text = this.#block(token, 0);
      if (token.type !== 'list' || text.startsWith('<')) lists.reset();
      if (text !== '') parts.push(text);
    }
    return parts.join('\n\n');
  }

  /** True when the block holds raw HTML (untrusted) or something this writer does not write, or nests too deep. */
  #needsHtml(root: Token): boolean {
    const stack: [Token, number][] = [[root, 0]];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      const [token, depth] = next;
      if (depth > MAX_DEPTH) return true;
      if (token.type === 'html') {
        if (!this.#options.trustHtml) return true;
        continue;
      }
      if (!KNOWN_BLOCKS.has(token.type) && !KNOWN_INLINE.has(token.type)) return true;
      const push = (children: readonly Token[]) => {
        for (const child of children) stack.push([child, depth + 1]);
      };
      if ('tokens' in token && Array.isArray(token.tokens)) push(token.tokens as Token[]);
      if (token.type === 'list') push((token as Tokens.List).items);
      if (token.type === 'table') {
        const table = token as Tokens.Table;
        for (const cell of table.header) push(cell.tokens);
        for (const row of table.rows) for (const cell of row) push(cell.tokens);
      }
    }
    return false;
  }

  #html(token: Token): string {
    return htmlBlock(this.#options.renderHtml([token]), 'nb-markdown');
  }

  #blocks(tokens: readonly Token[], depth: number, separator: string): string {
    const parts: string[] = [];
    const lists = new ListMarkers();
    for (const token of tokens) {
      if (token.type === 'space' || token.type === 'def') continue;
      const text =
        token.type === 'list'
          ? this.#list(token as Tokens.List, depth, lists.next(token as Tokens.List))
          : this.#block(token, depth);
      if (token.type !== 'list') lists.reset();
      if (text !== '') parts.push(text);
    }
    return parts.join(separator);
  }

  #block(token: Token, depth: number): string {
    switch (token.type) {
      case 'space':
      case 'def':
        return '';
      case 'heading': {
        const level = Math.min(6, token.depth + this.#options.headingShift);
        return `${'#'.repeat(level)} ${this.#inline(token.tokens ?? [], { lineStart: false, inTable: false, heading: true })}`;
      }
      case 'paragraph':
        return this.#inline(token.tokens ?? [], { lineStart: true, inTable: false, heading: false });
      case 'text':
        return 'tokens' in token && Array.isArray(token.tokens)
          ? this.#inline(token.tokens as Token[], { lineStart: true, inTable: false, heading: false })
          : escapeText(decode(token.text), { lineStart: true });
      case 'code': {
        const language = (token.lang ?? '').trim().split(/\s+/)[0] ?? '';
        return codeBlock(token.text, language, this.#options.dialect);
      }
      case 'hr':
        return '***';
      case 'blockquote': {
        const inner = this.#blocks(token.tokens ?? [], depth + 1, '\n\n');
        return inner
          .split('\n')
          .map((line) => (line === '' ? '>' : `> ${line}`))
          .join('\n');
      }
      case 'list':
        return this.#list(token as Tokens.List, depth, false);
      case 'table':
        return this.#table(token as Tokens.Table);
      case 'html':
        // Only reached when HTML is trusted.
        return String(token.raw).replace(/\n+$/, '');
      default:
        return this.#html(token);
    }
  }

  #list(list: Tokens.List, depth: number, otherMarker = false): string {
    const start = typeof list.start === 'number' ? list.start : 1;
    const items = list.items.map((item, i) => {
      const marker = list.ordered ? `${start + i}${otherMarker ? ')' : '.'}` : otherMarker ? '*' : '-';
      const indent = ' '.repeat(marker.length + 1);
      // A task item's checkbox is its first token when the item does not open with a paragraph.
      const [first, ...rest] = item.tokens;
      const task = first?.type === 'checkbox' ? ((first as Tokens.Checkbox).checked ? '[x] ' : '[ ] ') : '';
      const body = task + this.#blocks(task ? rest : item.tokens, depth + 1, list.loose ? '\n\n' : '\n');
      if (body === '') return marker;
      return body
        .split('\n')
        .map((line, n) => (n === 0 ? `${marker} ${line}` : line === '' ? '' : `${indent}${line}`))
        .join('\n');
    });
    return items.join(list.loose ? '\n\n' : '\n');
  }

  #table(table: Tokens.Table): string {
    const state: InlineState = { lineStart: false, inTable: true, heading: false };
    const row = (cells: Tokens.TableCell[]) =>
      `| ${cells.map((cell) => this.#inline(cell.tokens, { ...state }) || ' ').join(' | ')} |`;
    const rule = table.align.map((align) =>
      align === 'left' ? ':---' : align === 'right' ? '---:' : align === 'center' ? ':---:' : '---',
    );
    return [row(table.header), `| ${rule.join(' | ')} |`, ...table.rows.map(row)].join('\n');
  }

  #inline(tokens: readonly Token[], state: InlineState): string {
    let out = '';
    for (const token of tokens) {
      // Emphasis right after emphasis would merge their `*` runs: the second one is written with `_`.
      state.afterStar = out.endsWith('*');
      out += this.#span(token, state);
    }
    return out;
  }

  #span(token: Token, state: InlineState): string {
    const lineStart = state.lineStart;
    state.lineStart = false;
    switch (token.type) {
      case 'text':
        if ('tokens' in token && Array.isArray(token.tokens)) {
          state.lineStart = lineStart;
          return this.#inline(token.tokens as Token[], state);
        }
        return escapeText(decode(token.text), { lineStart, heading: state.heading });
      case 'escape':
        return escapeText(token.text, { lineStart, heading: state.heading });
      case 'strong':
      case 'em': {
        const mark = (state.afterStar ? '_' : '*').repeat(token.type === 'strong' ? 2 : 1);
        return `${mark}${this.#inline(token.tokens ?? [], state)}${mark}`;
      }
      case 'del':
        return `~~${this.#inline(token.tokens ?? [], state)}~~`;
      case 'codespan':
        return codeSpan(token.text, this.#options.dialect, state.inTable);
      case 'br':
        // Two spaces at the end of a line: a hard break to every engine. The next line starts afresh.
        state.lineStart = !state.inTable;
        return state.inTable ? ' ' : '  \n';
      case 'checkbox':
        return (token as Tokens.Checkbox).checked ? '[x] ' : '[ ] ';
      case 'link': {
        const href = decode(token.href);
        const label = this.#inline(token.tokens ?? [], state);
        // A link that could run script or leave the reader's browser oddly is shown as its text.
        if (!safeHref(href)) return label;
        return `[${label}](${linkDestination(href)})`;
      }
      case 'image': {
        const href = decode(token.href);
        const alt = escapeText(decode(token.text));
        const attachment = href.startsWith('attachment:')
          ? this.#options.attachmentUrl?.(href.slice('attachment:'.length))
          : undefined;
        if (attachment !== undefined) return `![${alt}](${linkDestination(attachment)})`;
        if (!safeHref(href)) return alt;
        // A remote image would be fetched whenever the post is read: it becomes a link, as in the HTML page.
        if (/^\w+:/.test(href)) return `[${alt || 'image'}](${linkDestination(href)})`;
        return `![${alt}](${linkDestination(href)})`;
      }
      case 'html':
        // Only reached when HTML is trusted.
        return token.text;
      default:
        return escapeText(String(token.raw ?? ''));
    }
  }
}
