import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** One contestant of a comparison: a full run of the workload, timed as a whole. */
export interface Variant {
  /** The row name, e.g. `p-limit`. */
  name: string;
  /** Whether this row is async-batching (the rows the others are compared to). */
  ours: boolean;
  /** How the library is used, in a few words. */
  how: string;
  /** Runs the whole workload once. */
  run: () => Promise<unknown>;
}

/** A measured row: every round's duration and their median. */
export interface Row {
  name: string;
  ours: boolean;
  how: string;
  /** The median of `samples`, in the comparison's unit. */
  value: number;
  /** One figure per measured round. */
  samples: number[];
  /** Work items per second at the median, where that is meaningful. */
  perSecond?: number;
  /** This process's CPU time (user + system) per item at the median, in microseconds, where that is meaningful. */
  cpuMicrosPerItem?: number;
  /** The row this one's ratio is taken against, when not the comparison's baseline. */
  against?: string;
}

/** A target the brief sets, checked against the measured medians. */
export interface Target {
  text: string;
  /** `null` when it could not be checked (the row was not measured). */
  holds: boolean | null;
  /** The figure the verdict rests on, e.g. `7.9x`. */
  actual: string;
}

/** The outcome of one comparison, as the runner reports and stores it. */
export interface Comparison {
  id: string;
  title: string;
  /** The workload, e.g. `200,000 no-op async tasks, concurrency 50`. */
  workload: string;
  /** `ms` (time for the whole workload, lower is better) or `MB` (peak heap growth, lower is better). */
  unit: 'ms' | 'MB';
  /** The row the ratios are taken against. */
  baseline: string;
  rows: Row[];
  targets: Target[];
  /** Set when the comparison could not be measured, with the reason; `rows` is then empty. */
  notMeasured?: string;
  notes?: string[];
  /** How this comparison was measured, when it was merged into results measured at another time (`--merge`). */
  measured?: { command: string; at: string; loadBefore: number; loadAfter: number };
}

export interface RoundOptions {
  /** Unmeasured runs of every variant first, so the JIT has seen each code path. */
  warmup: number;
  /** Measured runs of every variant. */
  rounds: number;
  /** Items per run, to turn durations into items per second. */
  items?: number;
}

let gcFn: (() => void) | undefined;

/**
 * The engine's full collector, obtained in-process so no command-line flag is needed. For memory measurements only
 * (a clean heap to measure growth from): timed runs never force GC, since users' programs do not.
 */
export function gc(): void {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('Expected `values` to hold at least one number');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Times full runs of every variant, round-robin: each round runs every variant once, starting at a different one, so
 * a burst of load from another process or a GC debt left by a neighbour spreads over all rows instead of hitting one.
 * The heap is not collected between runs: a user's program does not force GC, so each run pays for its own garbage
 * and for what the run before left, as it would in a real program.
 */
export async function interleave(variants: readonly Variant[], options: RoundOptions): Promise<Row[]> {
  const { warmup, rounds, items } = options;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(`Expected \`rounds\` to be a whole number >= 1, got ${rounds}`);
  }
  for (let w = 0; w < warmup; w++) for (const v of variants) await v.run();
  const samples = variants.map(() => [] as number[]);
  const cpu = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (r + k) % variants.length;
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      await variants[i].run();
      samples[i].push(performance.now() - start);
      const used = process.cpuUsage(cpuStart);
      cpu[i].push(used.user + used.system);
    }
  }
  return variants.map((v, i) => {
    const value = median(samples[i]);
    const row: Row = { name: v.name, ours: v.ours, how: v.how, value, samples: samples[i] };
    if (items !== undefined) {
      row.perSecond = items / (value / 1000);
      row.cpuMicrosPerItem = median(cpu[i]) / items;
    }
    return row;
  });
}

/**
 * {@link interleave} for the side-by-side scripts (`bench/ab-*.ts`, `bench/thenable-floor.ts`): variants given as
 * `name -> run`, one warm-up run each, and the rows in the same order. `cpuMicrosPerItem` is then the median CPU
 * time of one whole run, in microseconds.
 */
export function interleaveNamed(
  variants: Record<string, () => Promise<unknown>>,
  rounds: number,
): Promise<Row[]> {
  return interleave(
    Object.entries(variants).map(([name, run]) => ({ name, ours: false, how: '', run })),
    { warmup: 1, rounds, items: 1 },
  );
}

/**
 * The two builds a side-by-side script (`bench/ab-*.ts`) compares, from its command line: `OLD/dist/index.js
 * NEW/dist/index.js`, then the script's own arguments, returned as `rest`. Without both paths it prints the usage line
 * (`more` describes the script's own arguments) and exits with 2.
 */
export async function loadBuilds<L>(script: string, more = ''): Promise<{ OLD: L; NEW: L; rest: string[] }> {
  const [oldPath, newPath, ...rest] = process.argv.slice(2);
  if (oldPath === undefined || newPath === undefined) {
    console.error(
      `usage: node bench/${script} OLD/dist/index.js NEW/dist/index.js${more === '' ? '' : ` ${more}`}`,
    );
    process.exit(2);
  }
  return { OLD: (await import(oldPath)) as L, NEW: (await import(newPath)) as L, rest };
}

/** The row called `name`; a missing one is a bug in the comparison, so it throws. */
export function rowNamed(rows: readonly Row[], name: string): Row {
  const row = rows.find((r) => r.name === name);
  if (row === undefined) throw new Error(`No row named ${JSON.stringify(name)}`);
  return row;
}

/** `cost(other) / cost(ours)`: above 1, ours is cheaper (faster, or smaller) by that factor. */
export function ratio(rows: readonly Row[], other: string, ours: string): number {
  return rowNamed(rows, other).value / rowNamed(rows, ours).value;
}

export function times(x: number): string {
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}x`;
}

/** Shared-iterator workers: the least any concurrency limiter can cost, and the floor every row is held against. */
export async function bareWorkers<T, R>(
  items: Iterable<T>,
  concurrency: number,
  task: (item: T) => Promise<R> | R,
): Promise<void> {
  const it = items[Symbol.iterator]();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let step = it.next(); !step.done; step = it.next()) await task(step.value);
    }),
  );
}

/** Like {@link bareWorkers}, but keeping every result in input order, as a mapping function must. */
export async function bareWorkersMap<T, R>(
  items: Iterable<T>,
  concurrency: number,
  task: (item: T) => Promise<R> | R,
): Promise<R[]> {
  const it = items[Symbol.iterator]();
  const results: R[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let step = it.next(); !step.done; step = it.next()) {
        const index = next++;
        results[index] = await task(step.value);
      }
    }),
  );
  return results;
}

/** 0, 1, ..., count - 1, produced one at a time. */
export function* range(count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield i;
}
