import { AsyncLocalStorage } from 'node:async_hooks';
import {
  CancelledError,
  Deferred,
  DeferredList,
  DeferredLock,
  DeferredSemaphore,
  type Failure,
} from 'async-batching';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** A job whose outcome the test decides: it returns a Deferred and records when it runs. */
function controlledJobs() {
  const pending: Deferred<string>[] = [];
  const started: number[] = [];
  const job = (i: number) => {
    started.push(i);
    const d = new Deferred<string>();
    pending.push(d);
    return d;
  };
  return { pending, started, job };
}

describe('DeferredSemaphore', () => {
  it('rejects a token count that is not a whole number >= 1', () => {
    expect(() => new DeferredSemaphore(0)).toThrow(
      new RangeError('Expected `tokens` to be a whole number >= 1, got 0'),
    );
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new DeferredSemaphore(bad as number)).toThrow(RangeError);
    }
    for (const bad of ['2', undefined]) expect(() => new DeferredSemaphore(bad as never)).toThrow(TypeError);
  });

  it('starts with every token free and nobody waiting', () => {
    const sem = new DeferredSemaphore(3);
    expect(sem.limit).toBe(3);
    expect(sem.tokens).toBe(3);
    expect(sem.waiting.length).toBe(0);
  });

  it('fires acquire() synchronously with the semaphore when a token is free', () => {
    const sem = new DeferredSemaphore(1);
    const seen: unknown[] = [];
    sem.acquire().addCallback((s) => seen.push(s));
    expect(seen).toEqual([sem]);
    expect(sem.tokens).toBe(0);
  });

  it('serves waiters first in, first out', () => {
    const sem = new DeferredSemaphore(1);
    const order: number[] = [];
    sem.acquire();
    for (let i = 0; i < 5; i++) sem.acquire().addCallback(() => order.push(i));
    expect(sem.waiting.length).toBe(5);
    for (let i = 0; i < 5; i++) sem.release();
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(sem.waiting.length).toBe(0);
    expect(sem.tokens).toBe(0);
    sem.release();
    expect(sem.tokens).toBe(1);
  });

  it('throws when released more times than acquired', () => {
    const sem = new DeferredSemaphore(2);
    expect(() => sem.release()).toThrow(/no token is held/);
    sem.acquire();
    sem.release();
    expect(() => sem.release()).toThrow(Error);
    expect(sem.tokens).toBe(2);
  });

  it('exposes the waiting acquires as a live, read-only view', () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    const a = sem.acquire();
    const b = sem.acquire();
    const view = sem.waiting;
    expect([...view]).toEqual([a, b]);
    a.cancel();
    expect(view.length).toBe(1);
    expect([...view]).toEqual([b]);
    a.addErrback(() => null);
  });

  it('run() fires with the value of a job that returns synchronously and releases the token', () => {
    const sem = new DeferredSemaphore(1);
    const d = sem.run((a: number, b: number) => a + b, 2, 3);
    const seen: unknown[] = [];
    d.addCallback((v) => seen.push(v));
    expect(seen).toEqual([5]);
    expect(sem.tokens).toBe(1);
  });

  it('releases the token when the job throws', () => {
    const sem = new DeferredSemaphore(1);
    const err = new Error('boom');
    let failure: Failure | undefined;
    sem
      .run(() => {
        throw err;
      })
      .addErrback((f) => {
        failure = f;
      });
    expect(failure?.value).toBe(err);
    expect(sem.tokens).toBe(1);
  });

  it('releases the token when the job rejects, and await gives the original error', async () => {
    const sem = new DeferredSemaphore(1);
    const err = new TypeError('nope');
    await expect(sem.run(async () => Promise.reject(err))).rejects.toBe(err);
    expect(sem.tokens).toBe(1);
  });

  it('releases the token when the job resolves, and fires with its value', async () => {
    const sem = new DeferredSemaphore(2);
    await expect(sem.run(async (x: string) => x.toUpperCase(), 'ok')).resolves.toBe('OK');
    expect(sem.tokens).toBe(2);
  });

  it('waits on a Deferred the job returns and releases when it fires', () => {
    const sem = new DeferredSemaphore(1);
    const inner = new Deferred<number>();
    const seen: unknown[] = [];
    sem.run(() => inner).addCallback((v) => seen.push(v));
    expect(sem.tokens).toBe(0);
    inner.callback(7);
    expect(seen).toEqual([7]);
    expect(sem.tokens).toBe(1);
  });

  it('releases the token before the run() Deferred fires, as Twisted does', () => {
    const sem = new DeferredSemaphore(1);
    let tokensSeen = -1;
    sem
      .run(() => 1)
      .addCallback(() => {
        tokensSeen = sem.tokens;
      });
    expect(tokensSeen).toBe(1);
  });

  it('runs queued jobs as tokens free, never more than the limit at once', () => {
    const sem = new DeferredSemaphore(2);
    const { pending, started, job } = controlledJobs();
    const results = [0, 1, 2, 3, 4].map((i) => sem.run(job, i));
    expect(started).toEqual([0, 1]);
    expect(sem.waiting.length).toBe(3);
    pending[1].callback('b');
    expect(started).toEqual([0, 1, 2]);
    pending[0].errback(new Error('a'));
    results[0].addErrback(() => null);
    expect(started).toEqual([0, 1, 2, 3]);
  });

  it('removes a cancelled waiting acquire from the queue', () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    const a = sem.acquire();
    const b = sem.acquire();
    let cancelled = false;
    a.addErrback((f) => {
      cancelled = f.check(CancelledError) !== null;
    });
    a.cancel();
    expect(cancelled).toBe(true);
    expect(sem.waiting.length).toBe(1);
    let gotB = false;
    b.addCallback(() => {
      gotB = true;
    });
    sem.release();
    expect(gotB).toBe(true);
  });

  it('does not call the job of a run() cancelled while it waits', () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    let called = false;
    const d = sem.run(() => {
      called = true;
    });
    d.cancel();
    const errors: unknown[] = [];
    d.addErrback((f) => errors.push(f.value));
    expect(errors[0]).toBeInstanceOf(CancelledError);
    expect(sem.waiting.length).toBe(0);
    sem.release();
    expect(called).toBe(false);
    expect(sem.tokens).toBe(1);
  });

  it("cancels the job's Deferred when run() is cancelled while the job runs", () => {
    const sem = new DeferredSemaphore(1);
    let innerCancelled = false;
    const inner = new Deferred<number>(() => {
      innerCancelled = true;
    });
    const d = sem.run(() => inner);
    d.cancel();
    expect(innerCancelled).toBe(true);
    expect(sem.tokens).toBe(1);
    const errors: unknown[] = [];
    d.addErrback((f) => errors.push(f.value));
    expect(errors[0]).toBeInstanceOf(CancelledError);
  });

  it('keeps first-in first-out order when many waiters are cancelled', () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    const order: number[] = [];
    const ds: Deferred<DeferredSemaphore>[] = [];
    for (let i = 0; i < 300; i++) ds.push(sem.acquire());
    ds.forEach((d, i) => {
      if (i % 3 !== 0) {
        d.addErrback(() => null);
        d.cancel();
      } else {
        d.addCallback(() => order.push(i));
      }
    });
    expect(sem.waiting.length).toBe(100);
    for (let i = 0; i < 100; i++) sem.release();
    expect(order).toEqual(Array.from({ length: 100 }, (_, k) => k * 3));
    expect(sem.waiting.length).toBe(0);
  });

  it('keeps order and its view when cancellations compact the queue at its head, middle and tail', () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    const order: number[] = [];
    const ds: Deferred<DeferredSemaphore>[] = [];
    const add = (i: number) => {
      const d = sem.acquire();
      d.addCallbacks(
        () => order.push(i),
        () => null,
      );
      ds[i] = d;
    };
    for (let i = 0; i < 200; i++) add(i);
    // Cancel the first 50, the last 50 and every other one in between: more than 64, and more than those left.
    for (let i = 0; i < 200; i++) if (i < 50 || i >= 150 || i % 2 === 1) ds[i].cancel();
    const kept = Array.from({ length: 50 }, (_, k) => 50 + 2 * k);
    expect(sem.waiting.length).toBe(50);
    expect([...sem.waiting]).toEqual(kept.map((i) => ds[i]));
    // The queue still takes new waiters at its tail after being compacted.
    for (let i = 200; i < 205; i++) add(i);
    ds[204].cancel();
    expect([...sem.waiting].length).toBe(54);
    // The first holder, then each of the 54 waiters served, gives its token back.
    for (let i = 0; i < 55; i++) sem.release();
    expect(order).toEqual([...kept, 200, 201, 202, 203]);
    expect(sem.waiting.length).toBe(0);
    expect([...sem.waiting]).toEqual([]);
    add(205);
    expect(order.at(-1)).toBe(205);
  });

  it('lets an iteration of the waiting view go on while the tickets it yields leave the queue', () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    const ds = Array.from({ length: 4 }, () => sem.acquire());
    const seen: number[] = [];
    for (const d of sem.waiting) {
      seen.push(ds.indexOf(d as Deferred<DeferredSemaphore>));
      // The ticket just yielded gets the token and leaves the queue.
      if (seen.length === 1) sem.release();
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(ds[0].called).toBe(true);
    expect(sem.waiting.length).toBe(3);
  });

  it('hands tokens to 100,000 waiters whose jobs finish synchronously without overflowing the stack', () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    let ran = 0;
    const results: Deferred<number>[] = [];
    for (let i = 0; i < 100_000; i++) {
      results.push(
        sem.run(() => {
          ran++;
          return i;
        }),
      );
    }
    sem.release();
    expect(ran).toBe(100_000);
    expect(sem.tokens).toBe(1);
    expect(sem.waiting.length).toBe(0);
    let last = -1;
    results[99_999].addCallback((v) => {
      last = v;
    });
    expect(last).toBe(99_999);
  });

  it('hands tokens to 100,000 acquires that release synchronously without overflowing the stack', () => {
    const sem = new DeferredSemaphore(1);
    sem.acquire();
    let served = 0;
    for (let i = 0; i < 100_000; i++) {
      sem.acquire().addCallback((s) => {
        served++;
        s.release();
      });
    }
    sem.release();
    expect(served).toBe(100_000);
    expect(sem.tokens).toBe(1);
  });

  it("runs a job queued behind others in its caller's AsyncLocalStorage store", async () => {
    const als = new AsyncLocalStorage<string>();
    const sem = new DeferredSemaphore(1);
    const gate = new Deferred<void>();
    const first = als.run('first', () => sem.run(() => gate));
    const seen: (string | undefined)[] = [];
    const second = als.run('second', () => sem.run(() => seen.push(als.getStore())));
    const third = als.run('third', () => sem.run(async () => seen.push(als.getStore())));
    // Released from a context with a different store: the queued jobs must still see their own.
    als.run('releaser', () => gate.callback(undefined));
    await Promise.all([first, second, third]);
    expect(seen).toEqual(['second', 'third']);
  });

  it("gives a queued job its arguments, in its caller's AsyncLocalStorage store", async () => {
    const als = new AsyncLocalStorage<string>();
    const sem = new DeferredSemaphore(1);
    const gate = new Deferred<void>();
    sem.run(() => gate);
    const seen: unknown[] = [];
    const job = (a: number, b: string) => seen.push([a, b, als.getStore()]);
    const d = als.run('caller', () => sem.run(job, 1, 'x'));
    const cancelled = als.run('other', () => sem.run(job, 2, 'y'));
    cancelled.addErrback(() => null);
    cancelled.cancel();
    als.run('releaser', () => gate.callback(undefined));
    await d;
    expect(seen).toEqual([[1, 'x', 'caller']]);
    expect(sem.tokens).toBe(1);
  });

  it('calls each job with exactly the arguments given to run(), none, one (even undefined) or several', () => {
    const sem = new DeferredSemaphore(1);
    const gate = new Deferred<void>();
    sem.run(() => gate);
    const seen: unknown[][] = [];
    const job = (...args: unknown[]) => seen.push(args);
    const arrayArg = [1, 2];
    // The first runs at once on a free semaphore, the others wait in the queue.
    const free = new DeferredSemaphore(1);
    free.run(job, 'at once');
    sem.run(job);
    sem.run(job, undefined);
    sem.run(job, arrayArg);
    sem.run(job, 'a', undefined, 'c');
    gate.callback(undefined);
    expect(seen).toEqual([['at once'], [], [undefined], [arrayArg], ['a', undefined, 'c']]);
    expect(seen[3][0]).toBe(arrayArg);
  });

  it('cancels the Deferred returned by a job that had waited, while it runs', () => {
    const sem = new DeferredSemaphore(1);
    const gate = new Deferred<void>();
    sem.run(() => gate);
    let innerCancelled = false;
    const d = sem.run(
      () =>
        new Deferred<number>(() => {
          innerCancelled = true;
        }),
    );
    const failures: unknown[] = [];
    d.addErrback((f: Failure) => failures.push(f.check(CancelledError)));
    gate.callback(undefined);
    expect(sem.tokens).toBe(0);
    d.cancel();
    expect(innerCancelled).toBe(true);
    expect(failures).toEqual([CancelledError]);
    expect(sem.tokens).toBe(1);
  });

  it('starts waiters at once when the limit is raised', () => {
    const sem = new DeferredSemaphore(1);
    const { started, job } = controlledJobs();
    for (let i = 0; i < 4; i++) sem.run(job, i);
    expect(started).toEqual([0]);
    sem.limit = 3;
    expect(started).toEqual([0, 1, 2]);
    expect(sem.tokens).toBe(0);
  });

  it('lets running jobs finish when the limit is lowered, starting no new ones until below it', () => {
    const sem = new DeferredSemaphore(3);
    const { pending, started, job } = controlledJobs();
    for (let i = 0; i < 5; i++) sem.run(job, i);
    expect(started).toEqual([0, 1, 2]);
    sem.limit = 1;
    expect(sem.tokens).toBe(0);
    pending[0].callback('x');
    pending[1].callback('x');
    expect(started).toEqual([0, 1, 2]);
    pending[2].callback('x');
    expect(started).toEqual([0, 1, 2, 3]);
  });

  it('validates a new limit like the constructor', () => {
    const sem = new DeferredSemaphore(2);
    expect(() => {
      sem.limit = 0;
    }).toThrow(new RangeError('Expected `limit` to be a whole number >= 1, got 0'));
    expect(sem.limit).toBe(2);
  });

  it('rejects a run() job that is not a function', () => {
    const sem = new DeferredSemaphore(1);
    expect(() => sem.run(42 as unknown as () => void)).toThrow(TypeError);
  });

  it('keeps its invariants for random durations, failures and limits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ fails: fc.boolean() }), { maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        async (limit, jobs, picks) => {
          const sem = new DeferredSemaphore(limit);
          let running = 0;
          let peak = 0;
          const runs = new Array(jobs.length).fill(0);
          const pending: { d: Deferred<number>; i: number }[] = [];
          const results = jobs.map((_spec, i) =>
            sem.run(() => {
              runs[i]++;
              running++;
              peak = Math.max(peak, running);
              const d = new Deferred<number>();
              pending.push({ d, i });
              d.addBoth((r) => {
                running--;
                return r;
              });
              return d;
            }),
          );
          const list = new DeferredList(results, { consumeErrors: true });
          let k = 0;
          while (pending.length > 0) {
            const { d, i } = pending.splice(picks[k++ % picks.length] % pending.length, 1)[0];
            if (jobs[i].fails) d.errback(new Error(`job ${i}`));
            else d.callback(i);
          }
          const entries = await list;
          expect(runs.every((n) => n === 1)).toBe(true);
          expect(peak).toBe(Math.min(limit, jobs.length));
          entries.forEach((entry, i) => {
            expect(entry[0]).toBe(!jobs[i].fails);
            if (entry[0]) expect(entry[1]).toBe(i);
          });
          expect(sem.tokens).toBe(limit);
          expect(sem.waiting.length).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('DeferredLock', () => {
  it('is locked while held and unlocked after release', () => {
    const lock = new DeferredLock();
    expect(lock.locked).toBe(false);
    lock.acquire();
    expect(lock.locked).toBe(true);
    lock.release();
    expect(lock.locked).toBe(false);
  });

  it('serves waiters first in, first out', () => {
    const lock = new DeferredLock();
    const order: number[] = [];
    lock.acquire();
    for (let i = 0; i < 3; i++) lock.acquire().addCallback(() => order.push(i));
    lock.release();
    lock.release();
    lock.release();
    expect(order).toEqual([0, 1, 2]);
    expect(lock.locked).toBe(true);
  });

  it('throws when released while not locked', () => {
    expect(() => new DeferredLock().release()).toThrow(/not locked/);
  });

  it('runs one job at a time', async () => {
    const lock = new DeferredLock();
    let inside = 0;
    let peak = 0;
    const job = async () => {
      inside++;
      peak = Math.max(peak, inside);
      await Promise.resolve();
      inside--;
    };
    await Promise.all([lock.run(job), lock.run(job), lock.run(job)]);
    expect(peak).toBe(1);
    expect(lock.locked).toBe(false);
  });

  it('has a read-only limit of one', () => {
    const lock = new DeferredLock();
    expect(lock.limit).toBe(1);
    expect(() => {
      (lock as { limit: number }).limit = 2;
    }).toThrow(TypeError);
    expect(lock.limit).toBe(1);
  });
});
