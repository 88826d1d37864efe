/**
 * CSS from a notebook (SVG `<style>` sheets and `style` attributes), parsed by css-tree and rebuilt from an allow-list.
 *
 * Pattern-matching CSS text cannot be made safe: escapes (`u\72l(`, `@im\port`), comments and strings all hide a
 * fetch from a regular expression. Here the text is parsed as a browser would, and only nodes of known, inert kinds
 * are kept: plain selectors, `@media` blocks, properties from a list, and values made of keywords, numbers, colours,
 * custom properties and a few pure functions. Nothing written with an escape survives, and a `url()` survives only
 * when it points inside the document (`#id`) or at an inline `data:` image.
 */
import type { CssNode, List } from 'css-tree';
import { generate, parse } from 'css-tree';

// Properties that draw, colour, size or place; none of them can load anything once their values are checked.
const SAFE_PROPERTIES = new Set([
  'color',
  'background-color',
  'opacity',
  'visibility',
  'display',
  'fill',
  'fill-opacity',
  'fill-rule',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'stroke-dashoffset',
  'stroke-linecap',
  'stroke-linejoin',
  'stroke-miterlimit',
  'stop-color',
  'stop-opacity',
  'paint-order',
  'shape-rendering',
  'text-rendering',
  'vector-effect',
  'font',
  'font-family',
  'font-size',
  'font-style',
  'font-variant',
  'font-weight',
  'font-variant-numeric',
  'line-height',
  'letter-spacing',
  'text-anchor',
  'text-align',
  'text-decoration',
  'dominant-baseline',
  'alignment-baseline',
  'vertical-align',
  'white-space',
  'width',
  'height',
  'min-width',
  'max-width',
  'min-height',
  'max-height',
  'margin',
  'margin-top',
  'margin-right',
  'margin-bottom',
  'margin-left',
  'padding',
  'padding-top',
  'padding-right',
  'padding-bottom',
  'padding-left',
  'border-color',
  'border-width',
  'border-style',
  'border-radius',
  'color-scheme',
]);

// Functions that compute a colour or a length from their arguments and nothing else.
const SAFE_FUNCTIONS = new Set([
  'rgb',
  'rgba',
  'hsl',
  'hsla',
  'hwb',
  'lab',
  'lch',
  'oklab',
  'oklch',
  'color-mix',
  'var',
  'calc',
  'min',
  'max',
  'clamp',
]);

const SAFE_DATA_IMAGE = /^data:image\/(?:png|jpeg|gif|webp);/i;

function hasEscape(text: string): boolean {
  return text.includes('\\');
}

function safeUrl(value: string): boolean {
  return !hasEscape(value) && (value.startsWith('#') || SAFE_DATA_IMAGE.test(value));
}

/** True when every node of a declaration's value is of an inert kind. */
function safeValue(value: CssNode): boolean {
  let safe = true;
  const check = (node: CssNode): void => {
    switch (node.type) {
      case 'Value':
      case 'Number':
      case 'Percentage':
      case 'Operator':
      case 'WhiteSpace':
        return;
      case 'Dimension':
        if (hasEscape(node.unit)) safe = false;
        return;
      case 'Hash':
      case 'Identifier':
        if (hasEscape(node.type === 'Hash' ? node.value : node.name)) safe = false;
        return;
      case 'String':
        if (hasEscape(node.value)) safe = false;
        return;
      case 'Function':
        if (!SAFE_FUNCTIONS.has(node.name.toLowerCase())) safe = false;
        return;
      case 'Url':
        if (!safeUrl(node.value)) safe = false;
        return;
      case 'Parentheses':
        return;
      default:
        safe = false;
    }
  };
  walkValue(value, check);
  return safe;
}

function walkValue(node: CssNode, visit: (node: CssNode) => void): void {
  visit(node);
  const children = (node as { children?: List<CssNode> | null }).children;
  if (children) for (const child of children) walkValue(child, visit);
}

function safeDeclaration(node: CssNode): boolean {
  if (node.type !== 'Declaration') return false;
  const property = node.property.toLowerCase();
  if (hasEscape(property)) return false;
  if (!property.startsWith('--') && !SAFE_PROPERTIES.has(property)) return false;
  return safeValue(node.value);
}

// Selectors that only match: names, classes, ids, combinators and argument-free pseudo-classes such as :hover.
function safeSelector(node: CssNode): boolean {
  let safe = true;
  walkValue(node, (part) => {
    switch (part.type) {
      case 'SelectorList':
      case 'Selector':
      case 'Combinator':
      case 'NestingSelector':
        return;
      case 'TypeSelector':
      case 'ClassSelector':
      case 'IdSelector':
        if (hasEscape(part.name)) safe = false;
        return;
      case 'PseudoClassSelector':
        if (part.children || hasEscape(part.name)) safe = false;
        return;
      default:
        safe = false;
    }
  });
  return safe;
}

function cleanRules(children: List<CssNode>): void {
  for (const item of [...children]) {
    const node = item;
    let keep = false;
    if (node.type === 'Rule') {
      keep = safeSelector(node.prelude) && node.block.children !== null;
      if (keep) {
        for (const declaration of [...node.block.children]) {
          if (!safeDeclaration(declaration)) removeNode(node.block.children, declaration);
        }
      }
    } else if (node.type === 'Atrule' && node.name.toLowerCase() === 'media' && node.block) {
      // A media query reads the reader's settings (dark mode, width); it cannot load anything.
      const prelude = node.prelude ? generate(node.prelude) : '';
      keep = !hasEscape(prelude) && !prelude.toLowerCase().includes('url');
      if (keep) cleanRules(node.block.children);
    }
    if (!keep) removeNode(children, node);
  }
}

function removeNode(list: List<CssNode>, node: CssNode): void {
  list.forEach((candidate, item, owner) => {
    if (candidate === node) owner.remove(item);
  });
}

/**
 * Rebuilds a style sheet from its safe parts: rules with plain selectors, `@media` blocks, and declarations that
 * pass {@link cleanDeclarations}' checks. Everything else (`@import`, `@font-face`, unknown at-rules, escaped names,
 * remote `url()`) is dropped. The result is CSS text, not yet escaped for any markup.
 */
export function cleanStyleSheet(css: string): string {
  const ast = parse(css, { parseCustomProperty: true, parseValue: true });
  if (ast.type !== 'StyleSheet') return '';
  cleanRules(ast.children);
  return generate(ast);
}

/**
 * Rebuilds the text of a `style` attribute from the declarations that can only colour, size or place: allowed
 * property names (or custom properties `--name`), values of keywords, numbers, colours and pure functions (`var()`,
 * `calc()`, `rgb()`…), and `url()` only to `#id` or a `data:` image.
 */
export function cleanDeclarations(style: string): string {
  const ast = parse(style, { context: 'declarationList', parseCustomProperty: true, parseValue: true });
  if (ast.type !== 'DeclarationList') return '';
  for (const declaration of [...ast.children]) {
    if (!safeDeclaration(declaration)) removeNode(ast.children, declaration);
  }
  return generate(ast);
}
