// The polite benchmark scenarios, run with tiny counts: each must produce a well-formed result. Timings and ratios are
// never asserted — on a busy machine they mean nothing in a test.
import { describe, expect, it } from 'vitest';
import { COMPARISON_IDS } from '../../../bench/comparisons.ts';
import type { Comparison } from '../../../bench/harness.ts';
import { validateComparison } from '../../../bench/report.ts';
import {
  batcherComparison,
  keyedMemoryComparison,
  limiterBottleneckComparison,
  limiterComparison,
  type PoliteParams,
  perKeyComparison,
} from '../../../bench/scenarios/polite.ts';

const TINY: PoliteParams = {
  limiterCount: 100,
  limiterRounds: 1,
  bottleneckCount: 20,
  keyedCount: 60,
  slowMs: 5,
  fastMs: 1,
  batchCount: 500,
  warmup: 0,
  rounds: 1,
};

function expectWellFormed(c: Comparison, rowNames: string[]): void {
  expect(validateComparison(c)).toEqual([]);
  expect(c.notMeasured).toBeUndefined();
  expect(c.rows.map((r) => r.name)).toEqual(rowNames);
  for (const t of c.targets) expect(typeof t.holds).toBe('boolean');
}

describe('polite benchmark scenarios (tiny counts)', () => {
  it('are registered with the runner', () => {
    for (const id of ['limiter', 'limiter-bottleneck', 'per-key', 'batcher', 'keyed-memory'])
      expect(COMPARISON_IDS).toContain(id);
  });

  it('measure the rate limiter against p-throttle, and against Bottleneck', async () => {
    expectWellFormed(await limiterComparison(TINY), [
      'RateLimiter.run',
      'p-throttle',
      'no limiter: Deferred per task (floor)',
      'no limiter: Promise.all (floor)',
    ]);
    expectWellFormed(await limiterBottleneckComparison(TINY), ['RateLimiter.run', 'Bottleneck']);
  });

  it('measure per-key limits against a Bottleneck group and a naive lazy pool', async () => {
    expectWellFormed(await perKeyComparison(TINY), ['keyedParallel', 'Bottleneck group', 'naive lazy pool']);
  });

  it('measure the batcher against DataLoader', async () => {
    expectWellFormed(await batcherComparison(TINY), ['batcher', 'DataLoader']);
  });

  it('measure the heap of a keyed stream in child processes', async () => {
    expectWellFormed(await keyedMemoryComparison({ count: 5_000, rounds: 1 }), [
      'keyedParallelStream',
      'keyedParallelStream, look-ahead full',
      'keyedParallelStream, a key per item',
      'KeyedSemaphore eager',
    ]);
  });
});
