/**
 * Allow-list sanitising for everything a notebook can smuggle into a post: `text/html` and `image/svg+xml` outputs,
 * raw cells, `text/markdown` outputs and raw HTML inside Markdown cells. The Markdown post and the HTML page go through
 * this one module with one policy. Markup is parsed (htmlparser2, through sanitize-html) and CSS is parsed (css-tree,
 * see `css.ts`); no regular expression decides what is safe. Nothing that can run script survives: no `<script>`, no
 * `<foreignObject>`, no event-handler attributes, no `javascript:`/`data:` links. Nothing that would make a network
 * request survives either: remote images become links, and CSS/SVG `url(...)` may only point inside the document.
 */

import type { ChildNode, Document, Element } from 'domhandler';
import { getElementsByTagName } from 'domutils';
import type { TokenizerCallbacks } from 'htmlparser2';
import { parseDocument, Tokenizer } from 'htmlparser2';
import type { IOptions, Tag, Transformer } from 'sanitize-html';
import sanitizeHtml from 'sanitize-html';
import { cleanDeclarations, cleanStyleSheet } from './css.ts';

const SVG_TAGS = [
  'svg',
  'g',
  'defs',
  'title',
  'desc',
  'rect',
  'line',
  'path',
  'circle',
  'ellipse',
  'polyline',
  'polygon',
  'text',
  'tspan',
  'clipPath',
  'linearGradient',
  'radialGradient',
  'stop',
  'marker',
  'pattern',
];

const SVG_ATTRIBUTES = [
  'xmlns',
  'version',
  'viewBox',
  'preserveAspectRatio',
  'width',
  'height',
  'x',
  'y',
  'x1',
  'y1',
  'x2',
  'y2',
  'cx',
  'cy',
  'r',
  'rx',
  'ry',
  'dx',
  'dy',
  'd',
  'points',
  'transform',
  'fill',
  'fill-opacity',
  'fill-rule',
  'clip-rule',
  'clip-path',
  'clipPathUnits',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'stroke-dashoffset',
  'stroke-linecap',
  'stroke-linejoin',
  'stroke-miterlimit',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'text-anchor',
  'dominant-baseline',
  'alignment-baseline',
  'letter-spacing',
  'text-decoration',
  'textLength',
  'lengthAdjust',
  'shape-rendering',
  'text-rendering',
  'vector-effect',
  'paint-order',
  'marker-start',
  'marker-mid',
  'marker-end',
  'markerWidth',
  'markerHeight',
  'markerUnits',
  'refX',
  'refY',
  'orient',
  'offset',
  'stop-color',
  'stop-opacity',
  'gradientUnits',
  'gradientTransform',
  'patternUnits',
  'patternTransform',
  'fx',
  'fy',
  'id',
  'class',
  'role',
  'aria-label',
  'aria-labelledby',
  'aria-hidden',
  'style',
  'xml:space',
];

const TEXT_TAGS = [
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'p',
  'br',
  'hr',
  'blockquote',
  'pre',
  'code',
  'span',
  'div',
  'em',
  'strong',
  'b',
  'i',
  'u',
  's',
  'del',
  'ins',
  'sub',
  'sup',
  'mark',
  'small',
  'kbd',
  'samp',
  'var',
  'abbr',
  'q',
  'cite',
  'dfn',
  'time',
  'ul',
  'ol',
  'li',
  'dl',
  'dt',
  'dd',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'th',
  'td',
  'caption',
  'colgroup',
  'col',
  'figure',
  'figcaption',
  'details',
  'summary',
  'a',
  'img',
  'input',
];

const TEXT_ATTRIBUTES: Record<string, string[]> = {
  '*': ['title', 'lang', 'dir', 'class', 'style', 'aria-label', 'aria-hidden', 'role'],
  h1: ['id'],
  h2: ['id'],
  h3: ['id'],
  h4: ['id'],
  h5: ['id'],
  h6: ['id'],
  a: ['href', 'name'],
  img: ['src', 'alt', 'width', 'height'],
  td: ['align', 'colspan', 'rowspan'],
  th: ['align', 'colspan', 'rowspan', 'scope'],
  col: ['span'],
  ol: ['start', 'type', 'reversed'],
  li: ['value'],
  details: ['open'],
  time: ['datetime'],
  abbr: ['title'],
  // GitHub-flavoured task lists render as disabled checkboxes.
  input: ['type', 'checked', 'disabled'],
};

/** A `url(...)` that points outside the document (only `url(#id)` references inside an SVG are harmless). */
const EXTERNAL_URL = /url\s*\(\s*(?!['"]?#)/i;
const IMAGE_DATA_URI = /^data:image\/(?:png|jpeg|gif|webp|svg\+xml)[;,]/i;
// Attributes whose value is only ever read as text; everywhere else (SVG presentation attributes are CSS) a backslash
// could be a CSS escape hiding a `url(`.
const TEXT_VALUED = new Set(['title', 'alt', 'aria-label']);

/** Drops attribute values that could fetch, and rebuilds `style` from its safe declarations (css-tree). */
function cleanAttributes(attribs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(attribs)) {
    if (name.toLowerCase() === 'style') {
      const style = cleanDeclarations(value);
      if (style !== '') out[name] = style;
    } else if (!EXTERNAL_URL.test(value) && (TEXT_VALUED.has(name.toLowerCase()) || !value.includes('\\'))) {
      out[name] = value;
    }
  }
  return out;
}

const withCleanAttributes: Transformer = (tagName, attribs) => ({
  tagName,
  attribs: cleanAttributes(attribs),
});

/**
 * Gives the root `<svg>` a namespace (needed in a standalone .svg file), a viewBox (so CSS can scale it) and
 * `role="img"` (a chart is one image to assistive technology, named by its `<title>` or `aria-label`).
 */
const normaliseSvgRoot: Transformer = (tagName, attribs) => {
  const out = cleanAttributes(attribs);
  out.xmlns = 'http://www.w3.org/2000/svg';
  const viewBoxName = Object.keys(out).find((name) => name.toLowerCase() === 'viewbox');
  const width = Number.parseFloat(out.width ?? '');
  const height = Number.parseFloat(out.height ?? '');
  if (
    !viewBoxName &&
    Number.isFinite(width) &&
    Number.isFinite(height) &&
    /^[\d.]+(px)?$/.test(out.width ?? '')
  ) {
    out.viewBox = `0 0 ${width} ${height}`;
  }
  out.role ??= 'img';
  return { tagName, attribs: out };
};

// A remote image would be a network request when the post is read; a link keeps the reference without fetching.
const imageTransform: Transformer = (tagName, attribs): Tag => {
  const src = attribs.src ?? '';
  if (IMAGE_DATA_URI.test(src)) return { tagName, attribs: cleanAttributes(attribs) };
  if (src.toLowerCase().startsWith('data:')) return { tagName: 'span', attribs: {}, text: attribs.alt ?? '' };
  return { tagName: 'a', attribs: { href: src }, text: attribs.alt || src };
};

// One H1 per post: the post's title. A heading inside notebook content starts at H2.
const demoteH1: Transformer = (_tagName, attribs) => ({ tagName: 'h2', attribs: cleanAttributes(attribs) });

function fragmentOptions(): IOptions {
  const svgTagsLower = SVG_TAGS.map((tag) => tag.toLowerCase());
  // The HTML parser lower-cases attribute names; browsers restore SVG's camelCase when they parse the page.
  const svgAttributes = [
    ...new Set([...SVG_ATTRIBUTES, ...SVG_ATTRIBUTES.map((name) => name.toLowerCase())]),
  ];
  const allowedAttributes: Record<string, string[]> = { ...TEXT_ATTRIBUTES };
  for (const tag of svgTagsLower) allowedAttributes[tag] = svgAttributes;
  return {
    allowedTags: [...TEXT_TAGS, ...svgTagsLower],
    allowedAttributes,
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['data'] },
    allowProtocolRelative: false,
    allowedClasses: { '*': [/^[\w-]+$/] },
    parser: { recognizeSelfClosing: true },
    transformTags: { img: imageTransform, svg: normaliseSvgRoot, h1: demoteH1, '*': withCleanAttributes },
    exclusiveFilter: (frame) => frame.tag === 'input' && frame.attribs.type !== 'checkbox',
  };
}

const FRAGMENT_OPTIONS = fragmentOptions();

/** Deeper than any drawing or table needs; deeper markup is refused before the parser sees it. */
export const MAX_NESTING = 512;
// Elements that never hold others, or that the HTML parser closes when the next one opens.
const NOT_NESTING = new Set(
  'area base br col embed hr img input link meta source track wbr p li dt dd tr td th option'.split(' '),
);

/**
 * How deep elements nest, counted by htmlparser2's tokenizer alone, which is linear. The tree builder keeps its open
 * elements with `Array.unshift`, so a megabyte of unclosed tags costs it quadratic time; this check runs first.
 */
function nestingDepth(markup: string, xmlMode: boolean): number {
  let depth = 0;
  let deepest = 0;
  let name = '';
  const nothing = () => {};
  const callbacks: TokenizerCallbacks = {
    onattribdata: nothing,
    onattribentity: nothing,
    onattribend: nothing,
    onattribname: nothing,
    oncdata: nothing,
    oncomment: nothing,
    ondeclaration: nothing,
    onend: nothing,
    onprocessinginstruction: nothing,
    ontext: nothing,
    ontextentity: nothing,
    onopentagname(start, end) {
      name = markup.slice(start, end).toLowerCase();
    },
    onopentagend() {
      if (xmlMode || !NOT_NESTING.has(name)) deepest = Math.max(deepest, ++depth);
    },
    onselfclosingtag() {},
    onclosetag() {
      depth = Math.max(0, depth - 1);
    },
  };
  const tokenizer = new Tokenizer({ xmlMode, decodeEntities: false }, callbacks);
  tokenizer.write(markup);
  tokenizer.end();
  return deepest;
}

/**
 * Sanitises an HTML fragment (a `text/html` output, a raw cell, raw HTML in a Markdown cell, or untrusted Markdown
 * rendered to HTML) for the Markdown post and the HTML page alike. Keeps text formatting, tables, links, inline SVG
 * drawings and inline data images; remote images become links; `<h1>` becomes `<h2>`.
 */
export function sanitizeFragment(html: string): string {
  if (nestingDepth(html, false) > MAX_NESTING)
    return `<p>(markup nested deeper than ${MAX_NESTING} levels, not shown)</p>`;
  return sanitizeHtml(html, FRAGMENT_OPTIONS);
}

const SVG_OPTIONS: IOptions = {
  allowedTags: SVG_TAGS,
  allowedAttributes: Object.fromEntries(SVG_TAGS.map((tag) => [tag, SVG_ATTRIBUTES])),
  allowedSchemes: [],
  allowProtocolRelative: false,
  // XML mode keeps camelCase names (viewBox, clipPath) and understands self-closing tags, as .svg files need.
  parser: { xmlMode: true },
  transformTags: { svg: normaliseSvgRoot, '*': withCleanAttributes },
};

/** Sanitised SVG markup, whether it carries a style sheet, and the label it gives itself. */
export interface SanitizedSvg {
  svg: string;
  /** True when a `<style>` element survived: page CSS and SVG CSS would leak into each other if inlined. */
  styled: boolean;
  /**
   * What the drawing says it shows: the root's `aria-label`, else its own `<title>` (with its `<desc>`). A `<title>`
   * deeper down is a tooltip of one part (a bar), not a name for the whole.
   */
  label?: string;
}

function escapeXmlText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * The text directly inside an element (text and CDATA children). A style sheet or a title is its own text; anything
 * nested deeper is not CSS or a name, and reading only one level keeps a hostile, deeply nested file from recursing.
 */
function ownText(element: Element): string {
  const text = (node: ChildNode): string => {
    if (node.type === 'text') return node.data;
    if (node.type === 'cdata')
      return node.children.map((child) => (child.type === 'text' ? child.data : '')).join('');
    return '';
  };
  return element.children.map(text).join('');
}

function rootSvg(document: Document): Element | undefined {
  return getElementsByTagName('svg', document, true, 1)[0];
}

function ownLabel(root: Element | undefined): string | undefined {
  if (!root) return undefined;
  const aria = root.attribs['aria-label']?.trim();
  if (aria) return aria;
  const child = (name: string) =>
    root.children.find((node): node is Element => node.type === 'tag' && node.name === name);
  const title = child('title');
  const desc = child('desc');
  const parts = [title, desc]
    .map((node) => (node ? ownText(node).replace(/\s+/g, ' ').trim() : ''))
    .filter(Boolean);
  return parts.length > 0 ? parts.join('. ') : undefined;
}

function svgStart(svg: string): string {
  const start = svg.search(/<svg[\s>]/i);
  return start >= 0 ? svg.slice(start) : svg;
}

/**
 * Sanitises an `image/svg+xml` output to drawing elements only; the result is a valid standalone `.svg` file with the
 * same guarantees as an inline one (it is the same markup). A chart without a style sheet is also safe to inline into
 * an HTML page; one with a style sheet keeps it, rebuilt by css-tree from its safe rules and XML-escaped, and should
 * be shown through `<img>`, where it cannot touch the page.
 */
export function sanitizeSvgImage(svg: string): SanitizedSvg {
  const source = svgStart(svg);
  if (nestingDepth(source, true) > MAX_NESTING) return { svg: EMPTY_SVG, styled: false };
  // Parsed, not matched: CDATA, entities and unclosed elements are read as an XML parser reads them.
  const parsed = parseDocument(source, { xmlMode: true });
  const sheets = getElementsByTagName('style', parsed)
    .map((style) => cleanStyleSheet(ownText(style)).trim())
    .filter(Boolean);
  let clean = sanitizeSvgMarkup(source);
  const styled = sheets.length > 0 && clean.startsWith('<svg');
  if (styled) {
    const open = clean.indexOf('>') + 1;
    const selfClosing = clean[open - 2] === '/';
    const sheet = `<style>${escapeXmlText(sheets.join('\n'))}</style>`;
    clean = selfClosing
      ? `${clean.slice(0, open - 2)}>${sheet}</svg>`
      : `${clean.slice(0, open)}${sheet}${clean.slice(open)}`;
  }
  return { svg: clean, styled, label: ownLabel(rootSvg(parseDocument(clean, { xmlMode: true }))) };
}

const EMPTY_SVG = '<svg xmlns="http://www.w3.org/2000/svg" role="img"></svg>';

function sanitizeSvgMarkup(source: string): string {
  if (nestingDepth(source, true) > MAX_NESTING) return EMPTY_SVG;
  // Removed elements leave their indentation behind as blank lines.
  return sanitizeHtml(source, SVG_OPTIONS)
    .replace(/\n[ \t]*(?=\n)/g, '')
    .trim();
}

/** Sanitises an `image/svg+xml` output for inlining into a page: drawing elements only, no style sheet. */
export function sanitizeSvg(svg: string): string {
  return sanitizeSvgMarkup(svgStart(svg));
}
