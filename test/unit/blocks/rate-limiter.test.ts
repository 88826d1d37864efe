import { CancelledError, Deferred, ManualClock, RateLimiter, type RateWindow } from 'async-batching';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RefRateLimiter } from '../../reference/rate-limiter.ts';

/** For every window, no `max + 1` of the sorted start times lie within an interval shorter than `per`. */
function violations(starts: readonly number[], windows: readonly RateWindow[]): string[] {
  const sorted = [...starts].sort((a, b) => a - b);
  const bad: string[] = [];
  for (const w of windows) {
    for (let i = 0; i + w.max < sorted.length; i++) {
      const a = sorted[i] as number;
      const b = sorted[i + w.max] as number;
      if (b - a < w.per) bad.push(`${w.max + 1} starts in [${a}, ${b}] against ${w.max}/${w.per}`);
    }
  }
  return bad;
}

describe('RateLimiter', () => {
  it('rejects windows that are not { max >= 1, per > 0 }', () => {
    expect(() => new RateLimiter([])).toThrow(
      new RangeError('Expected `windows` to hold at least one { max, per }, got []'),
    );
    expect(() => new RateLimiter({ max: 0, per: 10 })).toThrow(
      new RangeError('Expected `windows.max` to be a whole number >= 1, got 0'),
    );
    expect(
      () =>
        new RateLimiter([
          { max: 1, per: 10 },
          { max: 2, per: -1 },
        ]),
    ).toThrow(new RangeError('Expected `windows[1].per` to be a finite number > 0, got -1'));
    expect(() => new RateLimiter([null as unknown as RateWindow])).toThrow(TypeError);
    expect(() => new RateLimiter({ max: 1, per: 1 }, { clock: {} as never })).toThrow(TypeError);
  });

  it('starts jobs synchronously while every window has room, then waits for the oldest start to leave', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 2, per: 100 }, { clock });
    const started: number[] = [];
    const job = (i: number) => {
      started.push(i);
      return i * 10;
    };
    const ds = [0, 1, 2].map((i) => limiter.run(job, i));
    expect(started).toEqual([0, 1]);
    expect(limiter.waiting).toBe(1);
    clock.advance(99);
    expect(started).toEqual([0, 1]);
    clock.advance(1);
    expect(started).toEqual([0, 1, 2]);
    const results: unknown[] = [];
    for (const d of ds) d.addCallback((v) => results.push(v));
    expect(results).toEqual([0, 10, 20]);
  });

  it('holds every window at once: 10 per second and 15 per minute', () => {
    const clock = new ManualClock();
    const windows = [
      { max: 10, per: 1_000 },
      { max: 15, per: 60_000 },
    ];
    const limiter = new RateLimiter(windows, { clock });
    const starts: number[] = [];
    for (let i = 0; i < 20; i++) limiter.run(() => starts.push(clock.now()));
    expect(starts.length).toBe(10);
    clock.advance(1_000);
    expect(starts.length).toBe(15);
    clock.advance(58_999);
    expect(starts.length).toBe(15);
    clock.advance(1);
    expect(starts.length).toBe(20);
    expect(violations(starts, windows)).toEqual([]);
  });

  it('fires with the failure of a job that throws or rejects, and the next job still starts', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 1, per: 10 }, { clock });
    const a = limiter.run(() => {
      throw new Error('boom');
    });
    const b = limiter.run(() => Promise.reject(new Error('later')));
    await expect(a).rejects.toThrow('boom');
    clock.advance(10);
    await expect(b).rejects.toThrow('later');
  });

  it('takes a cancelled waiting job out of the queue: it never runs and never counts as a start', async () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 1, per: 10 }, { clock });
    const ran: string[] = [];
    limiter.run(() => ran.push('a'));
    const b = limiter.run(() => ran.push('b'));
    const c = limiter.run(() => ran.push('c'));
    b.cancel();
    await expect(b).rejects.toBeInstanceOf(CancelledError);
    expect(limiter.waiting).toBe(1);
    clock.advance(10);
    expect(ran).toEqual(['a', 'c']);
    expect(limiter.started).toBe(2);
    await c;
  });

  it('clears its timer when the last waiter is cancelled', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 1, per: 10 }, { clock });
    limiter.run(() => 1);
    const b = limiter.run(() => 2);
    expect(clock.pending).toBe(1);
    b.cancel();
    b.addErrback(() => null);
    expect(clock.pending).toBe(0);
  });

  it('cancels the Deferred a running job returned when its run() is cancelled', async () => {
    const limiter = new RateLimiter({ max: 5, per: 10 }, { clock: new ManualClock() });
    let innerCancelled = false;
    const d = limiter.run(
      () =>
        new Deferred<string>(() => {
          innerCancelled = true;
        }),
    );
    d.cancel();
    expect(innerCancelled).toBe(true);
    await expect(d).rejects.toBeInstanceOf(CancelledError);
  });

  it('acquire() fires with the limiter and counts as a start', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 1, per: 5 }, { clock });
    const fired: unknown[] = [];
    limiter.acquire().addCallback((l) => fired.push(l));
    limiter.acquire().addCallback((l) => fired.push(l));
    expect(fired).toEqual([limiter]);
    clock.advance(5);
    expect(fired).toEqual([limiter, limiter]);
    expect(limiter.started).toBe(2);
  });

  it('applies new windows at once, against the starts already made', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 1, per: 100 }, { clock });
    const starts: number[] = [];
    for (let i = 0; i < 6; i++) limiter.run(() => starts.push(clock.now()));
    expect(starts).toEqual([0]);
    limiter.windows = [{ max: 3, per: 100 }];
    expect(starts).toEqual([0, 0, 0]);
    expect(limiter.available).toBe(0);
    clock.advance(50);
    limiter.windows = { max: 2, per: 100 };
    clock.advance(50);
    // At 100 the three starts at 0 have left the window; two more fit, the last waits for them to leave.
    expect(starts).toEqual([0, 0, 0, 100, 100]);
    clock.advance(100);
    expect(starts).toEqual([0, 0, 0, 100, 100, 200]);
    expect(limiter.windows).toEqual([{ max: 2, per: 100 }]);
  });

  it('reports how many more starts every window allows', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(
      [
        { max: 3, per: 10 },
        { max: 4, per: 100 },
      ],
      { clock },
    );
    expect(limiter.available).toBe(3);
    limiter.run(() => 0);
    limiter.run(() => 0);
    expect(limiter.available).toBe(1);
    clock.advance(10);
    expect(limiter.available).toBe(2);
  });

  it('reads the clock once for a burst the windows have room for, and once more to give its starts their time', async () => {
    const clock = new ManualClock();
    let reads = 0;
    const counting = {
      now: () => {
        reads++;
        return clock.now();
      },
      setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms),
      clearTimeout: (handle: unknown) => clock.clearTimeout(handle),
    };
    const limiter = new RateLimiter({ max: 1_000, per: 100 }, { clock: counting });
    const ran: number[] = [];
    for (let i = 0; i < 1_000; i++) limiter.run((x: number) => ran.push(x), i);
    expect(ran.length).toBe(1_000);
    expect(reads).toBe(1);
    await Promise.resolve();
    expect(reads).toBe(2);
    // The 1,000 starts were logged at 0: the next one waits for them to leave.
    limiter.run(() => ran.push(-1));
    expect(limiter.waiting).toBe(1);
    clock.advance(100);
    expect(ran.at(-1)).toBe(-1);
  });

  it('counts the starts of a burst from no earlier than they happened when synchronous code moves the clock', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 2, per: 100 }, { clock });
    const starts: number[] = [];
    const job = () => starts.push(clock.now());
    limiter.run(job);
    limiter.run(job);
    // No microtask has run since the second start, so it is logged at the next reading, 50: later than it was.
    clock.advance(50);
    limiter.run(job);
    limiter.run(job);
    clock.advance(50);
    expect(starts).toEqual([0, 0, 100]);
    clock.advance(49);
    expect(starts).toEqual([0, 0, 100]);
    clock.advance(1);
    expect(starts).toEqual([0, 0, 100, 150]);
  });

  it('property: starts the same jobs at the same moments as the plain model when the clock moves between bursts (limits changed, jobs cancelled on the way)', async () => {
    const windowArb = fc.record({
      max: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 17, max: 40 })),
      per: fc.integer({ min: 1, max: 40 }),
    });
    const windowsArb = fc.array(windowArb, { minLength: 1, maxLength: 3 });
    // New limits stay within the largest first `max`: past it, the limiter counts the starts its log dropped at the
    // oldest time it kept (stricter than the model; a test of its own below).
    const caseArb = windowsArb.chain((first) => {
      const largest = Math.max(...first.map((w) => w.max));
      const laterArb = fc.array(
        fc.record({ max: fc.integer({ min: 1, max: largest }), per: fc.integer({ min: 1, max: 40 }) }),
        { minLength: 1, maxLength: 3 },
      );
      const opArb = fc.oneof(
        fc.record({ kind: fc.constant('run' as const), n: fc.integer({ min: 1, max: 12 }) }),
        fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
        fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('windows' as const), windows: laterArb }),
        fc.record({ kind: fc.constant('available' as const) }),
      );
      return fc.tuple(fc.constant(first), fc.array(opArb, { maxLength: 40 }));
    });
    // A microtask checkpoint: what a burst started on credit is logged at, with the clock where the burst left it.
    const settle = () => Promise.resolve();
    await fc.assert(
      fc.asyncProperty(caseArb, async ([windows, ops]) => {
        const clock = new ManualClock();
        const limiter = new RateLimiter(windows, { clock });
        const model = new RefRateLimiter(windows, clock);
        const ours: (number | null)[] = [];
        const theirs: (number | null)[] = [];
        const cancels: (() => void)[] = [];
        const same = () => {
          expect(ours).toEqual(theirs);
          expect(limiter.waiting).toBe(model.waiting);
        };
        for (const op of ops) {
          if (op.kind === 'run') {
            for (let i = 0; i < op.n; i++) {
              const j = ours.length;
              ours.push(null);
              theirs.push(null);
              const d = limiter.run(() => {
                ours[j] = clock.now();
              });
              d.addErrback(() => null);
              const h = model.run(() => {
                theirs[j] = clock.now();
              });
              cancels.push(() => {
                d.cancel();
                h.cancel();
              });
            }
          } else if (op.kind === 'advance') {
            for (let t = 0; t < op.ms; t++) {
              clock.advance(1);
              await settle();
              same();
            }
          } else if (op.kind === 'cancel') {
            if (cancels.length > 0) (cancels[op.pick % cancels.length] as () => void)();
          } else if (op.kind === 'windows') {
            limiter.windows = op.windows;
            model.setWindows(op.windows);
          } else {
            expect(limiter.available).toBe(model.available);
          }
          await settle();
          same();
        }
        while (limiter.waiting > 0 || model.waiting > 0) {
          clock.advance(1);
          await settle();
          same();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: in no interval of length `per` do more than `max` jobs start, for every window, and nobody waits while all windows have room', () => {
    const windowArb = fc.record({
      // Some past the 16 starts the log begins with, so its growth is exercised too.
      max: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 17, max: 40 })),
      per: fc.integer({ min: 1, max: 40 }),
    });
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant('run' as const), n: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.array(opArb, { maxLength: 60 }),
        (windows, ops) => {
          const clock = new ManualClock();
          const limiter = new RateLimiter(windows, { clock });
          const starts: number[] = [];
          const runs: { d: Deferred<number>; ran: number; cancelled: boolean }[] = [];
          const check = () => {
            if (limiter.waiting > 0) expect(limiter.available).toBe(0);
          };
          for (const op of ops) {
            if (op.kind === 'run') {
              for (let i = 0; i < op.n; i++) {
                const entry = { d: null as unknown as Deferred<number>, ran: 0, cancelled: false };
                entry.d = limiter.run(() => {
                  entry.ran++;
                  starts.push(clock.now());
                  return 1;
                });
                entry.d.addErrback(() => 0);
                runs.push(entry);
              }
            } else if (op.kind === 'advance') {
              // One millisecond at a time, so the work-conserving check sees every moment.
              for (let t = 0; t < op.ms; t++) {
                clock.advance(1);
                check();
              }
            } else if (runs.length > 0) {
              const e = runs[op.pick % runs.length] as (typeof runs)[number];
              if (e.ran === 0) e.cancelled = true;
              e.d.cancel();
            }
            check();
          }
          // Let every remaining waiter through.
          clock.advance(40 * 6 * 60);
          expect(violations(starts, windows)).toEqual([]);
          for (const e of runs) expect(e.ran).toBe(e.cancelled ? 0 : 1);
          expect(limiter.waiting).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('counts the starts its log dropped, at the oldest time it kept, when a larger `max` is set', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 1, per: 10 }, { clock });
    const starts: number[] = [];
    const job = () => starts.push(clock.now());
    limiter.run(job);
    clock.advance(5);
    limiter.run(job);
    clock.advance(5);
    // The log held one start (the one at 10); the one at 0 counts as made at 10 too.
    limiter.windows = { max: 3, per: 20 };
    expect(limiter.available).toBe(1);
    limiter.run(job);
    limiter.run(job);
    clock.advance(19);
    expect(starts).toEqual([0, 10, 10]);
    clock.advance(1);
    expect(starts).toEqual([0, 10, 10, 30]);
  });

  it('property: with bursts, limit changes and cancellations in synchronous code that moves the clock, every start keeps the windows in force when it started, against every start before it', () => {
    const windowArb = fc.record({
      max: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 17, max: 40 })),
      per: fc.integer({ min: 1, max: 40 }),
    });
    const windowsArb = fc.array(windowArb, { minLength: 1, maxLength: 3 });
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant('run' as const), n: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('windows' as const), windows: windowsArb }),
    );
    fc.assert(
      fc.property(windowsArb, fc.array(opArb, { maxLength: 60 }), (first, ops) => {
        const clock = new ManualClock();
        const limiter = new RateLimiter(first, { clock });
        let windows = first;
        const starts: { at: number; windows: RateWindow[] }[] = [];
        const runs: { d: Deferred<number>; ran: number; cancelled: boolean }[] = [];
        for (const op of ops) {
          if (op.kind === 'run') {
            for (let i = 0; i < op.n; i++) {
              const entry = { d: null as unknown as Deferred<number>, ran: 0, cancelled: false };
              entry.d = limiter.run(() => {
                entry.ran++;
                starts.push({ at: clock.now(), windows });
                return 1;
              });
              entry.d.addErrback(() => 0);
              runs.push(entry);
            }
          } else if (op.kind === 'advance') {
            clock.advance(op.ms);
          } else if (op.kind === 'cancel') {
            if (runs.length > 0) {
              const e = runs[op.pick % runs.length] as (typeof runs)[number];
              if (e.ran === 0) e.cancelled = true;
              e.d.cancel();
            }
          } else {
            windows = op.windows;
            limiter.windows = windows;
          }
        }
        clock.advance(40 * 12 * 60);
        starts.forEach((s, k) => {
          for (const w of s.windows) {
            const inWindow = starts.slice(0, k + 1).filter((o) => o.at > s.at - w.per).length;
            expect(inWindow, `start ${k} at ${s.at} against ${w.max}/${w.per}`).toBeLessThanOrEqual(w.max);
          }
        });
        for (const e of runs) expect(e.ran).toBe(e.cancelled ? 0 : 1);
        expect(limiter.waiting).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
