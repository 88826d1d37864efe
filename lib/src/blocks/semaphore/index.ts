import { checkFn, checkWhole, describe } from '../../core/args.js';
import { Deferred } from '../../core/deferred.js';
import { TooManyReleasesError } from '../../core/errors.js';
import type { Failure } from '../../core/failure.js';
import { RateLimiter, type RateWindow } from '../rate-limiter.js';
import { ConcurrencyPrimitive } from './primitive.js';

export { ConcurrencyPrimitive, type WaitingQueue } from './primitive.js';

function checkTokens(value: unknown, name: string): number {
  return checkWhole(value, name, 1);
}

/** Options of {@link DeferredSemaphore}. */
export interface DeferredSemaphoreOptions {
  /**
   * A rate every start goes through, besides the token: one window `{ max, per }`, several, or a {@link RateLimiter}
   * (to share it, or to give it a clock). Default: none.
   */
  rate?: RateWindow | readonly RateWindow[] | RateLimiter;
}

/** The `rate` option as a limiter: RateLimiter checks the windows, and its messages are renamed to the option's. */
function limiterFor(rate: unknown): RateLimiter {
  if (rate instanceof RateLimiter) return rate;
  if (rate === null || typeof rate !== 'object') {
    throw new TypeError(
      `Expected \`options.rate\` to be a RateLimiter, a window { max, per } or an array of them, got ${describe(rate)}`,
    );
  }
  try {
    return new RateLimiter(rate as RateWindow | readonly RateWindow[]);
  } catch (e) {
    if (e instanceof RangeError) throw new RangeError(e.message.replace('`windows', '`options.rate'));
    if (e instanceof TypeError) throw new TypeError(e.message.replace('`windows', '`options.rate'));
    throw e;
  }
}

/** A rated `run()` job: it holds its token while it waits for the rate, then starts. */
function startThrough(
  rate: RateLimiter,
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
): Deferred<unknown> {
  return rate.run(fn, ...args);
}

/**
 * A semaphore whose `acquire()` returns a {@link Deferred} — Twisted's `DeferredSemaphore`: at most {@link limit}
 * holders at once, the others wait in a first-in first-out queue. See {@link ConcurrencyPrimitive} for `acquire()`,
 * `release()`, `run()`, cancellation and `using`.
 *
 * Beyond Twisted, {@link limit} can be changed while jobs run, {@link held} counts the tokens held, and a `rate`
 * option bounds how fast jobs start as well as how many run.
 *
 @remarks
 * ```ts
 * import { DeferredSemaphore, DeferredList } from 'async-batching';
 *
 * const sem = new DeferredSemaphore(3); // at most 3 jobs at a time
 * const jobs = urls.map((url) => sem.run(getPage, url)); // run(fn, ...args): a Deferred of fn's result
 * const results = await new DeferredList(jobs, { consumeErrors: true });
 *
 * {
 *   await using _ = await sem.acquire(); // holds a token until the block ends, like Twisted's `async with sem:`
 *   await writeSomething();
 * } // released here, also when the block throws
 * ```
 *
 * `run(fn, ...args)` waits for a token, calls `fn(...args)`, and gives the token back when the job's result fires — a
 * value, a throw, a Promise or Deferred settling: whatever the job returns or throws (even an object whose `then` getter
 * throws) is its outcome — then fires with that outcome. The token of a `run()` job is the run's own: a bare
 * `release()` inside the job throws `TooManyReleasesError` instead of letting a second job in. Order, as in Twisted
 * (where `run()`'s release is a link of the chain it returns, before the caller's): when a job's result fires, its
 * token goes back first, so waiting jobs start, and then the job's own callbacks run; a job that finished while others
 * were being let in has its callbacks run after theirs, the last finished first. Meanwhile its Deferred holds the
 * outcome, so a `cancel()` from their code changes nothing. `acquire()` gives a
 * `Deferred` that fires with the semaphore once a token is free (cancel it to leave the queue); `release()` gives back a
 * token taken with `acquire()`, and so does disposing the semaphore, which is what `using`/`await using` on the value
 * `acquire()` fired with does. Cancelling a `run()` while its job runs cancels the job's result, as Twisted does: the
 * token is released when that result fires — at once for a Promise or a Deferred without a canceller, whose work then
 * goes on outside the limit (give long work a canceller; `getPage` has one).
 *
 * Read-only state: `held` (tokens held now, by `acquire()` holders and running jobs, right even after lowering `limit`
 * below them), `tokens` (free now), `waiting` (the queue, a live view), and `limit`, settable on a semaphore (raising it
 * starts waiting jobs at once). `DeferredLock` has the same `acquire()`, `release()`, `run()` and `using`, plus `locked`;
 * its `limit` is a read-only 1. It is not a subclass of `DeferredSemaphore` (nor is it in Twisted): a semaphore promises
 * a settable `limit`, which a lock cannot keep, so both extend `ConcurrencyPrimitive` — type a parameter with that to
 * take either. `new DeferredSemaphore(0)` or `1.5` is a `RangeError`; `run(notAFunction)` a `TypeError`; releasing more
 * than was acquired a `TooManyReleasesError` (`AB_ERR_TOO_MANY_RELEASES`).
 *
 * **A rate as well as a limit.** `new DeferredSemaphore(tokens, { rate })` also bounds how fast jobs start: `rate` is a
 * window `{ max, per }`, several, or a `RateLimiter` (to share one, or to give it a `clock`).
 *
 * ```ts
 * const sem = new DeferredSemaphore(5, { rate: [{ max: 10, per: 1_000 }, { max: 500, per: 60_000 }] });
 * const pages = await new DeferredList(urls.map((url) => sem.run(getPage, url))); // ≤ 5 at once, ≤ 10 starts a second
 * sem.rate!.windows = { max: 2, per: 1_000 }; // limits change at runtime, as does sem.limit
 * ```
 *
 * A `run()` job or an `acquire()` waits for a token, then for the rate, and starts (fires) only when both allow —
 * synchronously when they do at once. While it waits for the rate it holds its token (it counts in `held`, not in
 * `waiting`), so its start is recorded when it really starts; cancelling it then takes it out of the limiter's queue
 * (never counting as a start) and gives the token back. A property test drives random jobs, cancellations and limit
 * changes on a `ManualClock` and checks that no interval of `per` has more than `max` starts and that never more than
 * `tokens` run. Without `rate` a semaphore runs exactly the code it ran before: the rated `run`/`acquire` are installed
 * on the instance only when `rate` is given (an override testing for a rate had cost ~20% on a million synchronous
 * `run()` calls). `node bench/run.ts --only semaphore`, same machine, load 5–7, before → after: `run` + DeferredList 107 →
 * 87 ms, `run` alone 74.7 → 74.3 ms, `run(fn, item)` + gatherResults 143 → 115 ms — noise, not a gain.
 */
export class DeferredSemaphore extends ConcurrencyPrimitive {
  readonly #rate: RateLimiter | null;

  /**
   * @param tokens how many holders may hold the semaphore at once: a whole number >= 1.
   * @param options `rate`: with it, a `run()` job or an `acquire()` waits for a token, then for the rate, and only
   * then starts (fires), so no more start in any window than it allows and no more than `tokens` run. A job waiting
   * for the rate holds its token (it counts in {@link held}, not in {@link waiting}): its start is recorded when it
   * really starts, and it starts the moment the rate allows. Cancelling it while it waits for the rate takes it out of
   * the limiter's queue (it never counts as a start) and gives the token back. Without `rate`, nothing changes.
   * @throws {RangeError} for `tokens` out of range, or a window whose `max` or `per` is; `TypeError` for a `rate`
   * that is neither a RateLimiter nor windows.
   */
  constructor(tokens: number, options?: DeferredSemaphoreOptions) {
    super(checkTokens(tokens, 'tokens'));
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    this.#rate = options?.rate === undefined ? null : limiterFor(options.rate);
    if (this.#rate !== null) {
      this.run = this.#runThrough;
      this.acquire = this.#acquireRated;
    }
  }

  /**
   * How many holders are allowed at once. Setting it (a whole number >= 1) takes effect at once: raising it starts
   * waiters, lowering it lets current holders finish and starts nobody new until fewer than the new limit hold a token.
   */
  override get limit(): number {
    return this._limit;
  }

  override set limit(value: number) {
    this._limit = checkTokens(value, 'limit');
    this._drain();
  }

  /**
   * The limiter every start goes through (`rate` option), or `null`. Change its limits at runtime with
   * `sem.rate.windows = ...`; its `waiting` counts the token holders waiting for the rate.
   */
  get rate(): RateLimiter | null {
    return this.#rate;
  }

  /**
   * `run()` of a semaphore with a rate: its job takes a token, then waits for the rate. Installed as the instance's own
   * `run` by the constructor, so a semaphore without a rate runs the primitive's `run()` with no check added (an
   * override testing for a rate cost ~20% on a million synchronous `run()` calls).
   */
  #runThrough<R, A extends unknown[]>(
    fn: (...args: A) => R | PromiseLike<R>,
    ...args: A
  ): Deferred<Awaited<R>> {
    if (typeof fn !== 'function') checkFn(fn, 'fn');
    return super.run(
      startThrough,
      this.#rate as RateLimiter,
      fn as (...a: unknown[]) => unknown,
      args,
    ) as Deferred<Awaited<R>>;
  }

  /**
   * `acquire()` of a semaphore with a rate, installed like {@link #runThrough}: the token first, then the rate;
   * cancelling gives back whatever is held.
   */
  #acquireRated(): Deferred<this> {
    const token = super.acquire();
    const rate = this.#rate as RateLimiter;
    let forRate: Deferred<RateLimiter> | null = null;
    const out = new Deferred<this>(() => {
      if (forRate === null) token.cancel();
      else forRate.cancel();
    });
    const passOn = (failure: Failure): null => {
      if (!out.called) out.errback(failure);
      return null;
    };
    token.addCallbacks(() => {
      const d = rate.acquire();
      forRate = d;
      d.addCallbacks(
        () => {
          forRate = null;
          out.callback(this);
          return null;
        },
        (failure: Failure) => {
          forRate = null;
          this.release();
          return passOn(failure);
        },
      );
      return null;
    }, passOn);
    return out;
  }
}

/**
 * A mutual-exclusion lock whose `acquire()` returns a {@link Deferred} — Twisted's `DeferredLock`: one holder at a
 * time, with the same `acquire()`, `release()`, `run()`, cancellation, first-in first-out order and `using` as a
 * {@link DeferredSemaphore}.
 *
 * It is not a subclass of DeferredSemaphore (nor is it in Twisted): a semaphore promises a settable `limit`, which a
 * lock cannot honour, so a lock could not stand wherever a semaphore is expected. Both are
 * {@link ConcurrencyPrimitive}s: type a parameter with that to accept either.
 */
export class DeferredLock extends ConcurrencyPrimitive {
  constructor() {
    super(1);
    this._kind = 'lock';
  }

  /** True while someone holds the lock. */
  get locked(): boolean {
    return this._acquired + this._running > 0;
  }

  /**
   * Unlocks a lock taken with `acquire()`, handing it to the oldest waiter if there is one.
   * @throws {TooManyReleasesError} when the lock is not held through `acquire()`.
   */
  override release(): void {
    if (this._acquired === 0) {
      throw new TooManyReleasesError(
        this._running === 0
          ? 'release() was called on a DeferredLock that is not locked'
          : 'release() was called on a DeferredLock locked by a run() job, which unlocks it when its result fires',
      );
    }
    super.release();
  }
}
