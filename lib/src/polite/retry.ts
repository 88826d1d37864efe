/**
 * Retrying a job with exponential backoff, jitter, a cap per wait and a cap on the total wait, honouring a delay the
 * failure itself asks for (an HTTP `Retry-After`).
 *
 * Why not p-retry (9.x), which was evaluated first: its wait is computed from its own options only — there is no way
 * for a failure to say "come back in 30 s", which is what a `429` or `503` with `Retry-After` needs; it takes an
 * `AbortSignal` but cannot cancel the attempt in flight when that attempt is a Deferred; and it waits on the real
 * timers, where our tests drive an injected {@link Clock}. The loop itself is short, so it lives here.
 *
 * Why `retrying(getPage)` is not undici's retry interceptor (`interceptors.retry`, which it would otherwise be):
 * that one retries below getPage, invisibly — it reports no attempt count, has no jitter and no cap on the total wait,
 * and a failure after its last attempt is undici's own `RequestRetryError` rather than our typed `HttpError`. For
 * transport-level retries it is still the right tool: pass `dispatcher: new Agent().compose(interceptors.retry(...))`.
 */
import { CancelledError, Deferred, maybeDeferred } from '../core/deferred.js';
import { AsyncBatchingError, HttpError } from '../core/errors.js';
import type { Failure } from '../core/failure.js';
import { type Clock, checkClock, checkWhole, describe, systemClock } from './clock.js';

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
  /** The most milliseconds to spend waiting between attempts, all waits together; a retry that would go past it is not made. Default Infinity. */
  maxWait?: number;
  /** Whether a failure is worth another attempt. Default: every error but a `CancelledError`. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /**
   * The wait a failure asks for, in milliseconds (e.g. from `Retry-After`), or `undefined` to use the backoff. A wait
   * asked for this way is neither jittered nor capped by `maxDelay`, but still counts against `maxWait`.
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

function checkNumber(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be a number >= ${min}, got ${describe(value)}`);
  }
  return value;
}

function checkFn(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
}

/** Records on the error that gave up how many attempts were made (readable with {@link attemptsOf}). */
function markAttempts(error: unknown, attempts: number): void {
  if (error instanceof AsyncBatchingError) error.attempts = attempts;
  else if (error !== null && typeof error === 'object' && Object.isExtensible(error)) {
    Object.defineProperty(error, 'attempts', { value: attempts, configurable: true, writable: true });
  }
}

/** How many attempts `retry()` made before giving up with `error`, or `undefined` when it did not come from a retry. */
export function attemptsOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const n = (error as { attempts?: unknown }).attempts;
  return typeof n === 'number' ? n : undefined;
}

interface Settings {
  attempts: number;
  minDelay: number;
  factor: number;
  maxDelay: number;
  jitter: number;
  maxWait: number;
  clock: Clock;
  random: () => number;
  shouldRetry: (error: unknown, attempt: number) => boolean;
  delayFor: ((error: unknown, attempt: number) => number | undefined) | undefined;
  onRetry: ((event: RetryEvent) => void) | undefined;
}

function readOptions(options: RetryOptions): Settings {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const jitter = checkNumber(options.jitter ?? 0.5, 'jitter', 0);
  if (jitter > 1) throw new RangeError(`Expected \`jitter\` to be a number from 0 to 1, got ${jitter}`);
  checkFn(options.shouldRetry, 'shouldRetry');
  checkFn(options.delayFor, 'delayFor');
  checkFn(options.onRetry, 'onRetry');
  checkFn(options.random, 'random');
  return {
    attempts: checkWhole(options.attempts ?? 3, 'attempts', 1),
    minDelay: checkNumber(options.minDelay ?? 100, 'minDelay', 0),
    factor: checkNumber(options.factor ?? 2, 'factor', 1),
    maxDelay: checkNumber(options.maxDelay ?? 30_000, 'maxDelay', 0),
    jitter,
    maxWait: checkNumber(options.maxWait ?? Number.POSITIVE_INFINITY, 'maxWait', 0),
    clock: options.clock === undefined ? systemClock : checkClock(options.clock),
    random: options.random ?? Math.random,
    shouldRetry: options.shouldRetry ?? ((e: unknown) => !(e instanceof CancelledError)),
    delayFor: options.delayFor,
    onRetry: options.onRetry,
  };
}

function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

/**
 * Calls `fn(attempt)` (the first attempt is 1) until it succeeds, a failure is not worth retrying, the attempts run
 * out, or the next wait would go past `maxWait`; fires with the first success, or fails with the last error — the
 * very error the job failed with (an `HttpError` stays an `HttpError`), its `attempts` set to the attempts made.
 *
 * The wait before attempt `n + 1` is `min(maxDelay, minDelay * factor^(n-1))`, of which a share `jitter` is random,
 * unless `delayFor` names a wait. Cancelling the returned Deferred (or aborting `signal`) cancels the attempt in flight
 * when it returned a Deferred, or the wait between attempts; no further attempt is made.
 */
export function retry<R>(
  fn: (attempt: number) => R | PromiseLike<R>,
  options: RetryOptions = {},
): Deferred<Awaited<R>> {
  if (typeof fn !== 'function') throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
  return retryWith(fn, readOptions(options), checkSignal(options.signal));
}

function retryWith<R>(
  fn: (attempt: number) => R | PromiseLike<R>,
  settings: Settings,
  signal: AbortSignal | undefined,
): Deferred<Awaited<R>> {
  const {
    attempts,
    minDelay,
    factor,
    maxDelay,
    jitter,
    maxWait,
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
  const out = new Deferred<Awaited<R>>(() => {
    stopped = true;
    finish();
    if (timer !== null) {
      clock.clearTimeout(timer);
      timer = null;
    }
    const d = inner;
    inner = null;
    d?.cancel();
  });
  const onAbort = () => {
    if (!out.called) out.cancel();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const finish = () => signal?.removeEventListener('abort', onAbort);

  const failed = (failure: Failure): void => {
    inner = null;
    if (out.called) return;
    if (stopped) {
      // The attempt failed because the retry was cancelled: that failure is the outcome, whatever shouldRetry says.
      out.errback(failure);
      return;
    }
    const error = failure.value;
    let delay: number | undefined;
    if (attempt < attempts && shouldRetry(error, attempt)) {
      const asked = delayFor?.(error, attempt);
      if (asked !== undefined && Number.isFinite(asked) && asked >= 0) delay = asked;
      else {
        const backoff = Math.min(maxDelay, minDelay * factor ** (attempt - 1));
        delay = backoff * (1 - jitter * random());
      }
      if (waited + delay > maxWait) delay = undefined;
    }
    if (delay === undefined) {
      markAttempts(error, attempt);
      finish();
      out.errback(failure);
      return;
    }
    waited += delay;
    onRetry?.({ error, attempt, delay });
    timer = clock.setTimeout(() => {
      timer = null;
      next();
    }, delay);
  };

  const next = (): void => {
    if (out.called) return;
    attempt++;
    const d = maybeDeferred(fn, attempt) as Deferred<unknown>;
    inner = d;
    d.addCallbacks(
      (value: unknown) => {
        inner = null;
        if (!out.called) {
          finish();
          out.callback(value as Awaited<R>);
        }
        return undefined;
      },
      (failure: Failure) => {
        failed(failure);
        return null;
      },
    );
  };

  if (signal?.aborted) {
    finish();
    out.errback(new CancelledError('The operation was aborted', { cause: signal.reason }));
  } else next();
  return out;
}

/**
 * Parses an HTTP `Retry-After` value into milliseconds from `now` (epoch milliseconds, default `Date.now()`): a whole
 * number of seconds, or an HTTP date (a date in the past gives 0). `undefined` when it is neither.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  now = Date.now(),
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value) as string | undefined;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // RFC 9110 dates all name the weekday or month in letters; Date.parse also takes forms the RFC does not, so ask for one.
  if (!/[A-Za-z]/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The statuses {@link retrying} retries by default: timeouts, too many requests, and the server errors that pass. */
export const RETRY_STATUSES: readonly number[] = [408, 425, 429, 500, 502, 503, 504];

/** Options of {@link retrying}: {@link RetryOptions} plus what an HTTP failure is worth retrying. */
export interface HttpRetryOptions extends Omit<RetryOptions, 'shouldRetry' | 'delayFor' | 'signal'> {
  /** The `HttpError` statuses to retry. Default {@link RETRY_STATUSES}. */
  statuses?: readonly number[];
  /**
   * The other failures to retry, by error code. Default: lost and refused connections and timeouts
   * (`AB_ERR_CONNECTION_LOST`, `AB_ERR_CONNECTION_REFUSED`, `AB_ERR_TIMEOUT`).
   */
  codes?: readonly string[];
  /** Whether to wait as long as a `Retry-After` header asks (seconds or HTTP date). Default `true`. */
  retryAfter?: boolean;
  /** The longest `Retry-After` honoured, in milliseconds; a longer one ends the retries with that failure. Default 60000. */
  maxRetryAfter?: number;
  /** The wall clock for `Retry-After` dates, in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

const RETRY_CODES: readonly string[] = [
  'AB_ERR_CONNECTION_LOST',
  'AB_ERR_CONNECTION_REFUSED',
  'AB_ERR_TIMEOUT',
];

/**
 * Wraps a `getPage`-like function (`getPage`, `getPageBytes`, `getResponse`, or one of your own taking a URL and
 * options and failing with our typed errors) so that each call retries as `options` say: the statuses and error codes
 * listed, waiting as `Retry-After` asks when the server says. The options of a call (its `signal` included) are passed
 * through to every attempt; aborting that signal also stops the retries.
 *
 * ```ts
 * const politeGet = retrying(getPage, { attempts: 4, minDelay: 200 });
 * politeGet(url).addCallback(console.log);
 * ```
 */
export function retrying<O extends { signal?: AbortSignal }, R>(
  get: (url: string | URL, options?: O) => Deferred<R> | PromiseLike<R>,
  options: HttpRetryOptions = {},
): (url: string | URL, requestOptions?: O) => Deferred<R> {
  if (typeof get !== 'function')
    throw new TypeError(`Expected \`get\` to be a function, got ${describe(get)}`);
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const statuses = new Set(options.statuses ?? RETRY_STATUSES);
  const codes = new Set(options.codes ?? RETRY_CODES);
  const honour = options.retryAfter ?? true;
  const maxRetryAfter = checkNumber(options.maxRetryAfter ?? 60_000, 'maxRetryAfter', 0);
  const now = options.now ?? Date.now;
  const { statuses: _s, codes: _c, retryAfter: _r, maxRetryAfter: _m, now: _n, ...rest } = options;
  const retryOptions: RetryOptions = {
    ...rest,
    shouldRetry: (error) => {
      if (error instanceof HttpError) {
        if (!statuses.has(error.status)) return false;
        const ms = honour ? parseRetryAfter(error.headers['retry-after'], now()) : undefined;
        return ms === undefined || ms <= maxRetryAfter;
      }
      return error instanceof AsyncBatchingError && codes.has(error.code);
    },
    delayFor: (error) =>
      honour && error instanceof HttpError ? parseRetryAfter(error.headers['retry-after'], now()) : undefined,
  };
  const settings = readOptions(retryOptions);
  return (url, requestOptions) =>
    retryWith(
      () => get(url, requestOptions) as Deferred<R> | PromiseLike<R>,
      settings,
      checkSignal(requestOptions?.signal),
    ) as Deferred<R>;
}
