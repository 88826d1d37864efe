// DeferredSemaphore's `rate` option: a token bounds how many run, the rate how fast they start. Time is a ManualClock.
import {
  CancelledError,
  Deferred,
  DeferredSemaphore,
  ManualClock,
  RateLimiter,
  type RateWindow,
} from 'async-batching';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** Starts that break a window: more than `max` of them inside some interval shorter than `per`. */
function violations(starts: readonly { at: number; windows: readonly RateWindow[] }[]): string[] {
  const bad: string[] = [];
  for (const [i, s] of starts.entries()) {
    // Each start is judged by the windows in force when it was made, against the starts before it.
    for (const w of s.windows) {
      const inWindow = starts.slice(0, i + 1).filter((p) => p.at > s.at - w.per).length;
      if (inWindow > w.max)
        bad.push(`${inWindow} starts in (${s.at - w.per}, ${s.at}] against ${w.max}/${w.per}`);
    }
  }
  return bad;
}

/** A job that runs until `finish()` is called, counting its starts. */
function pendingJobs() {
  const started: string[] = [];
  const running = new Map<string, Deferred<string>>();
  const job = (name: string) => {
    started.push(name);
    const d = new Deferred<string>();
    running.set(name, d);
    return d;
  };
  const finish = (name: string) => {
    const d = running.get(name) as Deferred<string>;
    running.delete(name);
    d.callback(name);
  };
  return { job, started, finish };
}

describe('DeferredSemaphore with a rate', () => {
  it('refuses a rate that is neither a RateLimiter nor windows, naming the option', () => {
    expect(() => new DeferredSemaphore(2, { rate: { max: 0, per: 10 } })).toThrow(
      new RangeError('Expected `options.rate.max` to be a whole number >= 1, got 0'),
    );
    expect(
      () =>
        new DeferredSemaphore(2, {
          rate: [
            { max: 1, per: 10 },
            { max: 2, per: -1 },
          ],
        }),
    ).toThrow(new RangeError('Expected `options.rate[1].per` to be a finite number > 0, got -1'));
    expect(() => new DeferredSemaphore(2, { rate: [] })).toThrow(
      new RangeError('Expected `options.rate` to hold at least one { max, per }, got []'),
    );
    expect(() => new DeferredSemaphore(2, { rate: 5 as never })).toThrow(
      new TypeError(
        'Expected `options.rate` to be a RateLimiter, a window { max, per } or an array of them, got 5',
      ),
    );
    expect(() => new DeferredSemaphore(2, null as never)).toThrow(
      new TypeError('Expected `options` to be an object, got null'),
    );
    expect(() => new DeferredSemaphore(0, { rate: { max: 1, per: 1 } })).toThrow(RangeError);
    expect(new DeferredSemaphore(2).rate).toBe(null);
    expect(new DeferredSemaphore(2, {}).rate).toBe(null);
    expect(new DeferredSemaphore(2, { rate: { max: 3, per: 10 } }).rate?.windows).toEqual([
      { max: 3, per: 10 },
    ]);
  });

  it('starts run() jobs no faster than the rate, at once when both allow; a job waiting for the rate holds its token', () => {
    const clock = new ManualClock();
    const rate = new RateLimiter({ max: 2, per: 100 }, { clock });
    const sem = new DeferredSemaphore(3, { rate });
    expect(sem.rate).toBe(rate);
    const { job, started, finish } = pendingJobs();
    const results = ['a', 'b', 'c', 'd', 'e'].map((name) => sem.run(job, name));
    expect(started).toEqual(['a', 'b']);
    expect(sem.held).toBe(3);
    expect(sem.waiting.length).toBe(2);
    expect(rate.waiting).toBe(1);
    finish('a');
    // A token came back, but the rate allows nobody before t = 100: d takes the token and waits behind c.
    expect(started).toEqual(['a', 'b']);
    expect(results[0]?.called).toBe(true);
    expect(rate.waiting).toBe(2);
    clock.advance(99);
    expect(started).toEqual(['a', 'b']);
    clock.advance(1);
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    finish('b');
    clock.advance(100);
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('fires acquire() once a token is free and the rate allows; the holder’s work counts as a start', () => {
    const clock = new ManualClock();
    const sem = new DeferredSemaphore(2, { rate: new RateLimiter({ max: 1, per: 50 }, { clock }) });
    const first = sem.acquire();
    expect(first.called).toBe(true);
    const second = sem.acquire();
    expect(second.called).toBe(false);
    expect(sem.held).toBe(2);
    clock.advance(50);
    expect(second.called).toBe(true);
    expect(sem.rate?.started).toBe(2);
    sem.release();
    sem.release();
    expect(sem.held).toBe(0);
  });

  it('cancelling a waiter that waits for the rate takes it out of the limiter and gives its token back', () => {
    const clock = new ManualClock();
    const sem = new DeferredSemaphore(2, { rate: new RateLimiter({ max: 1, per: 50 }, { clock }) });
    const rate = sem.rate as RateLimiter;
    const { job, started } = pendingJobs();
    sem.run(job, 'a');
    const waitingRun = sem.run(job, 'b');
    expect(rate.waiting).toBe(1);
    expect(sem.held).toBe(2);
    waitingRun.cancel();
    expect(waitingRun.called).toBe(true);
    waitingRun.addErrback(() => null);
    expect(rate.waiting).toBe(0);
    expect(sem.held).toBe(1);
    const waitingAcquire = sem.acquire();
    expect(rate.waiting).toBe(1);
    waitingAcquire.cancel();
    expect(waitingAcquire.called).toBe(true);
    waitingAcquire.addErrback((f) => {
      expect(f.value).toBeInstanceOf(CancelledError);
      return null;
    });
    expect(rate.waiting).toBe(0);
    expect(sem.held).toBe(1);
    clock.advance(1_000);
    expect(started).toEqual(['a']);
    expect(rate.started).toBe(1);
  });

  it('cancelling an acquire() still waiting for a token takes it out of the queue', () => {
    const clock = new ManualClock();
    const sem = new DeferredSemaphore(1, { rate: new RateLimiter({ max: 5, per: 50 }, { clock }) });
    sem.acquire();
    const d = sem.acquire();
    expect(sem.waiting.length).toBe(1);
    d.cancel();
    expect(d.called).toBe(true);
    expect(sem.waiting.length).toBe(0);
    d.addErrback(() => null);
    sem.release();
    expect(sem.held).toBe(0);
  });

  it('takes new limits at runtime: sem.limit and sem.rate.windows', () => {
    const clock = new ManualClock();
    const sem = new DeferredSemaphore(1, { rate: new RateLimiter({ max: 1, per: 100 }, { clock }) });
    const { job, started, finish } = pendingJobs();
    for (const name of ['a', 'b', 'c', 'd']) sem.run(job, name);
    expect(started).toEqual(['a']);
    sem.limit = 3;
    // b and c hold tokens now, and wait for the rate.
    expect(started).toEqual(['a']);
    expect(sem.held).toBe(3);
    (sem.rate as RateLimiter).windows = { max: 3, per: 100 };
    expect(started).toEqual(['a', 'b', 'c']);
    finish('a');
    expect(started).toEqual(['a', 'b', 'c']);
    clock.advance(100);
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('shares one RateLimiter between semaphores: the rate is over both', () => {
    const clock = new ManualClock();
    const rate = new RateLimiter({ max: 2, per: 100 }, { clock });
    const one = new DeferredSemaphore(5, { rate });
    const two = new DeferredSemaphore(5, { rate });
    const { job, started } = pendingJobs();
    one.run(job, 'a');
    two.run(job, 'b');
    one.run(job, 'c');
    expect(started).toEqual(['a', 'b']);
    clock.advance(100);
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('property: no interval of `per` has more than `max` starts, and never more than `tokens` run', () => {
    const windowArb = fc.record({
      max: fc.integer({ min: 1, max: 4 }),
      per: fc.integer({ min: 1, max: 30 }),
    });
    const opArb = fc.oneof(
      fc.record({
        kind: fc.constantFrom('run' as const, 'acquire' as const),
        n: fc.integer({ min: 1, max: 4 }),
        duration: fc.integer({ min: 0, max: 40 }),
      }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({
        kind: fc.constant('windows' as const),
        windows: fc.array(windowArb, { minLength: 1, maxLength: 2 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(windowArb, { minLength: 1, maxLength: 2 }),
        fc.array(opArb, { maxLength: 40 }),
        (tokens, windows, ops) => {
          const clock = new ManualClock();
          const rate = new RateLimiter(windows, { clock });
          const sem = new DeferredSemaphore(tokens, { rate });
          const starts: { at: number; windows: RateWindow[] }[] = [];
          const all: { d: Deferred<unknown>; started: boolean; cancelledFirst: boolean }[] = [];
          let running = 0;
          let peak = 0;
          const start = (duration: number, done: () => void) => {
            starts.push({ at: clock.now(), windows: rate.windows });
            running++;
            peak = Math.max(peak, running);
            clock.setTimeout(() => {
              running--;
              done();
            }, duration);
          };
          for (const op of ops) {
            if (op.kind === 'run') {
              for (let i = 0; i < op.n; i++) {
                const entry = {
                  d: null as unknown as Deferred<unknown>,
                  started: false,
                  cancelledFirst: false,
                };
                entry.d = sem.run(() => {
                  entry.started = true;
                  const d = new Deferred<number>();
                  start(op.duration, () => d.callback(1));
                  return d;
                });
                all.push(entry);
              }
            } else if (op.kind === 'acquire') {
              for (let i = 0; i < op.n; i++) {
                const entry = {
                  d: sem.acquire() as Deferred<unknown>,
                  started: false,
                  cancelledFirst: false,
                };
                entry.d.addCallback(() => {
                  entry.started = true;
                  start(op.duration, () => sem.release());
                  return null;
                });
                all.push(entry);
              }
            } else if (op.kind === 'advance') {
              clock.advance(op.ms);
            } else if (op.kind === 'windows') {
              // Any new limits, a raised `max` included: it is checked against the starts made before it.
              rate.windows = op.windows;
            } else if (op.kind === 'cancel' && all.length > 0) {
              const e = all[op.pick % all.length] as (typeof all)[number];
              if (!e.started && !e.d.called) {
                e.cancelledFirst = true;
                e.d.cancel();
              }
            }
            expect(running).toBeLessThanOrEqual(tokens);
          }
          clock.advance(10_000);
          expect(violations(starts)).toEqual([]);
          expect(peak).toBeLessThanOrEqual(tokens);
          for (const e of all) {
            expect(e.d.called).toBe(true);
            expect(e.started).toBe(!e.cancelledFirst);
          }
          expect(sem.held).toBe(0);
          expect(rate.waiting).toBe(0);
          for (const e of all) e.d.addErrback(() => null);
        },
      ),
      { numRuns: 300 },
    );
  });
});
