import async from 'async';
import { Cooperator, type Deferred, DeferredList, inBatches, parallel, parallelStream } from 'async-batching';
import pMap, { pMapIterable } from 'p-map';
import {
  bareWorkersMap,
  type Comparison,
  interleave,
  median,
  range,
  ratio,
  rowNamed,
  times,
  type Variant,
} from '../harness.ts';

export interface LazyParams {
  count: number;
  concurrency: number;
  warmup: number;
  rounds: number;
}

export const LAZY_FULL: LazyParams = { count: 200_000, concurrency: 50, warmup: 2, rounds: 15 };
export const LAZY_QUICK: LazyParams = { count: 200_000, concurrency: 50, warmup: 1, rounds: 5 };

const double = async (x: number): Promise<number> => x * 2;

/**
 * The median time of a `for await` over `count` outcomes handed out by an async iterator that has them all ready,
 * each as a new settled Promise of a new result: one Promise, two objects and one `await` per outcome.
 */
async function asyncIterationCost(count: number, rounds: number): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    let i = 0;
    const ready: AsyncIterableIterator<{ index: number; ok: true; value: number }> = {
      next: () =>
        Promise.resolve(
          i < count
            ? { done: false as const, value: { index: i, ok: true as const, value: i++ } }
            : { done: true as const, value: undefined },
        ),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const values: number[] = [];
    const start = performance.now();
    for await (const outcome of ready) values[outcome.index] = outcome.value;
    if (r > 0) samples.push(performance.now() - start);
  }
  return median(samples);
}

/** Comparison 2: mapping a lazily generated batch, at most `concurrency` at a time, keeping the results. */
export async function lazyComparison(p: LazyParams): Promise<Comparison> {
  const { count, concurrency } = p;
  const variants: Variant[] = [
    {
      name: 'parallel',
      ours: true,
      how: 'await parallel(generator, n, fn)',
      run: async () => {
        await parallel(range(count), concurrency, double);
      },
    },
    {
      name: 'parallelStream',
      ours: true,
      how: 'for await (const outcome of parallelStream(generator, n, fn))',
      run: async () => {
        const values: number[] = [];
        for await (const outcome of parallelStream(range(count), concurrency, double)) {
          if (outcome.ok) values[outcome.index] = outcome.value;
        }
      },
    },
    {
      name: 'parallelStream, inBatches',
      ours: true,
      how: 'for await (const batch of inBatches(parallelStream(generator, n, fn))): one await per batch of ready outcomes',
      run: async () => {
        const values: number[] = [];
        for await (const batch of inBatches(parallelStream(range(count), concurrency, double))) {
          for (const outcome of batch) if (outcome.ok) values[outcome.index] = outcome.value;
        }
      },
    },
    {
      name: 'Cooperator.coiterate',
      ours: true,
      how: 'one generator of fn(item), n coiterate() tasks, DeferredList of the tasks',
      run: async () => {
        const results: number[] = [];
        function* work(): Generator<Promise<number>> {
          for (const i of range(count)) yield double(i).then((v) => (results[i] = v));
        }
        const cooperator = new Cooperator();
        const shared = work();
        const tasks: Deferred<typeof shared>[] = [];
        for (let k = 0; k < concurrency; k++) tasks.push(cooperator.coiterate(shared));
        await new DeferredList(tasks);
      },
    },
    {
      name: 'p-map',
      ours: false,
      how: 'await pMap(generator, fn, { concurrency: n })',
      run: () => pMap(range(count), double, { concurrency }),
    },
    {
      name: 'p-map pMapIterable',
      ours: false,
      how: 'for await (const value of pMapIterable(generator, fn, { concurrency: n })): the streaming peer',
      run: async () => {
        const values: number[] = [];
        let i = 0;
        for await (const value of pMapIterable(range(count), double, { concurrency })) values[i++] = value;
      },
    },
    {
      name: 'async.mapLimit',
      ours: false,
      how: 'await async.mapLimit(generator, n, fn)',
      run: () => async.mapLimit(range(count), concurrency, double),
    },
    {
      name: 'bare workers (floor)',
      ours: false,
      how: `${concurrency} async workers sharing one iterator, results by index`,
      run: () => bareWorkersMap(range(count), concurrency, double),
    },
  ];
  const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
  const floor = 'bare workers (floor)';
  const targets = [];
  for (const ours of ['parallel', 'parallelStream', 'parallelStream, inBatches']) {
    const vsMapLimit = ratio(rows, 'async.mapLimit', ours);
    targets.push({
      text: `${ours} faster than async.mapLimit`,
      holds: vsMapLimit > 1,
      actual: times(vsMapLimit),
    });
    const vsFloor = 1 / ratio(rows, floor, ours);
    targets.push({
      text: `${ours} within 2x of the floor`,
      holds: vsFloor <= 2,
      actual: `${times(vsFloor)} the floor's time`,
    });
  }
  const coop = 1 / ratio(rows, floor, 'Cooperator.coiterate');
  const protocol = await asyncIterationCost(count, p.rounds);
  const floorMs = rowNamed(rows, floor).value;
  return {
    id: 'lazy',
    title: 'Lazy batching',
    workload: `${count.toLocaleString('en-US')} items from a generator, async fn, concurrency ${concurrency}, results kept`,
    unit: 'ms',
    baseline: 'parallel',
    rows,
    targets,
    notes: [
      `The Cooperator takes ${times(coop)} the floor's time and has no target of its own. It works as Twisted's does: ` +
        'a task that yields a pending job sleeps until the job settles, and a woken task runs on the next tick, which ' +
        `is scheduled with setImmediate — about ${Math.round(count / concurrency).toLocaleString('en-US')} ` +
        'event-loop turns for this batch. No-op jobs make that visible; jobs doing real I/O hide it.',
      `A \`for await\` over ${count.toLocaleString('en-US')} outcomes that are all ready, each a new settled ` +
        `Promise of a new result, with no job behind them, takes ${protocol.toFixed(1)} ms ` +
        `(${times(protocol / floorMs)} the floor); one whose steps allocate nothing costs several times less ` +
        '(bench/ab-stream.ts, row "for await floor"): what a stream allocates per outcome counts more than the `await`.',
      'async.mapLimit and parallel hand each result over with a plain call; a stream pays one more microtask per ' +
        "outcome, the consumer's `await`, so parallelStream and async.mapLimit come out about even on no-op jobs. " +
        `Against the streaming peer it replaces, p-map's pMapIterable, parallelStream takes ` +
        `${times(1 / ratio(rows, 'p-map pMapIterable', 'parallelStream'))} its time. Taken a batch at a time ` +
        `(\`inBatches\`: one \`await\` per batch of ready outcomes), it takes ` +
        `${times(1 / ratio(rows, 'parallelStream', 'parallelStream, inBatches'))} the time of one \`await\` per outcome.`,
    ],
  };
}
