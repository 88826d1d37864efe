// Whatever a job returns is its outcome, in the keyed pools as in the plain ones: a result whose `then` getter throws
// fails that job, and the batch goes on, instead of a synchronous throw that left the pool waiting forever.
import { Deferred, keyedParallel, maybeDeferred, parallel, RateLimiter } from 'async-batching';
import { describe, expect, it } from 'vitest';

const boom = new Error('then getter');
function hostile(): object {
  return {
    get then() {
      throw boom;
    },
  };
}

describe('a job result whose then getter throws is that job failure', () => {
  it('maybeDeferred returns a failed Deferred instead of throwing', () => {
    const d = maybeDeferred(hostile);
    expect(d).toBeInstanceOf(Deferred);
    let error: unknown;
    d.addErrback((f) => {
      error = f.value;
    });
    expect(error).toBe(boom);
  });

  it('RateLimiter.run returns a failed Deferred instead of throwing, started at once or queued', () => {
    const limiter = new RateLimiter({ max: 1, per: 1_000 });
    const first = limiter.run(hostile);
    const errors: unknown[] = [];
    first.addErrback((f) => {
      errors.push(f.value);
    });
    expect(errors).toEqual([boom]);
  });

  it('keyedParallel records the failure and runs the other items', async () => {
    const entries = await keyedParallel([1, 2, 3, 4], 2, (n) => (n === 2 ? hostile() : n * 10), {
      key: (n) => `k${n % 2}`,
      perKey: 1,
    });
    expect(entries.map(([ok, v]) => (ok ? v : (v as { value: unknown }).value))).toEqual([10, boom, 30, 40]);
  });

  it('parallel with a key records the failure and runs the other items', async () => {
    const entries = await parallel([1, 2, 3], 2, (n: number) => (n === 1 ? hostile() : n), {
      key: () => 'one host',
      perKey: 2,
    });
    expect(entries.map(([ok]) => ok)).toEqual([false, true, true]);
  });

  it('parallel with a key and a rate records the failure and runs the other items', async () => {
    const rate = new RateLimiter({ max: 100, per: 1_000 });
    const entries = await parallel([1, 2, 3], 2, (n: number) => (n === 3 ? hostile() : n), {
      key: (n: number) => String(n),
      perKey: 1,
      rate,
    });
    expect(entries.map(([ok]) => ok)).toEqual([true, true, false]);
  });
});
