/**
 * Retrying a job with exponential backoff, jitter, a cap per wait and a cap on the total wait, honouring a delay the
 * failure itself asks for (an HTTP `Retry-After`).
 *
 * Why not p-retry (9.x), which was evaluated first: its wait is computed from its own options only — there is no way
 * for a failure to say "come back in 30 s", which is what a `429` or `503` with `Retry-After` needs; it takes an
 * `AbortSignal` but cannot cancel the attempt in flight when that attempt is a Deferred; and it waits on the real
 * timers, where our tests drive an injected {@link Clock}. The loop itself is short, so it lives here.
 */

import {
  checkFn,
  checkMs,
  checkNumber,
  checkObject,
  checkOptionalFn,
  checkSignal,
  checkWhole,
} from '../core/args.js';
import { type Clock, checkClock, systemClock } from '../core/clock.js';
import { CancelledError, Deferred, maybeDeferred } from '../core/deferred.js';
import { channels } from '../core/diagnostics.js';
import type { Failure } from '../core/failure.js';

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryEvent {
  /** The error of the attempt that just failed. */
  error: unknown;
  /** The number of that attempt (the first is 1). */
  attempt: number;
  /** Milliseconds until the next attempt. */
  delay: number;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** How many attempts in all, the first included: a whole number >= 1. Default 3. */
  attempts?: number;
  /** The wait after the first failure, in milliseconds, before jitter. Default 100. */
  minDelay?: number;
  /** Each wait is this many times the one before (before jitter and cap). Default 2. */
  factor?: number;
  /** No single wait is longer than this (a delay the failure asks for is not capped by it). Default 30000. */
  maxDelay?: number;
  /**
   * How much of each backoff wait is random, from 0 (none: exactly the backoff) to 1 (anywhere from 0 to the backoff,
   * "full jitter"). Default 0.5: from half the backoff to all of it. Spread keeps many clients from retrying in step.
   */
  jitter?: number;
  /**
   * The most milliseconds to spend waiting between attempts, all waits together; a retry whose wait would take the
   * total past it is not made (the last failure is the outcome). Default Infinity.
   */
  maxTotalWait?: number;
  /** Whether a failure is worth another attempt. Default: every error but a `CancelledError`. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /**
   * The wait a failure asks for, in milliseconds (e.g. from `Retry-After`), or `undefined` to use the backoff. A wait
   * asked for this way is neither jittered nor capped by `maxDelay`, but still counts against `maxTotalWait`.
   */
  delayFor?: (error: unknown, attempt: number) => number | undefined;
  /** Told of each retry before its wait. */
  onRetry?: (event: RetryEvent) => void;
  /** Aborting it stops retrying: the wait or attempt in progress is cancelled and the Deferred fails with CancelledError. */
  signal?: AbortSignal;
  /** The time source for the waits. Default: the real clock. */
  clock?: Clock;
  /** Random numbers in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
}

/**
 * Records on the error that gave up how many attempts were made, as its own `attempts` property (readable with
 * {@link attemptsOf}; getPage's failures declare it). A frozen error, or a primitive, carries nothing.
 */
function markAttempts(error: unknown, attempts: number): void {
  if (error !== null && typeof error === 'object' && Object.isExtensible(error)) {
    Object.defineProperty(error, 'attempts', { value: attempts, configurable: true, writable: true });
  }
}

/** How many attempts `retry()` made before giving up with `error`, or `undefined` when it did not come from a retry. */
export function attemptsOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const n = (error as { attempts?: unknown }).attempts;
  return typeof n === 'number' ? n : undefined;
}

/** {@link RetryOptions}, checked, with the defaults filled in (getPage's settings name it; not exported from the package). */
export interface RetrySettings {
  attempts: number;
  minDelay: number;
  factor: number;
  maxDelay: number;
  jitter: number;
  maxTotalWait: number;
  clock: Clock;
  random: () => number;
  shouldRetry: (error: unknown, attempt: number) => boolean;
  delayFor: ((error: unknown, attempt: number) => number | undefined) | undefined;
  onRetry: ((event: RetryEvent) => void) | undefined;
}

/**
 * @internal Checks `options`; `prefix` goes before each option's name in messages (`retry.` for getPage's option).
 */
export function readOptions(options: RetryOptions, prefix = ''): RetrySettings {
  checkObject(options, prefix === '' ? 'options' : prefix.slice(0, -1));
  const jitter = checkNumber(options.jitter ?? 0.5, `${prefix}jitter`, 0, 1);
  checkOptionalFn(options.shouldRetry, `${prefix}shouldRetry`);
  checkOptionalFn(options.delayFor, `${prefix}delayFor`);
  checkOptionalFn(options.onRetry, `${prefix}onRetry`);
  checkOptionalFn(options.random, `${prefix}random`);
  return {
    attempts: checkWhole(options.attempts ?? 3, `${prefix}attempts`, 1),
    minDelay: checkMs(options.minDelay ?? 100, `${prefix}minDelay`, true),
    factor: checkNumber(options.factor ?? 2, `${prefix}factor`, 1),
    maxDelay: checkMs(options.maxDelay ?? 30_000, `${prefix}maxDelay`, true),
    jitter,
    maxTotalWait: checkMs(options.maxTotalWait ?? Number.POSITIVE_INFINITY, `${prefix}maxTotalWait`, true),
    clock: options.clock === undefined ? systemClock : checkClock(options.clock),
    random: options.random ?? Math.random,
    shouldRetry: options.shouldRetry ?? ((e: unknown) => !(e instanceof CancelledError)),
    delayFor: options.delayFor,
    onRetry: options.onRetry,
  };
}

/**
 * Calls `fn(attempt)` (the first attempt is 1) until it succeeds, a failure is not worth retrying, the attempts run
 * out, or the next wait would take the total past `maxTotalWait`; fires with the first success, or fails with the last
 * error — the very error the job failed with (an `HttpError` stays an `HttpError`), its `attempts` set to the attempts
 * made.
 *
 * The wait before attempt `n + 1` is `min(maxDelay, minDelay * factor^(n-1))`, of which a share `jitter` is random,
 * unless `delayFor` names a wait. Cancelling the returned Deferred (or aborting `signal`) clears the wait between
 * attempts, or cancels the attempt in flight when it returned a Deferred; no further attempt is made. In the second
 * case the returned Deferred fails with `CancelledError` at once, but its chain goes on only once the cancelled
 * attempt's Deferred has settled — so a semaphore or `parallel()` running the retry gets its slot back only when the
 * attempt has let go of what it held (getPage: its connection).
 *
 * @throws {TypeError | RangeError} at once, for an option of the wrong type or out of range, naming it.
 *
 @remarks
 * **`retry(fn, options)` and `retrying(getPage, options)`** — retries with exponential backoff and jitter.
 *
 * ```ts
 * import { attemptsOf, getPage, retry, retrying } from 'async-batching';
 *
 * const html = await getPage(url, { retry: 4 }); // getPage's own option: 408, 425, 429, 5xx, lost connections, timeouts
 * const politeGet = retrying(getPage, { attempts: 4, minDelay: 200 }); // the same policy around any getPage-like function
 *
 * const value = await retry((attempt) => flakyJob(attempt), {
 *   attempts: 5, minDelay: 100, factor: 2, maxDelay: 5_000, jitter: 0.5, maxTotalWait: 20_000,
 *   shouldRetry: (error) => !(error instanceof TypeError),
 * });
 * ```
 *
 * `retry` calls `fn(attempt)` until it succeeds, `shouldRetry` refuses, the attempts run out or the next wait would take
 * the total past `maxTotalWait`; it then fails with the last error itself — an `HttpError` stays an `HttpError` — with
 * `error.attempts` (or `attemptsOf(error)`) set to the attempts made. `delayFor(error)` can name a wait (that is how the
 * HTTP retries honour `Retry-After`). A policy hook that throws (`shouldRetry`, `delayFor`, `onRetry`, `random`, the
 * clock, getPage's `retry.now`) ends the retry with that error. Cancelling the Deferred stops the wait or cancels the
 * attempt in flight; in the
 * latter case its chain goes on once that attempt's Deferred has settled, so a semaphore gets its token back only when
 * getPage has closed the connection. `parseRetryAfter(value, now?)` is exported too: delay-seconds, or an RFC 9110
 * HTTP-date (the IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, and the obsolete RFC 850 and asctime forms the RFC says
 * recipients must accept); anything else (`'in 10'`, `'Mon 1'`, an ISO date) is `undefined` and the backoff applies.
 * Why not p-retry: a failure cannot set its
 * own wait there, and an attempt that is a Deferred cannot be cancelled. `retrying(get, options)` takes the options of
 * getPage's `retry` option and applies them around any function taking a URL and options (the method is read from the
 * call's `method`); for getPage itself the option is simpler. Both are built on `retry`'s loop rather than undici's retry
 * interceptor (see "Retries" in getPage's remarks); for transport-level retries within one exchange that interceptor still
 * fits: `getPage(url, { dispatcher: new Agent().compose(interceptors.retry({ ... })) })`.
 */
export function retry<R>(
  fn: (attempt: number) => R | PromiseLike<R>,
  options: RetryOptions = {},
): Deferred<Awaited<R>> {
  checkFn(fn, 'fn');
  return retryWith(
    fn,
    readOptions(options),
    checkSignal(options.signal, 'signal'),
    'The operation was aborted',
  );
}

/**
 * @internal The loop of {@link retry}, over checked settings. `abortMessage` is the message of the `CancelledError`
 * an aborted `signal` fails it with (its `cause` is the signal's reason).
 */
export function retryWith<R>(
  fn: (attempt: number) => R | PromiseLike<R>,
  settings: RetrySettings,
  signal: AbortSignal | undefined,
  abortMessage: string,
): Deferred<Awaited<R>> {
  const {
    attempts,
    minDelay,
    factor,
    maxDelay,
    jitter,
    maxTotalWait,
    clock,
    random,
    shouldRetry,
    delayFor,
    onRetry,
  } = settings;
  let attempt = 0;
  let waited = 0;
  let timer: unknown = null;
  let inner: Deferred<unknown> | null = null;
  let stopped = false;
  /** Told when the cancelled attempt's Deferred settles. */
  let released: (() => void) | null = null;
  /** Fires once the cancelled attempt's Deferred has settled: until then `out`'s chain waits. */
  let hold: Deferred<undefined> | null = null;
  const out = new Deferred<Awaited<R>>(() => {
    stopped = true;
    finish();
    if (timer !== null) {
      clock.clearTimeout(timer);
      timer = null;
    }
    const d = inner;
    inner = null;
    if (d !== null) {
      let settled = false;
      released = () => {
        settled = true;
      };
      d.cancel();
      if (!settled) {
        const h = new Deferred<undefined>();
        hold = h;
        released = () => h.callback(undefined);
      }
    }
    if (signal?.aborted) out.errback(new CancelledError(abortMessage, { cause: signal.reason }));
  });
  out.addErrback((failure: Failure) => (hold === null ? failure : hold.addCallback(() => failure)));
  const onAbort = () => {
    if (!out.called) out.cancel();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const finish = () => signal?.removeEventListener('abort', onAbort);

  const failed = (failure: Failure): void => {
    inner = null;
    if (out.called) return;
    const error = failure.value;
    let delay: number | undefined;
    try {
      if (attempt < attempts && shouldRetry(error, attempt)) {
        const asked = delayFor?.(error, attempt);
        if (asked !== undefined && Number.isFinite(asked) && asked >= 0) delay = asked;
        else {
          const backoff = Math.min(maxDelay, minDelay * factor ** (attempt - 1));
          delay = backoff * (1 - jitter * random());
        }
        if (waited + delay > maxTotalWait) delay = undefined;
      }
      if (delay !== undefined) {
        waited += delay;
        onRetry?.({ error, attempt, delay });
        if (channels.retry.hasSubscribers) channels.retry.publish({ attempt, delay, reason: error });
        timer = clock.setTimeout(() => {
          timer = null;
          next();
        }, delay);
        return;
      }
    } catch (e) {
      // A policy hook (shouldRetry, delayFor, onRetry, random, the clock) that throws ends the retry with its error:
      // left to this errback, it would only fail the attempt's own chain, and the retry would never settle.
      finish();
      out.errback(e);
      return;
    }
    markAttempts(error, attempt);
    finish();
    out.errback(failure);
  };

  const next = (): void => {
    if (out.called) return;
    attempt++;
    const d = maybeDeferred(fn, attempt) as Deferred<unknown>;
    inner = d;
    d.addCallbacks(
      (value: unknown) => {
        if (stopped) {
          released?.();
          return value;
        }
        inner = null;
        if (!out.called) {
          finish();
          out.callback(value as Awaited<R>);
        }
        return undefined;
      },
      (failure: Failure) => {
        if (stopped) released?.();
        else failed(failure);
        return null;
      },
    );
  };

  if (signal?.aborted) {
    finish();
    out.errback(new CancelledError(abortMessage, { cause: signal.reason }));
  } else next();
  return out;
}
