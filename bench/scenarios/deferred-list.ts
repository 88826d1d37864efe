import { type Deferred, DeferredList, gatherResults, succeed } from 'async-batching';
import { type Comparison, median, type Row, ratio, times } from '../harness.ts';

export interface DeferredListParams {
  count: number;
  warmup: number;
  rounds: number;
}

export const DEFERRED_LIST_FULL: DeferredListParams = { count: 100_000, warmup: 3, rounds: 15 };
export const DEFERRED_LIST_QUICK: DeferredListParams = { count: 100_000, warmup: 2, rounds: 7 };

/**
 * Comparison 3: gathering inputs that have all settled already, every outcome (DeferredList, Promise.allSettled) or the
 * results alone (gatherResults, Promise.all). Inputs are made before the clock starts (a fresh set per round: a
 * Deferred's chain is consumed by the list that waits on it), so only the gathering is timed; no GC is forced.
 */
export async function deferredListComparison(p: DeferredListParams): Promise<Comparison> {
  const { count } = p;
  const contestants = [
    {
      name: 'DeferredList',
      ours: true,
      how: 'await new DeferredList(firedDeferreds)',
      make: (): Deferred<number>[] => Array.from({ length: count }, (_, i) => succeed(i)),
      gather: async (inputs: unknown) => {
        await new DeferredList(inputs as Deferred<number>[]);
      },
    },
    {
      name: 'gatherResults',
      ours: true,
      how: 'await gatherResults(firedDeferreds): the results alone',
      make: (): Deferred<number>[] => Array.from({ length: count }, (_, i) => succeed(i)),
      gather: async (inputs: unknown) => {
        await gatherResults(inputs as Deferred<number>[]);
      },
    },
    {
      name: 'Promise.all',
      ours: false,
      how: 'await Promise.all(resolvedPromises)',
      make: (): Promise<number>[] => Array.from({ length: count }, (_, i) => Promise.resolve(i)),
      gather: async (inputs: unknown) => {
        await Promise.all(inputs as Promise<number>[]);
      },
    },
    {
      name: 'Promise.allSettled',
      ours: false,
      how: 'await Promise.allSettled(resolvedPromises)',
      make: (): Promise<number>[] => Array.from({ length: count }, (_, i) => Promise.resolve(i)),
      gather: async (inputs: unknown) => {
        await Promise.allSettled(inputs as Promise<number>[]);
      },
    },
  ];
  const samples = contestants.map(() => [] as number[]);
  for (let r = -p.warmup; r < p.rounds; r++) {
    for (let k = 0; k < contestants.length; k++) {
      const i = (Math.abs(r) + k) % contestants.length;
      const inputs = contestants[i].make();
      const start = performance.now();
      await contestants[i].gather(inputs);
      const elapsed = performance.now() - start;
      if (r >= 0) samples[i].push(elapsed);
    }
  }
  const rows: Row[] = contestants.map((c, i) => ({
    name: c.name,
    ours: c.ours,
    how: c.how,
    value: median(samples[i]),
    samples: samples[i],
    perSecond: count / (median(samples[i]) / 1000),
  }));
  const share = 1 / ratio(rows, 'Promise.allSettled', 'DeferredList');
  const gatherShare = 1 / ratio(rows, 'Promise.all', 'gatherResults');
  return {
    id: 'deferred-list',
    title: 'DeferredList vs Promise.allSettled, gatherResults vs Promise.all',
    workload: `${count.toLocaleString('en-US')} inputs that have already settled, each kind fed its own`,
    unit: 'ms',
    baseline: 'DeferredList',
    rows,
    targets: [
      {
        text: 'at most 1.5x the time of Promise.allSettled',
        holds: share <= 1.5,
        actual: `${times(share)} its time`,
      },
    ],
    notes: [`gatherResults takes ${times(gatherShare)} the time of Promise.all for the same inputs.`],
  };
}
