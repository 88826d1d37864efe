// Everything the demo site serves is a pure function of the request path, so recorded notebook outputs never drift.

/** 32-bit FNV-1a: small, stable across platforms and versions, good enough to spread names over sizes. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: a seeded generator of 32-bit integers. */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A number in [0, 1) that depends only on `text`, well spread even for names that differ in one character. */
export function unitHash(text: string): number {
  return generator(fnv1a(text))() / 2 ** 32;
}

const WORDS = (
  'deferred callback errback chain result failure batch semaphore token cooperator iterator reactor ' +
  'page request response socket connection timeout redirect header body agent pool limit queue task ' +
  'twisted python typescript promise await async event loop network server client latency bytes'
).split(' ');

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `alpha-beta_gamma` → `Alpha Beta Gamma`; a name with no letters or digits keeps its own spelling. */
export function pageTitle(name: string): string {
  const words = name.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
  if (words.length === 0) return name;
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}

/** The entry of `list` that `n` picks, wrapping around; `list` is never empty here. */
function pick<T>(list: readonly T[], n: number): T {
  const item = list[n % list.length];
  if (item === undefined) throw new RangeError('Expected a list with at least one entry to pick from');
  return item;
}

/** The body length, in characters of text, of the page called `name`: between 2,000 and 8,000. */
function textLength(name: string): number {
  return 2000 + (fnv1a(name) % 6001);
}

/** The HTML of `/page/<name>`: its title, size and links depend only on `name`. */
export function pageHtml(name: string): string {
  const title = escapeHtml(pageTitle(name));
  const next = generator(fnv1a(name));
  const target = textLength(name);
  const paragraphs: string[] = [];
  let length = 0;
  while (length < target) {
    const words: string[] = [];
    const count = 20 + (next() % 40);
    for (let i = 0; i < count; i++) words.push(pick(WORDS, next()));
    const sentence = words.join(' ');
    const text = `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`;
    paragraphs.push(`    <p>${text}</p>`);
    length += text.length;
  }
  // One to five links to other pages, so a page has something to count and follow.
  const others = PAGE_NAMES.filter((other) => other !== name);
  const links = new Set<string>();
  const linkCount = 1 + (next() % 5);
  while (links.size < linkCount) links.add(pick(others, next()));
  const seeAlso = [...links].map((other) => `<a href="../page/${other}">${escapeHtml(pageTitle(other))}</a>`);
  paragraphs.push(`    <p>See also: ${seeAlso.join(', ')}.</p>`);
  return [
    '<!DOCTYPE html>',
    '<html>',
    `  <head><meta charset="utf-8"><title>${title}</title></head>`,
    '  <body>',
    `    <h1>${title}</h1>`,
    ...paragraphs,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}

/** The page names the index links to (and the offline example URLs use). */
export const PAGE_NAMES: readonly string[] = [
  'twisted',
  'deferred',
  'callbacks',
  'semaphore',
  'cooperator',
  'batching',
  'reactor',
  'getpage',
  'errbacks',
  'concurrency',
];

export function indexHtml(): string {
  const links = PAGE_NAMES.map((n) => `      <li><a href="page/${n}">${escapeHtml(pageTitle(n))}</a></li>`);
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head><meta charset="utf-8"><title>async-batching demo site</title></head>',
    '  <body>',
    '    <h1>async-batching demo site</h1>',
    '    <ul>',
    ...links,
    '    </ul>',
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}

/** Twisted's `NoResource` page, so a 404 from the demo site reads like one from a Twisted server. */
export const NOT_FOUND_HTML = [
  '<html>',
  '  <head><title>404 - No Such Resource</title></head>',
  '  <body>',
  '    <h1>No Such Resource</h1>',
  '    <p>No such child resource.</p>',
  '  </body>',
  '</html>',
  '',
].join('\n');

/** Byte `i` of every `/bytes/<n>` response: a fixed pattern, so a client can check what it received. */
export function byteAt(i: number): number {
  return (i * 31 + 7) & 0xff;
}

/** Fills `chunk` with bytes `offset .. offset + chunk.length` of the pattern. */
export function fillBytes(chunk: Uint8Array, offset: number): Uint8Array {
  for (let i = 0; i < chunk.length; i++) chunk[i] = byteAt(offset + i);
  return chunk;
}
