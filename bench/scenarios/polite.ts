// The polite helpers against the libraries a user would reach for: Bottleneck and p-throttle for rate limits,
// a Bottleneck group and a naive lazy pool for per-key limits, DataLoader for batching; and the heap of a keyed
// stream over a million lazy items.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  batcher,
  Deferred,
  gatherResults,
  KeyedSemaphore,
  keyedParallel,
  parallel,
  RateLimiter,
} from 'async-batching';
import Bottleneck from 'bottleneck';
import DataLoader from 'dataloader';
import pThrottle from 'p-throttle';
import {
  type Comparison,
  interleave,
  median,
  type Row,
  ratio,
  rowNamed,
  times,
  type Variant,
} from '../harness.ts';

export interface PoliteParams {
  /** Tasks through our limiter and p-throttle (a limit that never binds). */
  limiterCount: number;
  /** Measured runs of that comparison: its runs take milliseconds, and the garbage one leaves varies the next. */
  limiterRounds: number;
  /** Tasks through our limiter and Bottleneck, which takes milliseconds per task on a busy machine. */
  bottleneckCount: number;
  /** Items of the per-key run, and how long a slow and a fast job take. */
  keyedCount: number;
  slowMs: number;
  fastMs: number;
  /** Loads through each batcher. */
  batchCount: number;
  warmup: number;
  rounds: number;
}

export const POLITE_FULL: PoliteParams = {
  limiterCount: 50_000,
  limiterRounds: 21,
  bottleneckCount: 1_000,
  // Bottleneck takes milliseconds per task on a busy machine, so its group sets this size.
  keyedCount: 1_000,
  slowMs: 25,
  fastMs: 1,
  batchCount: 100_000,
  warmup: 1,
  rounds: 5,
};
export const POLITE_QUICK: PoliteParams = {
  limiterCount: 20_000,
  limiterRounds: 7,
  bottleneckCount: 300,
  keyedCount: 400,
  slowMs: 25,
  fastMs: 1,
  batchCount: 20_000,
  warmup: 1,
  rounds: 3,
};

/** Resolves once `fire(countDown)` has called `countDown` `count` times. */
function countDownFrom(count: number, fire: (countDown: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let left = count;
    fire(() => {
      if (--left === 0) resolve();
    });
  });
}

/** A job as programs have them: called with its item, its result wanted. */
const task = async (item: number): Promise<number> => item;

const ourLimiter = (items: readonly number[], max: number): Variant => ({
  name: 'RateLimiter.run',
  ours: true,
  how: `gatherResults(items.map((item) => limiter.run(task, item))), windows [{ max: ${max}, per: 1000 }]`,
  run: async () => {
    const limiter = new RateLimiter({ max, per: 1000 });
    return await gatherResults(items.map((item) => limiter.run(task, item)));
  },
});

const FLOOR_DEFERRED = 'no limiter: Deferred per task (floor)';
const FLOOR_PROMISE = 'no limiter: Promise.all (floor)';

/** Rate-limiter overhead when the limit does not bind, against p-throttle: what the bookkeeping costs per task. */
export async function limiterComparison(p: PoliteParams): Promise<Comparison> {
  const count = p.limiterCount;
  const items = Array.from({ length: count }, (_, i) => i);
  // Generous enough never to bind within one run.
  const max = count * 10;
  const variants: Variant[] = [
    ourLimiter(items, max),
    {
      name: 'p-throttle',
      ours: false,
      how: 'Promise.all(items.map((item) => throttled(item))), limit per 1000 ms',
      run: () => {
        const throttled = pThrottle({ limit: max, interval: 1000 })(task);
        return Promise.all(items.map((item) => throttled(item)));
      },
    },
    {
      name: FLOOR_DEFERRED,
      ours: false,
      how: 'gatherResults(items.map((item) => Deferred.fromPromise(task(item)))): what run() returns, without the limiter',
      run: async () => await gatherResults(items.map((item) => Deferred.fromPromise(task(item)))),
    },
    {
      name: FLOOR_PROMISE,
      ours: false,
      how: 'Promise.all(items.map(task)): the tasks alone',
      run: () => Promise.all(items.map((item) => task(item))),
    },
  ];
  const rows = await interleave(variants, { warmup: p.warmup, rounds: p.limiterRounds, items: count });
  const vsThrottle = ratio(rows, 'p-throttle', 'RateLimiter.run');
  const floorShare = rowNamed(rows, FLOOR_DEFERRED).value / rowNamed(rows, 'RateLimiter.run').value;
  return {
    id: 'limiter',
    title: 'Rate limiter overhead',
    workload: `${count.toLocaleString('en-US')} async tasks called with their item, results gathered, a rate limit that does not bind`,
    unit: 'ms',
    baseline: 'RateLimiter.run',
    rows,
    targets: [
      { text: ">= 3x p-throttle's tasks per second", holds: vsThrottle >= 3, actual: times(vsThrottle) },
    ],
    notes: [
      `Without a limiter, a Deferred per task gathered by gatherResults (what run() returns) takes ${Math.round(100 * floorShare)}% of RateLimiter.run's time and is ${times(rowNamed(rows, 'p-throttle').value / rowNamed(rows, FLOOR_DEFERRED).value)} p-throttle's speed: a limiter that cost nothing would be about that fast.`,
    ],
  };
}

/** The same against Bottleneck, on fewer tasks: Bottleneck schedules each job through a timer. */
export async function limiterBottleneckComparison(p: PoliteParams): Promise<Comparison> {
  const count = p.bottleneckCount;
  const items = Array.from({ length: count }, (_, i) => i);
  const max = count * 10;
  const variants: Variant[] = [
    ourLimiter(items, max),
    {
      name: 'Bottleneck',
      ours: false,
      how: 'Promise.all(items.map((item) => limiter.schedule(task, item))); reservoir refreshed every second',
      run: async () => {
        const limiter = new Bottleneck({
          reservoir: max,
          reservoirRefreshAmount: max,
          reservoirRefreshInterval: 1000,
        });
        const results = await Promise.all(items.map((item) => limiter.schedule(task, item)));
        await limiter.disconnect();
        return results;
      },
    },
  ];
  const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
  const vsBottleneck = ratio(rows, 'Bottleneck', 'RateLimiter.run');
  return {
    id: 'limiter-bottleneck',
    title: 'Rate limiter overhead against Bottleneck',
    workload: `${count.toLocaleString('en-US')} async tasks called with their item, results gathered, a rate limit that does not bind`,
    unit: 'ms',
    baseline: 'RateLimiter.run',
    rows,
    targets: [
      { text: ">= 3x Bottleneck's tasks per second", holds: vsBottleneck >= 3, actual: times(vsBottleneck) },
    ],
  };
}

const KEYS = 20;
const CONCURRENCY = 10;
const PER_KEY = 2;

/**
 * One slow key among 20: how long the items of the 19 other keys take to finish. A pool without look-ahead lets the
 * slow key's waiting items take its slots; a Bottleneck group queues everything eagerly.
 */
export async function perKeyComparison(p: PoliteParams): Promise<Comparison> {
  const { keyedCount: count, slowMs, fastMs } = p;
  const keyOf = (i: number) => `host${i % KEYS}`;
  const fastTotal = count - Math.ceil(count / KEYS);
  /** A run: returns the milliseconds until every fast-key item was done. */
  type Run = () => Promise<number>;
  const job = (i: number, state: { fastLeft: number; start: number; fastDone: number }) =>
    new Promise<void>((resolve) => {
      setTimeout(
        () => {
          if (i % KEYS !== 0 && --state.fastLeft === 0) state.fastDone = performance.now() - state.start;
          resolve();
        },
        i % KEYS === 0 ? slowMs : fastMs,
      );
    });
  const fresh = () => ({ fastLeft: fastTotal, start: performance.now(), fastDone: Number.NaN });
  function* items() {
    for (let i = 0; i < count; i++) yield i;
  }
  const variants: { name: string; ours: boolean; how: string; run: Run }[] = [
    {
      name: 'keyedParallel',
      ours: true,
      how: `keyedParallel over a generator, concurrency ${CONCURRENCY}, perKey ${PER_KEY}, look-ahead 1000`,
      run: async () => {
        const s = fresh();
        await keyedParallel(items(), CONCURRENCY, (i) => job(i, s), {
          key: keyOf,
          perKey: PER_KEY,
          lookAhead: 1000,
        });
        return s.fastDone;
      },
    },
    {
      name: 'Bottleneck group',
      ours: false,
      how: `group.key(host).schedule(job) for every item; maxConcurrent ${PER_KEY} per key, chained to one of ${CONCURRENCY}`,
      run: async () => {
        const s = fresh();
        const global = new Bottleneck({ maxConcurrent: CONCURRENCY });
        const group = new Bottleneck.Group({ maxConcurrent: PER_KEY });
        group.on('created', (limiter) => {
          limiter.chain(global);
        });
        const ps = [];
        for (let i = 0; i < count; i++) ps.push(group.key(keyOf(i)).schedule(() => job(i, s)));
        await Promise.all(ps);
        await global.disconnect();
        for (const limiter of group.limiters()) await limiter.limiter.disconnect();
        return s.fastDone;
      },
    },
    {
      name: 'naive lazy pool',
      ours: false,
      how: `parallel over a generator, each job waiting for its key in a KeyedSemaphore(${PER_KEY}) while it holds its slot`,
      run: async () => {
        const s = fresh();
        const keyed = new KeyedSemaphore(PER_KEY);
        await parallel(items(), CONCURRENCY, (i) => keyed.run(keyOf(i), job, i, s));
        return s.fastDone;
      },
    },
  ];
  for (let w = 0; w < p.warmup; w++) for (const v of variants) await v.run();
  const samples = variants.map(() => [] as number[]);
  for (let r = 0; r < p.rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (r + k) % variants.length;
      samples[i]?.push(await (variants[i] as (typeof variants)[number]).run());
    }
  }
  const rows: Row[] = variants.map((v, i) => ({
    name: v.name,
    ours: v.ours,
    how: v.how,
    value: median(samples[i] as number[]),
    samples: samples[i] as number[],
  }));
  const vsNaive = ratio(rows, 'naive lazy pool', 'keyedParallel');
  const vsGroup = ratio(rows, 'Bottleneck group', 'keyedParallel');
  return {
    id: 'per-key',
    title: 'Per-key limits, one slow key among 20',
    workload: `${count.toLocaleString('en-US')} items over ${KEYS} keys (one key's jobs take ${slowMs} ms, the others' ${fastMs} ms); time until the 19 fast keys are done`,
    unit: 'ms',
    baseline: 'keyedParallel',
    rows,
    targets: [
      {
        text: 'the fast keys finish sooner than with a naive lazy pool',
        holds: vsNaive > 1,
        actual: times(vsNaive),
      },
      {
        text: 'the fast keys finish about as soon as with an eager Bottleneck group (>= 0.8x)',
        holds: vsGroup >= 0.8,
        actual: times(vsGroup),
      },
    ],
    notes: [
      'A Bottleneck group holds every job in memory from the start; keyedParallel holds at most concurrency + look-ahead items.',
    ],
  };
}

/** Batcher overhead next to DataLoader, with a bulk function that answers at once. */
export async function batcherComparison(p: PoliteParams): Promise<Comparison> {
  const count = p.batchCount;
  const maxSize = 100;
  const variants: Variant[] = [
    {
      name: 'batcher',
      ours: true,
      how: `b.load(i) for every item, maxSize ${maxSize}`,
      run: () =>
        countDownFrom(count, (countDown) => {
          const b = batcher(async (keys: number[]) => keys, { maxSize, concurrency: 1000 });
          for (let i = 0; i < count; i++) b.load(i).addCallback(countDown);
        }),
    },
    {
      name: 'DataLoader',
      ours: false,
      how: `Promise.all of loader.load(i), maxBatchSize ${maxSize}, no cache`,
      run: async () => {
        const loader = new DataLoader(async (keys: readonly number[]) => keys, {
          maxBatchSize: maxSize,
          cache: false,
        });
        const ps = [];
        for (let i = 0; i < count; i++) ps.push(loader.load(i));
        await Promise.all(ps);
      },
    },
  ];
  const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
  const vsDataLoader = ratio(rows, 'DataLoader', 'batcher');
  return {
    id: 'batcher',
    title: 'Batcher overhead',
    workload: `${count.toLocaleString('en-US')} loads of distinct keys, batches of ${maxSize}, a bulk function that answers at once`,
    unit: 'ms',
    baseline: 'batcher',
    rows,
    targets: [
      {
        text: 'within 1.5x of DataLoader (ratio >= 0.67)',
        holds: vsDataLoader >= 1 / 1.5,
        actual: times(vsDataLoader),
      },
    ],
  };
}

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./polite-memory-child.ts', import.meta.url));

export interface KeyedMemoryParams {
  count: number;
  rounds: number;
}

export const KEYED_MEMORY_FULL: KeyedMemoryParams = { count: 1_000_000, rounds: 3 };
export const KEYED_MEMORY_QUICK: KeyedMemoryParams = { count: 200_000, rounds: 1 };

const KEYED_LIMIT_MB = 32;

/** Peak heap growth of a keyed stream over lazy items, next to the same work queued eagerly per key. */
export async function keyedMemoryComparison(p: KeyedMemoryParams): Promise<Comparison> {
  const contestants = [
    {
      variant: 'keyedParallelStream',
      ours: true,
      how: 'keyedParallelStream over a generator, 20 keys, concurrency 50, perKey 5, look-ahead 1000',
    },
    {
      variant: 'keyedParallelStream, look-ahead full',
      ours: true,
      how: 'the same with perKey 1: 20 jobs run, 1000 items wait in the look-ahead buffer',
    },
    {
      variant: 'keyedParallelStream, a key per item',
      ours: true,
      how: 'the same with a new key per item ("host" + i.toString(36)), each dropped when its job ends',
    },
    {
      variant: 'KeyedSemaphore eager',
      ours: false,
      how: 'keyed.run(key, task, i) for every item at once, then await them all',
    },
  ];
  const rows: Row[] = [];
  for (const c of contestants) {
    const samples: number[] = [];
    for (let r = 0; r < p.rounds; r++) {
      const { stdout } = await run(process.execPath, ['--expose-gc', CHILD, c.variant, String(p.count)], {
        maxBuffer: 1 << 20,
      });
      const { peakMB } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { peakMB: number };
      samples.push(peakMB);
    }
    rows.push({ name: c.variant, ours: c.ours, how: c.how, value: median(samples), samples });
  }
  const worst = Math.max(...rows.filter((r) => r.ours).map((r) => r.value));
  return {
    id: 'keyed-memory',
    title: 'Per-key limits: memory',
    workload: `${p.count.toLocaleString('en-US')} no-op tasks, peak heapUsed growth over a collected heap`,
    unit: 'MB',
    baseline: 'keyedParallelStream',
    rows,
    targets: [
      {
        text: `keyedParallelStream under ${KEYED_LIMIT_MB} MB (O(concurrency + look-ahead)) in every shape`,
        holds: worst < KEYED_LIMIT_MB,
        actual: `${worst.toFixed(1)} MB at most`,
      },
    ],
    notes: [
      'Peak heapUsed is sampled every 1,024 items from inside the jobs, with no collection forced during the run, so it counts garbage not yet collected as well as what the stream holds.',
      'The key-per-item row builds its keys in base 36. Decimal keys ("host" + i) for a million distinct numbers raise the peak by about 30 MB on Node 24 whatever uses them: the 20-key row rises as much when each job also builds and drops such a string. A collection forced mid-run leaves 0.1 to 0.25 MB in every shape, decimal keys included.',
    ],
  };
}
