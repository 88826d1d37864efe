import { Deferred, parallelStream } from 'async-batching';
import { describe, expect, it } from 'vitest';
import { gc } from '../../helpers/gc.ts';

const N = 1_000_000;
const LIMIT = 32 * 1024 * 1024;

function* numbers(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

const job = (x: number) => Promise.resolve(x * 2);

describe('memory', () => {
  it('parallelStream over 1,000,000 items at concurrency 50 keeps heap growth under 32 MB', async () => {
    gc();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    let count = 0;
    let sum = 0;
    for await (const o of parallelStream(numbers(N), 50, job)) {
      if (o.ok) sum += o.value;
      if (++count % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    expect(count).toBe(N);
    expect(sum).toBe(N * (N - 1));
    expect(peak - base).toBeLessThan(LIMIT);
  });

  it('materialising the same work eagerly does not stay under 32 MB', async () => {
    gc();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const all: Deferred<number>[] = [];
    for (const x of numbers(N)) {
      all.push(Deferred.fromPromise(job(x)));
      if (all.length % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    let sum = 0;
    for (const d of all) sum += await d;
    expect(sum).toBe(N * (N - 1));
    expect(peak - base).toBeGreaterThan(LIMIT);
  });
});
