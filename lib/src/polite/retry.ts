/**
 * Retrying a job with exponential backoff, jitter, a cap per wait and a cap on the total wait, honouring a delay the
 * failure itself asks for (an HTTP `Retry-After`).
 *
 * Why not p-retry (9.x), which was evaluated first: its wait is computed from its own options only — there is no way
 * for a failure to say "come back in 30 s", which is what a `429` or `503` with `Retry-After` needs; it takes an
 * `AbortSignal` but cannot cancel the attempt in flight when that attempt is a Deferred; and it waits on the real
 * timers, where our tests drive an injected {@link Clock}. The loop itself is short, so it lives here.
 *
 * Why getPage's `retry` option (and `retrying`) is built on this loop and not on undici's retry support
 * (`interceptors.retry`, i.e. its `RetryHandler`), as the design asks of undici's interceptors where they fit — read
 * for undici 8.13 (lib/handler/retry-handler.js). Its policy hook (`retry(err, state, cb)`) could take our backoff,
 * jitter, caps and clock, but what surrounds the hook does not fit:
 * - it retries below getPage's exchange, per dispatch: getPage follows redirects itself, so each hop would get its own
 *   attempts and wait budget, and getPage's `timeout` (a timer over the exchange) would span every attempt and wait and
 *   abort them all — a timed-out attempt could never be retried;
 * - the hook is handed undici's raw errors (`ECONNRESET`, `RequestRetryError`), not our typed ones, so `shouldRetry`
 *   and the status and code lists would see something else than the caller finally gets;
 * - after the last attempt a retried status arrives as undici's `RequestRetryError` without the body; keeping the
 *   response instead (`throwOnError: false`) pauses the connection with the unread `429` on it for the whole
 *   `Retry-After` wait, holding a pool slot to a server that asked us to go away;
 * - its own policy caps a `Retry-After` at `maxTimeout` (retrying sooner than the server asked) rather than giving
 *   up, reads HTTP dates with `Date.now()`, and waits on the real timers;
 * - it also resumes a broken body with a `Range` request and retries `UND_ERR_SOCKET`, overlapping getPage's own
 *   stale keep-alive retry.
 * What it would have saved is one `dispatch()` per attempt, which a fresh exchange does anyway; so each attempt is a
 * whole getPage exchange (own timeout, redirects, typed failure) driven by {@link retry}'s loop, the one
 * implementation. For transport-level retries under a single exchange the interceptor still fits: pass
 * `dispatcher: new Agent().compose(interceptors.retry(...))`.
 */
import { isAbortSignal } from '../abort-signal.js';
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

function checkObject(value: unknown, name: string): void {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${describe(value)}`);
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

/** Checks `options`; `prefix` goes before each option's name in messages (`retry.` for getPage's option). */
function readOptions(options: RetryOptions, prefix = ''): RetrySettings {
  checkObject(options, prefix === '' ? 'options' : prefix.slice(0, -1));
  const jitter = checkNumber(options.jitter ?? 0.5, `${prefix}jitter`, 0);
  if (jitter > 1) {
    throw new RangeError(`Expected \`${prefix}jitter\` to be a number from 0 to 1, got ${jitter}`);
  }
  checkFn(options.shouldRetry, `${prefix}shouldRetry`);
  checkFn(options.delayFor, `${prefix}delayFor`);
  checkFn(options.onRetry, `${prefix}onRetry`);
  checkFn(options.random, `${prefix}random`);
  return {
    attempts: checkWhole(options.attempts ?? 3, `${prefix}attempts`, 1),
    minDelay: checkNumber(options.minDelay ?? 100, `${prefix}minDelay`, 0),
    factor: checkNumber(options.factor ?? 2, `${prefix}factor`, 1),
    maxDelay: checkNumber(options.maxDelay ?? 30_000, `${prefix}maxDelay`, 0),
    jitter,
    maxTotalWait: checkNumber(options.maxTotalWait ?? Number.POSITIVE_INFINITY, `${prefix}maxTotalWait`, 0),
    clock: options.clock === undefined ? systemClock : checkClock(options.clock),
    random: options.random ?? Math.random,
    shouldRetry: options.shouldRetry ?? ((e: unknown) => !(e instanceof CancelledError)),
    delayFor: options.delayFor,
    onRetry: options.onRetry,
  };
}

/** The `signal` option, checked as getPage checks its own: an AbortSignal of any realm. */
function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
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
 */
export function retry<R>(
  fn: (attempt: number) => R | PromiseLike<R>,
  options: RetryOptions = {},
): Deferred<Awaited<R>> {
  if (typeof fn !== 'function') throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
  return retryWith(fn, readOptions(options), checkSignal(options.signal), 'The operation was aborted');
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
    if (attempt < attempts && shouldRetry(error, attempt)) {
      const asked = delayFor?.(error, attempt);
      if (asked !== undefined && Number.isFinite(asked) && asked >= 0) delay = asked;
      else {
        const backoff = Math.min(maxDelay, minDelay * factor ** (attempt - 1));
        delay = backoff * (1 - jitter * random());
      }
      if (waited + delay > maxTotalWait) delay = undefined;
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

/** The statuses HTTP retries retry by default: timeouts, too many requests, and the server errors that pass. */
export const RETRY_STATUSES: readonly number[] = Object.freeze([408, 425, 429, 500, 502, 503, 504]);

/** The error codes HTTP retries retry by default: lost and refused connections, and timeouts. */
export const RETRY_CODES: readonly string[] = Object.freeze([
  'AB_ERR_CONNECTION_LOST',
  'AB_ERR_CONNECTION_REFUSED',
  'AB_ERR_TIMEOUT',
]);

/**
 * The methods HTTP retries retry by default: the idempotent ones (RFC 9110, 9.2.2), which a server may receive twice
 * without harm.
 */
export const IDEMPOTENT_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);

/**
 * Options of an HTTP retry: getPage's `retry` option, and {@link retrying}. {@link RetryOptions} (attempts, backoff,
 * jitter, caps, clock) plus which failures are worth another attempt and how `Retry-After` is honoured.
 */
export interface HttpRetryOptions extends Omit<RetryOptions, 'delayFor' | 'signal'> {
  /** The `HttpError` statuses to retry. Default {@link RETRY_STATUSES}. */
  statuses?: readonly number[];
  /** The other failures to retry, by error code. Default {@link RETRY_CODES}. */
  codes?: readonly string[];
  /** The request methods that are retried at all. Default {@link IDEMPOTENT_METHODS}. */
  methods?: readonly string[];
  /**
   * Whether a failure is worth another attempt, deciding alone: `methods`, `statuses` and `codes` are then not
   * consulted (a `Retry-After` is still honoured, and `maxRetryAfter` still ends the retries). It is given the typed
   * failure (`HttpError`, `TimeoutError`, ...) and the number of the attempt that failed.
   */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Whether to wait as long as a `Retry-After` header asks (seconds or HTTP date). Default `true`. */
  retryAfter?: boolean;
  /** The longest `Retry-After` honoured, in milliseconds; a longer one ends the retries with that failure. Default 60000. */
  maxRetryAfter?: number;
  /** The wall clock for `Retry-After` dates, in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

function checkList<T>(value: unknown, name: string, ok: (item: unknown) => boolean, what: string): Set<T> {
  if (!Array.isArray(value) || !value.every(ok)) {
    throw new TypeError(`Expected \`${name}\` to be an array of ${what}, got ${describe(value)}`);
  }
  return new Set(value as T[]);
}

/**
 * @internal Checks HTTP retry options once; the result gives the settings of a retry for one request's method.
 * `prefix` goes before each option's name in messages (`retry.` for getPage's option).
 */
export function httpRetryPolicy(options: HttpRetryOptions, prefix = ''): (method: string) => RetrySettings {
  checkObject(options, prefix === '' ? 'options' : prefix.slice(0, -1));
  const statuses = checkList<number>(
    options.statuses ?? RETRY_STATUSES,
    `${prefix}statuses`,
    (s) => Number.isInteger(s),
    'status codes',
  );
  const codes = checkList<string>(
    options.codes ?? RETRY_CODES,
    `${prefix}codes`,
    (c) => typeof c === 'string',
    'error codes',
  );
  const methods = checkList<string>(
    options.methods ?? IDEMPOTENT_METHODS,
    `${prefix}methods`,
    (m) => typeof m === 'string',
    'method names',
  );
  const upperMethods = new Set([...methods].map((m) => m.toUpperCase()));
  const honour = options.retryAfter ?? true;
  if (typeof honour !== 'boolean') {
    throw new TypeError(`Expected \`${prefix}retryAfter\` to be a boolean, got ${describe(honour)}`);
  }
  const maxRetryAfter = checkNumber(options.maxRetryAfter ?? 60_000, `${prefix}maxRetryAfter`, 0);
  checkFn(options.now, `${prefix}now`);
  checkFn(options.shouldRetry, `${prefix}shouldRetry`);
  const now = options.now ?? Date.now;
  const {
    statuses: _s,
    codes: _c,
    methods: _m,
    retryAfter: _r,
    maxRetryAfter: _x,
    now: _n,
    ...rest
  } = options;
  const asked = (error: unknown): number | undefined =>
    honour && error instanceof HttpError ? parseRetryAfter(error.headers['retry-after'], now()) : undefined;
  const byLists = (error: unknown): boolean =>
    error instanceof HttpError
      ? statuses.has(error.status)
      : error instanceof AsyncBatchingError && codes.has(error.code);
  const decide = options.shouldRetry ?? byLists;
  const worthIt = (error: unknown, attempt: number): boolean => {
    if (error instanceof CancelledError || !decide(error, attempt)) return false;
    const ms = asked(error);
    return ms === undefined || ms <= maxRetryAfter;
  };
  const base = readOptions({ ...rest, shouldRetry: worthIt, delayFor: asked }, prefix);
  // A method that is not retried gets one attempt; the caller's own shouldRetry may still retry any method.
  const once = { ...base, attempts: 1 };
  return (method) =>
    options.shouldRetry !== undefined || upperMethods.has(method.toUpperCase()) ? base : once;
}

/**
 * Wraps a `getPage`-like function (`getPage`, `getPageBytes`, `getResponse`, or one of your own taking a URL and
 * options and failing with our typed errors) so that each call retries as `options` say — the same options and
 * behaviour as getPage's own `retry` option, which is the simpler way for getPage itself: the statuses and error codes
 * listed, for the idempotent methods (read from the call's `method` option, `GET` without one), waiting as
 * `Retry-After` asks when the server says. The options of a call (its `signal` included) are passed through to every
 * attempt; aborting that signal also stops the retries.
 *
 * ```ts
 * const politeGet = retrying(getPage, { attempts: 4, minDelay: 200 });
 * politeGet(url).addCallback(console.log);
 * ```
 *
 * @throws {TypeError | RangeError} at once, for an option of the wrong type or out of range, naming it.
 */
export function retrying<
  O extends {
    /** Aborts the request, and the waits between its attempts. */
    signal?: AbortSignal;
    /** The HTTP method, which decides whether a request is retried (only idempotent ones, by default). */
    method?: string;
  },
  R,
>(
  get: (url: string | URL, options?: O) => Deferred<R> | PromiseLike<R>,
  options: HttpRetryOptions = {},
): (url: string | URL, requestOptions?: O) => Deferred<R> {
  if (typeof get !== 'function')
    throw new TypeError(`Expected \`get\` to be a function, got ${describe(get)}`);
  const policy = httpRetryPolicy(options);
  return (url, requestOptions) =>
    retryWith(
      () => get(url, requestOptions) as Deferred<R> | PromiseLike<R>,
      policy(typeof requestOptions?.method === 'string' ? requestOptions.method : 'GET'),
      checkSignal(requestOptions?.signal),
      'The operation was aborted',
    ) as Deferred<R>;
}
