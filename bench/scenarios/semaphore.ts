import async from 'async';
import { DeferredList, DeferredSemaphore, gatherResults } from 'async-batching';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { bareWorkers, type Comparison, interleave, range, ratio, times, type Variant } from '../harness.ts';

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
      name: P_LIMIT_WITH_ARG,
      ours: false,
      how: 'Promise.all(items.map((item) => limit(task, item))): the task takes its item',
      run: async () => {
        const limit = pLimit(concurrency);
        await Promise.all(items.map((item) => limit(noopWithArg, item)));
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
      how: `${concurrency} async workers sharing one iterator`,
      run: () => bareWorkers(range(count), concurrency, noop),
    },
  ];
  const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
  const vsLimit = ratio(rows, 'p-limit', 'DeferredSemaphore.run');
  const withArgVsLimit = ratio(rows, P_LIMIT_WITH_ARG, WITH_ARG);
  for (const row of rows) if (row.name === P_LIMIT_WITH_ARG) row.against = WITH_ARG;
  return {
    id: 'semaphore',
    title: 'Semaphore overhead',
    workload: `${count.toLocaleString('en-US')} no-op async tasks (without, then with an argument), concurrency ${concurrency}`,
    unit: 'ms',
    baseline: 'DeferredSemaphore.run',
    rows,
    targets: [
      { text: ">= 5x p-limit's tasks per second", holds: vsLimit >= 5, actual: times(vsLimit) },
      {
        text: ">= 5x p-limit's tasks per second, each task called with its item and the results gathered",
        holds: withArgVsLimit >= 5,
        actual: times(withArgVsLimit),
      },
    ],
  };
}
