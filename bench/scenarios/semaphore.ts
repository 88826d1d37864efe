import async from 'async';
import { DeferredList, DeferredSemaphore } from 'async-batching';
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

/** Comparison 1: what a concurrency limit costs per task, with tasks that do nothing. */
export async function semaphoreComparison(p: SemaphoreParams): Promise<Comparison> {
  const { count, concurrency } = p;
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
  return {
    id: 'semaphore',
    title: 'Semaphore overhead',
    workload: `${count.toLocaleString('en-US')} no-op async tasks, concurrency ${concurrency}`,
    unit: 'ms',
    baseline: 'DeferredSemaphore.run',
    rows,
    targets: [{ text: ">= 5x p-limit's tasks per second", holds: vsLimit >= 5, actual: times(vsLimit) }],
  };
}
