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
 */
import { Deferred } from '../core/deferred.js';
import { type Clock, checkClock, checkWhole, describe, systemClock } from './clock.js';
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
    if (typeof per !== 'number' || !Number.isFinite(per) || per <= 0) {
      throw new RangeError(`Expected \`${name}.per\` to be a finite number > 0, got ${describe(per)}`);
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
 *   against the starts already made.
 *
 * The limiter does not bound how many jobs run at once; put it inside a `DeferredSemaphore` or `parallel` job for that:
 * `parallel(urls, 5, (url) => limiter.run(getPage, url))`.
 */
export class RateLimiter {
  #windows: RateWindow[];
  readonly #clock: Clock;
  /**
   * Start times, a ring that grows (doubling) up to the largest `max`, `#cap`: no window looks further back than that.
   * `#count` of them are valid, the newest at `#last`.
   */
  #log: Float64Array;
  #cap: number;
  #last = -1;
  #count = 0;
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

  set windows(value: RateWindow | readonly RateWindow[]) {
    this.#windows = checkWindows(value);
    this.#cap = this.#capacity();
    if (this.#log.length > this.#cap) this.#resizeLog(this.#cap);
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
   * How many more starts every window allows right now (0 when the next start must wait). Cheap: O(windows).
   */
  get available(): number {
    const now = this.#clock.now();
    let least = Number.POSITIVE_INFINITY;
    for (const w of this.#windows) {
      // Starts inside (now - per, now], counted back from the newest: the log is in time order.
      let inWindow = 0;
      while (inWindow < this.#count && inWindow < w.max && this.#at(inWindow) > now - w.per) inWindow++;
      least = Math.min(least, w.max - inWindow);
    }
    return least;
  }

  /** Waits for the rate, then fires with this limiter; the caller's work counts as one start. */
  acquire(): Deferred<this> {
    return this.#enqueue(ACQUIRE, []) as Deferred<unknown> as Deferred<this>;
  }

  /** Waits for the rate, then calls `fn(...args)` and fires with its outcome. */
  run<R, A extends unknown[]>(fn: (...args: A) => R | PromiseLike<R>, ...args: A): Deferred<Awaited<R>> {
    if (typeof fn !== 'function')
      throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
    if (this.#waiting === 0 && !this.#draining) {
      const now = this.#clock.now();
      if (this.#earliest() <= now) {
        // Nobody waits and every window has room: the job starts now, without a place in the queue.
        this.#record(now);
        return startJob(fn as Job, args) as Deferred<Awaited<R>>;
      }
    }
    return this.#enqueue(fn as Job, args) as Deferred<Awaited<R>>;
  }

  /** A function with `fn`'s parameters that runs `fn` through this limiter: handy as a `parallel` job. */
  wrap<R, A extends unknown[]>(fn: (...args: A) => R | PromiseLike<R>): (...args: A) => Deferred<Awaited<R>> {
    if (typeof fn !== 'function')
      throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
    return (...args: A) => this.run(fn, ...args);
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

  #resizeLog(capacity: number): void {
    const keep = Math.min(this.#count, capacity);
    // A typed array: a plain `new Array(n)` of more than a few thousand slots starts out sparse and slow.
    const log = new Float64Array(capacity);
    for (let i = 0; i < keep; i++) log[keep - 1 - i] = this.#at(i);
    this.#log = log;
    this.#count = keep;
    this.#last = keep - 1;
  }

  /** The earliest time a new start is allowed, by every window (`-Infinity` when now is fine at any time). */
  #earliest(): number {
    let t = Number.NEGATIVE_INFINITY;
    for (const w of this.#windows) {
      if (this.#count >= w.max) t = Math.max(t, this.#at(w.max - 1) + w.per);
    }
    return t;
  }

  #record(now: number): void {
    if (this.#count === this.#log.length && this.#count < this.#cap) {
      this.#resizeLog(Math.min(this.#cap, this.#log.length * 2));
    }
    this.#last = (this.#last + 1) % this.#log.length;
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
        const now = this.#clock.now();
        const at = this.#earliest();
        if (at > now) {
          if (this.#timer === null || this.#timerAt !== at) {
            this.#clearTimer();
            this.#timerAt = at;
            this.#timer = this.#clock.setTimeout(this.#onTimer, at - now);
          }
          return;
        }
        this.#pop();
        this.#waiting--;
        this.#record(now);
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
