/**
 * What the chaos server does for each item: a pure function of (seed, item id), shared by the server and the tests,
 * so the tests know every item's fate whatever order the requests arrive in.
 */

/** A small seeded PRNG (mulberry32): 32-bit state, good enough to scatter behaviours, and identical everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Everything the server can do to one request. */
export type Behaviour =
  | 'ok'
  | 'notFound'
  | 'serverError'
  | 'unavailable'
  | 'reset'
  | 'stall'
  | 'trickle'
  | 'oversize'
  | 'redirectLoop'
  | 'redirectFile';

/**
 * Percent of items per behaviour. Stalls are rare on purpose: each one holds a slot for the client's whole timeout,
 * so 1% of 5,000 items at concurrency 50 costs about 50 × 3 s / 50 = 3 s of wall time (3 s: the chaos timeout).
 */
export const MIX: readonly (readonly [Behaviour, number])[] = [
  ['ok', 70],
  ['notFound', 6],
  ['serverError', 5],
  ['unavailable', 5],
  ['reset', 4],
  ['stall', 1],
  ['trickle', 3],
  ['oversize', 2],
  ['redirectLoop', 2],
  ['redirectFile', 2],
];

/** The seed the tests use unless CHAOS_SEED says otherwise (to explore other plans by hand). */
export const DEFAULT_SEED = Number(process.env.CHAOS_SEED ?? 20240607);

/** One item's plan: what happens, and a variant bit for behaviours that come in two flavours. */
export interface ItemPlan {
  behaviour: Behaviour;
  /** reset: RST (true) or a plain close (false) mid-body; oversize: chunked (true) or with Content-Length (false). */
  variant: boolean;
}

/** The plan of item `id` under `seed`. */
export function planFor(seed: number, id: number): ItemPlan {
  const next = mulberry32(seed ^ Math.imul(id + 1, 0x9e3779b1));
  let roll = next() * 100;
  const variant = next() < 0.5;
  for (const [behaviour, weight] of MIX) {
    if (roll < weight) return { behaviour, variant };
    roll -= weight;
  }
  return { behaviour: 'ok', variant };
}

/** The body a successful item (`ok` or `trickle`) answers with. */
export function bodyFor(id: number): string {
  return `item ${id} ${'.'.repeat(id % 50)}\n`;
}

/** Bytes the `oversize` behaviour sends: more than the 256 KiB the tests allow. */
export const OVERSIZE_BYTES = 300 * 1024;

/** The path of item `id` on the chaos server. */
export function itemPath(id: number): string {
  return `/item/${id}`;
}
