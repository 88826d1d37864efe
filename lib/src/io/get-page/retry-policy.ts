/**
 * The HTTP retry policy: which failures of a request are worth another attempt, and how long a `Retry-After` asks to
 * wait, on top of the generic {@link retry} loop.
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

import { type RetryOptions, type RetrySettings, readOptions, retryWith } from '../../blocks/retry.js';
import {
  checkFn,
  checkMs,
  checkObject,
  checkOptionalBoolean,
  checkOptionalFn,
  checkSignal,
  describe,
} from '../../core/args.js';
import { CancelledError, type Deferred } from '../../core/deferred.js';
import { AsyncBatchingError } from '../../core/errors.js';
import { HttpError } from './errors.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** RFC 9110 5.6.7 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** The obsolete RFC 850 form, which recipients must still accept: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** The obsolete asctime form, which recipients must still accept: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** Epoch milliseconds of a date and time in UTC, or undefined when no such moment exists (30 Feb, 25:00). */
function utc(
  year: number,
  month: number,
  day: number,
  h: number,
  m: number,
  sec: number,
): number | undefined {
  // Second 60 is a leap second (RFC 9110 allows it): it reads as the first second of the next minute.
  if (h > 23 || m > 59 || sec > 60 || day < 1) return undefined;
  const at = Date.UTC(year, month, day, h, m, sec);
  return new Date(Date.UTC(year, month, day)).getUTCDate() === day ? at : undefined;
}

/**
 * An RFC 9110 HTTP-date (5.6.7) as epoch milliseconds: the IMF-fixdate, or one of the two obsolete forms
 * recipients must accept (RFC 850, asctime). `undefined` for anything else: `Date.parse` takes many more forms ('in 10'
 * and 'Mon 1' among them, as dates long past), which a header must not be read as. A two-digit RFC 850 year more than
 * 50 years ahead of `now` is the latest past year with those digits, as the RFC says.
 */
function parseHttpDate(text: string, now: number): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) {
    return utc(
      Number(m[3]),
      MONTHS.indexOf(m[2] as string),
      Number(m[1]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
    );
  }
  m = RFC850_DATE.exec(text);
  if (m !== null) {
    const yy = Number(m[3]);
    const thisYear = new Date(now).getUTCFullYear();
    let year = thisYear - (thisYear % 100) + yy;
    if (year > thisYear + 50) year -= 100;
    return utc(year, MONTHS.indexOf(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME_DATE.exec(text);
  if (m !== null) {
    return utc(
      Number(m[6]),
      MONTHS.indexOf(m[1] as string),
      Number(m[2]),
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
    );
  }
  return undefined;
}

/**
 * Parses an HTTP `Retry-After` value into milliseconds from `now` (epoch milliseconds, default `Date.now()`): a whole
 * number of seconds (delay-seconds), or an HTTP-date of RFC 9110 (IMF-fixdate, or the obsolete RFC 850 and asctime
 * forms); a date in the past gives 0. `undefined` for anything else (`'soon'`, `'in 10'`, `'Mon 1'`, an ISO date),
 * which a retry then ignores.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  now = Date.now(),
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value) as string | undefined;
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = parseHttpDate(trimmed, now);
  return at === undefined ? undefined : Math.max(0, at - now);
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
  if (!Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an array of ${what}, got ${describe(value)}`);
  }
  const bad = value.findIndex((item) => !ok(item));
  if (bad !== -1) {
    throw new TypeError(
      `Expected \`${name}\` to be an array of ${what}, got ${describe(value[bad])} at index ${bad}`,
    );
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
  const honour = checkOptionalBoolean(options.retryAfter, `${prefix}retryAfter`) ?? true;
  const maxRetryAfter = checkMs(options.maxRetryAfter ?? 60_000, `${prefix}maxRetryAfter`, true);
  checkOptionalFn(options.now, `${prefix}now`);
  checkOptionalFn(options.shouldRetry, `${prefix}shouldRetry`);
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
  checkFn(get, 'get');
  const policy = httpRetryPolicy(options);
  return (url, requestOptions) =>
    retryWith(
      () => get(url, requestOptions) as Deferred<R> | PromiseLike<R>,
      policy(typeof requestOptions?.method === 'string' ? requestOptions.method : 'GET'),
      checkSignal(requestOptions?.signal, 'signal'),
      'The operation was aborted',
    ) as Deferred<R>;
}
