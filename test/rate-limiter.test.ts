import { CancelledError, Deferred, ManualClock, RateLimiter, type RateWindow } from 'async-batching';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

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
});
