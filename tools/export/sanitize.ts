/**
 * Allow-list sanitising for everything a notebook can smuggle into a page: `text/html` and `image/svg+xml` outputs,
 * and raw HTML inside Markdown cells. Nothing that can run script survives: no `<script>`, no `<foreignObject>`, no
 * event-handler attributes, no `javascript:`/`data:` links. For the standalone page (`offline`), nothing that would make
 * a network request survives either: remote images become links, and CSS/SVG `url(...)` may only point inside the page.
 */

import type { IOptions, Tag, Transformer } from 'sanitize-html';
import sanitizeHtml from 'sanitize-html';

/** Where sanitised HTML will be shown. */
export interface SanitizePolicy {
  /** True for the self-contained page: no resource may be fetched, so remote images turn into links. */
  offline: boolean;
}

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

// Only properties that cannot fetch anything (no background-image, cursor, border-image, mask, list-style-image...).
const SAFE_CSS_PROPERTIES = [
  'color',
  'background-color',
  'text-align',
  'vertical-align',
  'font-weight',
  'font-style',
  'font-size',
  'font-family',
  'font-variant',
  'text-decoration',
  'white-space',
  'width',
  'min-width',
  'max-width',
  'height',
  'padding',
  'padding-left',
  'padding-right',
  'margin',
  'opacity',
  'display',
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'text-anchor',
  'dominant-baseline',
];
// Values made of words, numbers, colours and colour functions; anything with url(), var(), expression()... is refused.
const SAFE_CSS_VALUE = /^(?:[#\w\s.,%+-]|\b(?:rgba?|hsla?)\([\d\s.,%/+-]*\))*$/i;
const ALLOWED_STYLES = {
  '*': Object.fromEntries(SAFE_CSS_PROPERTIES.map((property) => [property, [SAFE_CSS_VALUE]])),
};

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

function dropExternalUrls(attribs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(attribs).filter(([, value]) => !EXTERNAL_URL.test(value)));
}

const withoutExternalUrls: Transformer = (tagName, attribs) => ({
  tagName,
  attribs: dropExternalUrls(attribs),
});

/** Gives the root `<svg>` a namespace (needed in a standalone .svg file) and a viewBox (so CSS can scale it). */
const normaliseSvgRoot: Transformer = (tagName, attribs) => {
  const out = dropExternalUrls(attribs);
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
  return { tagName, attribs: out };
};

function imageTransform(policy: SanitizePolicy): Transformer {
  return (tagName, attribs): Tag => {
    const src = attribs.src ?? '';
    if (IMAGE_DATA_URI.test(src)) return { tagName, attribs: dropExternalUrls(attribs) };
    if (src.toLowerCase().startsWith('data:'))
      return { tagName: 'span', attribs: {}, text: attribs.alt ?? '' };
    if (!policy.offline) return { tagName, attribs: dropExternalUrls(attribs) };
    // A remote image in the self-contained page would be a network request; a link keeps the reference.
    return { tagName: 'a', attribs: { href: src }, text: attribs.alt || src };
  };
}

function fragmentOptions(policy: SanitizePolicy): IOptions {
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
    allowedStyles: ALLOWED_STYLES,
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: policy.offline ? ['data'] : ['data', 'http', 'https'] },
    allowProtocolRelative: false,
    allowedClasses: { '*': [/^[\w-]+$/] },
    parser: { recognizeSelfClosing: true },
    transformTags: { img: imageTransform(policy), svg: normaliseSvgRoot, '*': withoutExternalUrls },
    exclusiveFilter: (frame) => frame.tag === 'input' && frame.attribs.type !== 'checkbox',
  };
}

const ONLINE = fragmentOptions({ offline: false });
const OFFLINE = fragmentOptions({ offline: true });

/**
 * Sanitises an HTML fragment (a `text/html` output, raw HTML in a Markdown cell, or Markdown rendered to HTML).
 * Keeps text formatting, tables, links, inline SVG drawings and (offline: inline data) images.
 */
export function sanitizeFragment(html: string, policy: SanitizePolicy): string {
  return sanitizeHtml(html, policy.offline ? OFFLINE : ONLINE);
}

const SVG_OPTIONS: IOptions = {
  allowedTags: SVG_TAGS,
  allowedAttributes: Object.fromEntries(SVG_TAGS.map((tag) => [tag, SVG_ATTRIBUTES])),
  allowedStyles: ALLOWED_STYLES,
  allowedSchemes: [],
  allowProtocolRelative: false,
  // XML mode keeps camelCase names (viewBox, clipPath) and understands self-closing tags, as .svg files need.
  parser: { xmlMode: true },
  transformTags: { svg: normaliseSvgRoot, '*': withoutExternalUrls },
};

const STYLE_ELEMENT = /<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi;
const XML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/**
 * Makes an SVG `<style>` sheet inert: no `@import`, no `url(...)` or `image-set(...)` outside the document, and XML-escaped
 * so its text cannot close the element. What remains can only colour and place the drawing.
 */
function cleanStyleSheet(css: string): string {
  const text = css
    .replace(/<!\[CDATA\[|\]\]>/g, '')
    .replace(/&(lt|gt|amp|quot|apos);/g, (_entity, name: string) => XML_ENTITIES[name]);
  const inert = text
    .replace(/@import[^;]*;?/gi, '')
    .replace(/(?:-webkit-)?image-set\s*\([^)]*\)/gi, 'none')
    .replace(/url\s*\(\s*(?!['"]?#)[^)]*\)/gi, 'none');
  return inert.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').trim();
}

/** Sanitised SVG markup and whether it carries a style sheet (then it is only safe to show as an image). */
export interface SanitizedSvg {
  svg: string;
  /** True when a `<style>` element survived: page CSS and SVG CSS would leak into each other if inlined. */
  styled: boolean;
}

/**
 * Sanitises an `image/svg+xml` output to drawing elements only; the result is a valid standalone `.svg` file. A chart
 * without a style sheet is also safe to inline into an HTML page; one with a style sheet (class-based colours) keeps
 * it, cleaned, and should be shown through `<img>`, where it cannot touch the page.
 */
export function sanitizeSvgImage(svg: string): SanitizedSvg {
  const start = svg.search(/<svg[\s>]/i);
  const source = start >= 0 ? svg.slice(start) : svg;
  const sheets = [...source.matchAll(STYLE_ELEMENT)]
    .map((match) => cleanStyleSheet(match[1]))
    .filter(Boolean);
  let clean = sanitizeSvg(source);
  if (sheets.length > 0)
    clean = clean.replace(/^<svg[^>]*>/, (open) => `${open}<style>${sheets.join('\n')}</style>`);
  return { svg: clean, styled: sheets.length > 0 && clean.startsWith('<svg') };
}

/** Sanitises an `image/svg+xml` output for inlining into a page: drawing elements only, no style sheet. */
export function sanitizeSvg(svg: string): string {
  const start = svg.search(/<svg[\s>]/i);
  // Removed elements leave their indentation behind as blank lines.
  return sanitizeHtml((start >= 0 ? svg.slice(start) : svg).replace(STYLE_ELEMENT, ''), SVG_OPTIONS)
    .replace(/\n[ \t]*(?=\n)/g, '')
    .trim();
}
