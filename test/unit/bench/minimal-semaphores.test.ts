// The floors the semaphore rows are held against must be limiters in earnest: a floor that skipped work would make
// every ratio against it look worse than it is.
import { describe, expect, it } from 'vitest';
import { minimalSemaphore, minimalThenableSemaphore } from '../../../bench/minimal-semaphore.ts';

const limiters = { minimalSemaphore, minimalThenableSemaphore };

describe.each(Object.entries(limiters))('%s', (_name, make) => {
  it('runs at most `concurrency` jobs at once and hands back each outcome in order', async () => {
    const limit = make(3);
    let running = 0;
    let peak = 0;
    const job = async (i: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, i % 4));
      running--;
      if (i === 7) throw new Error('seven');
      return i * 2;
    };
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => limit(job, i)));
    expect(peak).toBe(3);
    expect(outcomes[7]).toEqual({ status: 'rejected', reason: new Error('seven') });
    expect(
      outcomes.filter((_, i) => i !== 7).map((o) => (o as PromiseFulfilledResult<number>).value),
    ).toEqual(Array.from({ length: 20 }, (_, i) => i * 2).filter((_, i) => i !== 7));
  });

  it('starts the next waiting job when one ends, oldest first', async () => {
    const limit = make(1);
    const started: number[] = [];
    const job = async (i: number) => {
      started.push(i);
      await null;
      return i;
    };
    expect(await Promise.all([0, 1, 2, 3].map((i) => limit(job, i)))).toEqual([0, 1, 2, 3]);
    expect(started).toEqual([0, 1, 2, 3]);
  });
});

it('hands out handles that are not native Promises from the thenable floor', () => {
  const handle = minimalThenableSemaphore(1)(async () => 1, undefined);
  expect(handle).not.toBeInstanceOf(Promise);
  expect(typeof handle.then).toBe('function');
});
