import async from 'async';
import { DeferredList, DeferredSemaphore, gatherResults } from 'async-batching';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { bareWorkers, type Comparison, interleave, range, ratio, times, type Variant } from '../harness.ts';
import { minimalSemaphore, minimalThenableSemaphore } from '../minimal-semaphore.ts';

export interface SemaphoreParams {
  count: number;
  concurrency: number;
  warmup: number;
  rounds: number;
}

export const SEMAPHORE_FULL: SemaphoreParams = { count: 200_000, concurrency: 50, warmup: 2, rounds: 9 };
export const SEMAPHORE_QUICK: SemaphoreParams = { count: 200_000, concurrency: 50, warmup: 1, rounds: 5 };

const noop = async (): Promise<void> => {};
const noopWithArg = async (_item: number): Promise<void> => {};

/** The row of the shape most programs have: a job called with its item, the results gathered. */
const WITH_ARG = 'DeferredSemaphore.run(fn, item) + gatherResults';
const P_LIMIT_WITH_ARG = 'p-limit(fn, item)';
/** The floor of the eager shape (one handle per job): see bench/minimal-semaphore.ts. */
const MINIMAL = 'minimal eager semaphore (floor)';
/** The floor of the eager shape when its handles are not native Promises: anchor of `Promise.all` over `sem.run`. */
const MINIMAL_THENABLE = 'minimal eager semaphore, thenable handles (floor)';
/** The idiom p-limit's users write, and the notebooks' async/await sections. */
const PROMISE_ALL = 'Promise.all over sem.run(fn, item)';
const AWAIT_LOOP = 'await in a loop over sem.run(fn, item)';
const P_LIMIT_LOOP = 'p-limit(fn, item), await in a loop';

/** Comparison 1: what a concurrency limit costs per task, with tasks that do nothing. */
export async function semaphoreComparison(p: SemaphoreParams): Promise<Comparison> {
  const { count, concurrency } = p;
  const items = Array.from({ length: count }, (_, i) => i);
  const variants: Variant[] = [
    {
      name: 'DeferredSemaphore.run',
      ours: true,
      how: 'DeferredList of sem.run(task) for every item',
      run: async () => {
        const sem = new DeferredSemaphore(concurrency);
        const ds = [];
        for (let i = 0; i < count; i++) ds.push(sem.run(noop));
        await new DeferredList(ds);
      },
    },
    {
      name: 'DeferredSemaphore.run, no DeferredList',
      ours: true,
      how: 'sem.run(task).addCallback(countDown) for every item: the semaphore alone',
      run: () =>
        new Promise<void>((resolve) => {
          const sem = new DeferredSemaphore(concurrency);
          let left = count;
          const countDown = () => {
            if (--left === 0) resolve();
          };
          for (let i = 0; i < count; i++) sem.run(noop).addCallback(countDown);
        }),
    },
    {
      name: WITH_ARG,
      ours: true,
      how: 'gatherResults(items.map((item) => sem.run(task, item))): the task takes its item',
      run: async () => {
        const sem = new DeferredSemaphore(concurrency);
        await gatherResults(items.map((item) => sem.run(noopWithArg, item)));
      },
    },
    {
      name: PROMISE_ALL,
      ours: true,
      how: "await Promise.all(items.map((item) => sem.run(task, item))): p-limit's idiom over Deferreds",
      run: async () => {
        const sem = new DeferredSemaphore(concurrency);
        await Promise.all(items.map((item) => sem.run(noopWithArg, item)));
      },
    },
    {
      name: AWAIT_LOOP,
      ours: true,
      how: 'every sem.run(task, item) started, then `for (const d of ds) await d`',
      run: async () => {
        const sem = new DeferredSemaphore(concurrency);
        const ds = items.map((item) => sem.run(noopWithArg, item));
        for (const d of ds) await d;
      },
    },
    {
      name: MINIMAL,
      ours: false,
      how: 'Promise.all over a 20-line eager limiter: one Promise per job, an array as the queue (bench/minimal-semaphore.ts)',
      run: async () => {
        const limit = minimalSemaphore(concurrency);
        await Promise.all(items.map((item) => limit(noopWithArg, item)));
      },
    },
    {
      name: MINIMAL_THENABLE,
      ours: false,
      how: 'the same limiter, each handle an object whose then() keeps what it is given: V8 adopts it as a Deferred (bench/minimal-semaphore.ts)',
      run: async () => {
        const limit = minimalThenableSemaphore(concurrency);
        await Promise.all(items.map((item) => limit(noopWithArg, item)));
      },
    },
    {
      name: P_LIMIT_WITH_ARG,
      ours: false,
      how: 'Promise.all(items.map((item) => limit(task, item))): the task takes its item',
      run: async () => {
        const limit = pLimit(concurrency);
        await Promise.all(items.map((item) => limit(noopWithArg, item)));
      },
    },
    {
      name: P_LIMIT_LOOP,
      ours: false,
      how: 'every limit(task, item) started, then `for (const p of ps) await p`',
      run: async () => {
        const limit = pLimit(concurrency);
        const ps = items.map((item) => limit(noopWithArg, item));
        for (const p of ps) await p;
      },
    },
    {
      name: 'p-limit',
      ours: false,
      how: 'Promise.all of limit(task) for every item',
      run: async () => {
        const limit = pLimit(concurrency);
        const ps = [];
        for (let i = 0; i < count; i++) ps.push(limit(noop));
        await Promise.all(ps);
      },
    },
    {
      name: 'p-queue',
      ours: false,
      how: 'Promise.all of queue.add(task) for every item',
      run: async () => {
        const queue = new PQueue({ concurrency });
        const ps = [];
        for (let i = 0; i < count; i++) ps.push(queue.add(noop));
        await Promise.all(ps);
      },
    },
    {
      name: 'async.queue',
      ours: false,
      how: 'queue.push(every item), await queue.drain()',
      run: async () => {
        const queue = async.queue(noop, concurrency);
        const drained = queue.drain();
        for (let i = 0; i < count; i++) queue.push(i);
        await drained;
      },
    },
    {
      name: 'bare workers (floor)',
      ours: false,
      how: `${concurrency} async workers sharing one iterator: the floor of the lazy shape (no handle per job)`,
      run: () => bareWorkers(range(count), concurrency, noop),
    },
  ];
  const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
  const vsLimit = ratio(rows, 'p-limit', 'DeferredSemaphore.run');
  const withArgVsLimit = ratio(rows, P_LIMIT_WITH_ARG, WITH_ARG);
  const vsMinimal = ratio(rows, MINIMAL, WITH_ARG);
  const allVsLimit = ratio(rows, P_LIMIT_WITH_ARG, PROMISE_ALL);
  const loopVsLimit = ratio(rows, P_LIMIT_LOOP, AWAIT_LOOP);
  for (const row of rows) if (row.name === P_LIMIT_WITH_ARG) row.against = WITH_ARG;
  return {
    id: 'semaphore',
    title: 'Semaphore overhead',
    workload: `${count.toLocaleString('en-US')} no-op async tasks (without, then with an argument), concurrency ${concurrency}`,
    unit: 'ms',
    baseline: 'DeferredSemaphore.run',
    rows,
    targets: [
      {
        text: 'DeferredSemaphore + gatherResults within 1.25x of the minimal eager semaphore',
        holds: 1 / vsMinimal <= 1.25,
        actual: `${times(1 / vsMinimal)} its time`,
      },
      {
        text: "Promise.all over sem.run >= 2x p-limit's tasks per second (the same Promise.all)",
        holds: allVsLimit >= 2,
        actual: times(allVsLimit),
      },
      {
        text: 'await in a loop over sem.run at least as fast as over p-limit',
        holds: loopVsLimit >= 1,
        actual: times(loopVsLimit),
      },
    ],
    notes: [
      `DeferredSemaphore.run with a DeferredList is ${times(vsLimit)} p-limit's speed, and with each task called with its item and gathered, ${times(withArgVsLimit)}. The minimal eager semaphore is itself ${times(ratio(rows, P_LIMIT_WITH_ARG, MINIMAL))} p-limit: the old target of 5x p-limit asked more than the shape allows.`,
      `Promise.all over the minimal limiter's handles, when they are not native Promises, is ${times(ratio(rows, P_LIMIT_WITH_ARG, MINIMAL_THENABLE))} p-limit's speed: no limiter that hands out Deferreds can be faster than that floor, which keeps no async context for its waiting jobs. Promise.all over sem.run takes ${times(1 / ratio(rows, MINIMAL_THENABLE, PROMISE_ALL))} its time.`,
    ],
  };
}
