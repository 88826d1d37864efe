/**
 * A rate limiter over one or more sliding windows: `[{ max: 10, per: 1_000 }, { max: 500, per: 60_000 }]` means no
 * more than 10 starts in any 1 s and no more than 500 in any minute — in every interval of that length, not only in
 * fixed buckets.
 *
 * Why our own and not a library (evaluated November 2026):
 * - `limiter` (4.x): one token bucket per limiter (full at the start, refilled at `max` per `per`) plus a counter that
 *   resets on fixed interval boundaries, so nearly twice `max` can start within one `per` (a full bucket spent at the
 *   end of one interval, then the refill); a waiting `removeTokens()` cannot be withdrawn; the
 *   clock cannot be injected.
 * - `rate-limiter-flexible` (11.x): built to reject callers over the limit (DoS protection); its queue
 *   (`RateLimiterQueue`) waits but has no way to take one waiter out, and its windows are fixed, starting at the
 *   first point consumed, with the same two-fold burst across a boundary; several windows can be combined
 *   (`RateLimiterUnion`), but only to reject a caller, not to queue one.
 * - `bottleneck` (2.19.5, unchanged since 2019): one reservoir refreshed on a fixed interval, so one window only and
 *   the same boundary burst; queued jobs cannot be cancelled one by one (only `stop()` for all).
 * None gives "at most `max` starts in every interval of length `per`, for several windows at once" with per-job
 * cancellation, so this module keeps a log of recent start times (at most as long as the largest `max`) and lets a job start
 * only when, for every window, the `max`-th most recent start lies at least `per` in the past.
 *
 * Reading the clock for every start is avoided (bench row `limiter`: with the limit not binding, the reading took about
 * a fifth of a CPU profile, and a tenth of a microsecond per start). Two changes to the log keep the guarantee, because each can only make the limiter
 * stricter than the true start times require:
 * - a start may be *recorded* with a time later than the true one (it then leaves its windows later);
 * - expiry may be *judged* with an earlier "now" than the true one (fewer starts look gone).
 * So on each clock reading the limiter computes a credit: how many more starts every window allows at that moment,
 * counting all starts made so far. While credit is left, a start only takes one from it, without a clock reading, and
 * is logged as *unstamped*; the unstamped starts get their time from the next reading, which is taken at the latest in
 * a microtask after the first of them (so a synchronous burst of starts costs one reading), or earlier when the credit
 * runs out. The credit is the exact count at its reading and only understates later on, since starts only leave windows
 * as time passes; at worst a burst's starts leave their windows as late as the burst's synchronous code takes to run.
 * The test in `test/unit/blocks/rate-limiter.test.ts` compares this with the plain model in `test/reference/rate-limiter.ts`.
 */

import { checkFn, checkWhole, describe } from '../core/args.js';
import { type Clock, checkClock, systemClock } from '../core/clock.js';
import { Deferred } from '../core/deferred.js';
import { channels } from '../core/diagnostics.js';
import { runInto, startJob } from './job.js';

/** One window of a {@link RateLimiter}: at most `max` starts in any interval of `per` milliseconds. */
export interface RateWindow {
  /** How many starts the window allows: a whole number >= 1. */
  readonly max: number;
  /** The window's length in milliseconds: a finite number > 0. */
  readonly per: number;
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** The time source; the real one by default. Tests pass a {@link ManualClock}. */
  clock?: Clock;
}

type Job = (...args: never[]) => unknown;

/** A job waiting for the rate. It is its own Deferred, so waiting costs one object. */
class Waiter<T> extends Deferred<T> {
  // Declared, and set in the constructor: faster than field initializers (see Deferred).
  declare fn: Job | null;
  declare args: readonly unknown[];
  declare next: Waiter<unknown> | null;
  /** The Deferred of the running job's outcome, cancelled when the waiter is cancelled while the job runs. */
  declare inner: Deferred<unknown> | null;

  constructor(canceller: (d: Deferred<T>) => void, fn: Job | null, args: readonly unknown[]) {
    super(canceller);
    this.fn = fn;
    this.args = args;
    this.next = null;
    this.inner = null;
  }
}

/** For an `acquire()`: the waiter fires with the limiter instead of running a job. */
const ACQUIRE: Job = () => undefined;

function checkWindows(value: unknown): RateWindow[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new RangeError('Expected `windows` to hold at least one { max, per }, got []');
  return list.map((w: unknown, i) => {
    const name = Array.isArray(value) ? `windows[${i}]` : 'windows';
    if (w === null || typeof w !== 'object') {
      throw new TypeError(`Expected \`${name}\` to be an object { max, per }, got ${describe(w)}`);
    }
    const { max, per } = w as RateWindow;
    checkWhole(max, `${name}.max`, 1);
    if (typeof per !== 'number' || !(per > 0 && per < Number.POSITIVE_INFINITY)) {
      const error = typeof per === 'number' ? RangeError : TypeError;
      throw new error(`Expected \`${name}.per\` to be a finite number > 0, got ${describe(per)}`);
    }
    return { max, per };
  });
}

/**
 * Lets jobs start no faster than every one of its windows allows; the others wait in first-in first-out order.
 *
 * - `run(fn, ...args)` waits for the rate, calls `fn(...args)` and fires with its outcome (a value, a throw, or the
 *   settlement of a returned Promise or Deferred). A job that may start now starts synchronously.
 * - `acquire()` waits for the rate and fires with the limiter: the caller starts its work itself (it counts as a start).
 * - Cancelling a waiting `run()`/`acquire()` takes it out of the queue: it never counts as a start. Cancelling a
 *   `run()` whose job runs cancels the Deferred the job returned, if it returned one.
 * - {@link windows} can be replaced at any time; the log of past starts is kept, so the new limits hold from then on
 *   against the starts already made. The log holds as many starts as the largest `max` set so far; when a larger one
 *   is set, the starts it no longer holds count as made at the time of the oldest it holds (stricter than needed for
 *   a while, never looser).
 *
 * The limiter does not bound how many jobs run at once; put it inside a `DeferredSemaphore` or `parallel` job for that:
 * `parallel(urls, 5, (url) => limiter.run(getPage, url))`.
 *
 @remarks
 * Four helpers for crawling services that set limits. Each is Deferred-based like the rest (awaitable, cancellable), and
 * each that waits takes a `clock` (`ManualClock` in tests and notebooks: `clock.advance(ms)` runs what falls due).
 *
 * **`RateLimiter(windows, { clock })`** — at most `max` starts in *every* interval of `per` ms, for each window at once.
 *
 * ```ts
 * import { parallel, RateLimiter } from 'async-batching';
 *
 * const limiter = new RateLimiter([{ max: 10, per: 1_000 }, { max: 500, per: 60_000 }]);
 * const page = await limiter.run(getPage, url); // waits for the rate, then calls getPage(url)
 * await parallel(urls, 5, limiter.wrap(getPage)); // 5 at a time, and no faster than the windows allow
 * limiter.windows = { max: 2, per: 1_000 }; // takes effect at once, against the starts already made
 * const sem = new DeferredSemaphore(5, { rate: limiter }); // a semaphore's own option: ≤ 5 running, starts at the rate
 * ```
 *
 * `run(fn, ...args)` fires with `fn`'s outcome; a job that may start now starts synchronously, the others wait first in,
 * first out. Cancelling a waiting `run()` takes it out of the queue (it never counts as a start); cancelling a running one
 * cancels the Deferred its job returned. `acquire()` counts a start without a job; `waiting`, `started` and `available`
 * are cheap reads. A burst of starts that the windows have room for reads the clock once: each start is logged with the
 * time of the next reading, a microtask later at the latest, so it never counts as earlier than it was. Why not `limiter`, `rate-limiter-flexible` or `bottleneck`: each counts in fixed intervals or refills a
 * bucket (so nearly twice `max` can start within one `per`), `limiter` and `bottleneck` take one window each
 * (`rate-limiter-flexible` combines several only to reject callers, not to queue them), and none can withdraw one waiting
 * job (details in `lib/src/blocks/rate-limiter.ts`). To combine a limiter with a pool, give it to the pool rather than composing by hand:
 * `parallel(items, 5, fn, { rate: limiter })`, `keyedParallel(..., { rate })` or `new DeferredSemaphore(5, { rate:
 * limiter })` (a job waiting for the rate holds its slot there too, but the start is counted when the job really starts, and
 * cancelling it gives both back).
 */
export class RateLimiter {
  #windows: RateWindow[];
  readonly #clock: Clock;
  /**
   * Start times, a ring that grows (doubling) up to `#cap`, the largest `max` of the windows set so far: no window
   * looks further back than its `max`. `#count` of them are valid, the newest at `#last`; the unstamped starts
   * (`#unstamped`) are newer than all of them.
   */
  #log: Float64Array;
  #cap: number;
  #last = -1;
  #count = 0;
  /** Starts made on credit since the last clock reading: they join the log with the time of the next reading. */
  #unstamped = 0;
  /** Whether a microtask is planned to give the unstamped starts their time. */
  #stampPlanned = false;
  /** How many more starts every window allows, judged at the last clock reading against every start made since. */
  #credit = 0;
  #head: Waiter<unknown> | null = null;
  #tail: Waiter<unknown> | null = null;
  #waiting = 0;
  #timer: unknown = null;
  #timerAt = 0;
  #draining = false;
  #started = 0;
  readonly #cancel = (d: Deferred<unknown>): void => {
    const w = d as Waiter<unknown>;
    if (w.fn !== null) {
      // Still queued: forget the job; the drain loop skips the empty waiter when it reaches it.
      w.fn = null;
      this.#waiting--;
      if (this.#waiting === 0) this.#clearTimer();
    } else if (w.inner !== null) {
      w.inner.cancel();
    }
  };
  readonly #onStampDue = (): void => {
    this.#stampPlanned = false;
    if (this.#unstamped > 0) this.#stamp(this.#clock.now());
  };

  /**
   * @param windows one `{ max, per }` or a non-empty array of them.
   * @throws {RangeError} when a `max` is not a whole number >= 1 or a `per` not a finite number > 0.
   */
  constructor(windows: RateWindow | readonly RateWindow[], options: RateLimiterOptions = {}) {
    this.#windows = checkWindows(windows);
    this.#clock = options.clock === undefined ? systemClock : checkClock(options.clock);
    this.#cap = this.#capacity();
    this.#log = new Float64Array(Math.min(this.#cap, 16));
  }

  /** The windows in force (copies). Setting them takes effect at once: waiters start if the new limits allow. */
  get windows(): RateWindow[] {
    return this.#windows.map((w) => ({ ...w }));
  }

  /** Replaces the windows; see the getter. */
  set windows(value: RateWindow | readonly RateWindow[]) {
    this.#windows = checkWindows(value);
    // The log is never shortened (were the limits raised again, the starts it would have dropped could still count),
    // so a start is only ever dropped when no window set so far looked that far back.
    const cap = this.#capacity();
    if (cap > this.#cap) {
      // Those dropped starts count again, at the time of the oldest start kept: no earlier than they happened.
      const dropped = Math.min(this.#started - this.#unstamped - this.#count, cap - this.#count);
      this.#cap = cap;
      if (dropped > 0) this.#grow(this.#count + dropped, dropped);
    }
    // The credit was counted against the old limits.
    this.#credit = 0;
    this.#clearTimer();
    this.#drain();
  }

  /** How many `run()`/`acquire()` calls wait for the rate (cancelled ones are not counted). */
  get waiting(): number {
    return this.#waiting;
  }

  /** How many jobs (and acquires) have started since the limiter was made. */
  get started(): number {
    return this.#started;
  }

  /**
   * How many more starts every window allows right now (0 when the next start must wait). Cheap: it reads the clock
   * and looks up O(windows × log(max)) log entries.
   */
  get available(): number {
    this.#readClock();
    return this.#credit;
  }

  /** Waits for the rate, then fires with this limiter; the caller's work counts as one start. */
  acquire(): Deferred<this> {
    return this.#enqueue(ACQUIRE, []) as Deferred<unknown> as Deferred<this>;
  }

  /** Waits for the rate, then calls `fn(...args)` and fires with its outcome. */
  run<R, A extends unknown[]>(fn: (...args: A) => R | PromiseLike<R>, ...args: A): Deferred<Awaited<R>> {
    if (typeof fn !== 'function') checkFn(fn, 'fn');
    // Nobody waits (nor is being started: a job that calls run() must not overtake the queue) and every window has
    // room: the job starts now, without a place in the queue.
    if (this.#waiting === 0 && !this.#draining) {
      if (this.#credit > 0) {
        this.#credit--;
        this.#startUnstamped();
        return startJob(fn as Job, ...args) as Deferred<Awaited<R>>;
      }
      const now = this.#readClock();
      if (this.#credit > 0) {
        this.#credit--;
        this.#record(now);
        return startJob(fn as Job, ...args) as Deferred<Awaited<R>>;
      }
    }
    return this.#enqueueCall(fn as Job, ...args) as Deferred<Awaited<R>>;
  }

  /** A function with `fn`'s parameters that runs `fn` through this limiter: handy as a `parallel` job. */
  wrap<R, A extends unknown[]>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Deferred<Awaited<R>> {
    checkFn(fn, 'fn');
    return (...args: A) => this.run(fn, ...args);
  }

  /**
   * {@link #enqueue} with the arguments spread: `run()` only forwards its rest parameter, to here or to `startJob`, so
   * V8 makes no array of them for a job that starts at once (bench row `limiter`).
   */
  #enqueueCall(fn: Job, ...args: unknown[]): Deferred<unknown> {
    return this.#enqueue(fn, args);
  }

  #enqueue(fn: Job, args: readonly unknown[]): Deferred<unknown> {
    const w = new Waiter<unknown>(this.#cancel, fn, args);
    if (this.#tail === null) this.#head = w;
    else this.#tail.next = w;
    this.#tail = w;
    this.#waiting++;
    this.#drain();
    return w;
  }

  #capacity(): number {
    let cap = 1;
    for (const w of this.#windows) cap = Math.max(cap, w.max);
    return cap;
  }

  /** The start time `back` places before the newest (0 is the newest); only for `back < #count`. */
  #at(back: number): number {
    const n = this.#log.length;
    return this.#log[(this.#last - back + n) % n] as number;
  }

  /**
   * Makes the log hold at least `want` starts (at most `#cap`), doubling its length; `older` more starts go before the
   * oldest logged one, with its time.
   */
  #grow(want: number, older = 0): void {
    let size = this.#log.length;
    while (size < want) size *= 2;
    const capacity = Math.min(this.#cap, size);
    const keep = Math.min(this.#count, capacity);
    const fill = Math.min(older, capacity - keep);
    // A typed array: a plain `new Array(n)` of more than a few thousand slots starts out sparse and slow.
    const log = new Float64Array(capacity);
    if (fill > 0) log.fill(this.#at(this.#count - 1), 0, fill);
    for (let i = 0; i < keep; i++) log[fill + keep - 1 - i] = this.#at(i);
    this.#log = log;
    this.#count = fill + keep;
    this.#last = fill + keep - 1;
  }

  /**
   * Reads the clock, gives the unstamped starts that time (it is no earlier than any of them), and sets the credit to
   * what every window allows at that time. Returns the time read.
   */
  #readClock(): number {
    const now = this.#clock.now();
    if (this.#unstamped > 0) this.#stamp(now);
    let credit = Number.POSITIVE_INFINITY;
    for (const w of this.#windows) credit = Math.min(credit, w.max - this.#inWindow(w, now));
    this.#credit = credit;
    return now;
  }

  /**
   * How many of the newest `w.max` logged starts are still inside `w` at `now`, that is, `at + per > now` (the same
   * test as {@link #earliest}'s). The log is in time order, so they are a run from the newest: a binary search.
   */
  #inWindow(w: RateWindow, now: number): number {
    let lo = 0;
    let hi = Math.min(this.#count, w.max);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#at(mid) + w.per > now) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The earliest time a new start is allowed, by every window (`-Infinity` when now is fine at any time). */
  #earliest(): number {
    let t = Number.NEGATIVE_INFINITY;
    for (const w of this.#windows) {
      if (this.#count >= w.max) t = Math.max(t, this.#at(w.max - 1) + w.per);
    }
    return t;
  }

  /** Counts a start made on credit; its time comes from the next clock reading. */
  #startUnstamped(): void {
    this.#unstamped++;
    this.#started++;
    if (!this.#stampPlanned) {
      this.#stampPlanned = true;
      queueMicrotask(this.#onStampDue);
    }
  }

  /** Logs the unstamped starts at `time`. */
  #stamp(time: number): void {
    const n = this.#unstamped;
    this.#unstamped = 0;
    if (this.#count + n > this.#log.length && this.#log.length < this.#cap) this.#grow(this.#count + n);
    // Only the newest `length` starts can matter, and they all have the same time.
    const size = this.#log.length;
    for (let i = Math.min(n, size); i > 0; i--) {
      this.#last = this.#last + 1 === size ? 0 : this.#last + 1;
      this.#log[this.#last] = time;
    }
    this.#count = Math.min(size, this.#count + n);
  }

  /** Logs a start at `now`, the clock reading it was allowed by. */
  #record(now: number): void {
    if (this.#count === this.#log.length && this.#count < this.#cap) this.#grow(this.#count + 1);
    this.#last = this.#last + 1 === this.#log.length ? 0 : this.#last + 1;
    this.#log[this.#last] = now;
    if (this.#count < this.#log.length) this.#count++;
    this.#started++;
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #onTimer = (): void => {
    this.#timer = null;
    this.#drain();
  };

  /** Starts waiters while every window allows; otherwise plans one timer for the earliest allowed time. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#head !== null) {
        const w = this.#head;
        if (w.fn === null) {
          this.#pop();
          continue;
        }
        if (this.#credit > 0) {
          this.#credit--;
          this.#startUnstamped();
        } else {
          const now = this.#readClock();
          if (this.#credit <= 0) {
            // Every unstamped start has its time now, so the log says when the next start is allowed.
            const at = this.#earliest();
            if (this.#timer === null || this.#timerAt !== at) {
              this.#clearTimer();
              this.#timerAt = at;
              this.#timer = this.#clock.setTimeout(this.#onTimer, at - now);
              if (channels.rateWait.hasSubscribers) {
                channels.rateWait.publish({ limiter: this, delay: at - now, waiting: this.#waiting });
              }
            }
            return;
          }
          this.#credit--;
          this.#record(now);
        }
        this.#pop();
        this.#waiting--;
        const fn = w.fn;
        w.fn = null;
        if (fn === ACQUIRE) w.callback(this);
        else w.inner = runInto(fn, w.args, w);
      }
    } finally {
      this.#draining = false;
    }
  }

  #pop(): void {
    const w = this.#head as Waiter<unknown>;
    this.#head = w.next;
    if (this.#head === null) this.#tail = null;
    w.next = null;
  }
}
