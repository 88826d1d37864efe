/** getPage's options: their defaults, and the checks that turn a wrong one into a TypeError or RangeError at the call. */

import type { Dispatcher } from 'undici';
import type { RetrySettings } from '../../blocks/retry.js';
import {
  checkMs,
  checkObject,
  checkOptionalBoolean,
  checkSignal,
  checkWhole,
  describe,
} from '../../core/args.js';
import { VERSION } from '../version.js';
import { InvalidURLError } from './errors.js';
import { type HttpRetryOptions, httpRetryPolicy } from './retry-policy.js';

/** Options of {@link getPage}, {@link getPageBytes} and {@link getResponse}. */
export interface GetPageOptions {
  /** The HTTP method, upper-cased before use. Default `GET`. */
  method?: string;
  /**
   * Request headers. Names are case-insensitive; `undefined` values are left out. Values are Latin-1 text without
   * control characters; `transfer-encoding`, `keep-alive`, `upgrade` and `expect` are refused (undici manages them).
   */
  headers?: Record<string, string | readonly string[] | undefined>;
  /** The request body. */
  body?: string | Uint8Array | null;
  /**
   * Milliseconds the whole exchange may take (connecting, every redirect, reading the body) before it fails with a
   * {@link TimeoutError}. `0` or `Infinity` means no limit; any other length is waited in full, even beyond the 2^31−1
   * ms one host timer holds. Default 30000. With `retry`, each attempt has its own `timeout` (the waits between
   * attempts are not counted: `retry.maxTotalWait` bounds them).
   */
  timeout?: number;
  /** Whether to follow 301, 302, 303, 307 and 308 redirects. Default `true`. */
  followRedirect?: boolean;
  /** How many redirects to follow before failing with a {@link TooManyRedirectsError}. Default 20. */
  maxRedirects?: number;
  /**
   * Headers dropped from the request when a redirect leads to another origin (names, case-insensitive). Default: every
   * header in `headers` except {@link SAFE_CROSS_ORIGIN_HEADERS}. `authorization`, `cookie`, `proxy-authorization` and
   * `host` are dropped whatever this says.
   */
  stripHeadersAcrossOrigins?: readonly string[];
  /**
   * The largest body accepted, in bytes after decompression; a larger one fails with a {@link ResponseTooLargeError}.
   * Default 10 MiB.
   */
  maxBytes?: number;
  /** Aborting it cancels the request: the Deferred fails with a `CancelledError` whose `cause` is the signal's reason. */
  signal?: AbortSignal;
  /** The undici dispatcher (Agent, Pool, Client, MockAgent, ...) to send the request with, instead of the shared one. */
  dispatcher?: Dispatcher;
  /** The `User-Agent` header, unless `headers` has one. Default `async-batching/<version>`. */
  userAgent?: string;
  /**
   * Whether and how to try again after a failure: `false` or absent for one attempt; a number for that many attempts
   * in all with the default policy; `true` for the default policy (3 attempts); or {@link HttpRetryOptions}. The
   * default policy retries only idempotent methods (`methods`), on the statuses {@link RETRY_STATUSES} and on lost or
   * refused connections and timeouts ({@link RETRY_CODES}); it waits as `Retry-After` asks (seconds or HTTP date; one
   * longer than `maxRetryAfter`, default 60 s, ends the retries), otherwise an exponential backoff with jitter
   * (`minDelay` 100, `factor` 2, `jitter` 0.5, `maxDelay` 30000), all waits together at most `maxTotalWait` (default
   * Infinity). Each attempt is a whole exchange (its own `timeout` and redirects). The failure after the last attempt
   * is the usual typed one (an `HttpError` stays an `HttpError`) with `attempts` set (see `attemptsOf`). Cancelling the
   * Deferred or aborting `signal` stops the wait or the attempt in progress, and makes no further attempt.
   *
   * This is apart from the one silent resend of an idempotent request whose kept-alive connection the server had
   * closed: that resend happens inside an attempt and is not counted as one.
   */
  retry?: number | boolean | HttpRetryOptions;
}

/** The default of the `timeout` option, in milliseconds. */
export const DEFAULT_TIMEOUT = 30_000;
/** The default of the `maxBytes` option. */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
/** The default of the `maxRedirects` option. */
export const DEFAULT_MAX_REDIRECTS = 20;
/**
 * The headers a redirect to another origin keeps by default: they describe what the client accepts or sends, never who
 * it is. Every other header the caller set (`x-api-key`, `x-auth-token`, ...) is dropped.
 */
export const SAFE_CROSS_ORIGIN_HEADERS: readonly string[] = Object.freeze([
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'content-language',
  'content-type',
  'pragma',
  'user-agent',
]);
/** Credentials, dropped on every cross-origin redirect whatever `stripHeadersAcrossOrigins` says. */
export const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'cookie', 'proxy-authorization'];
/** What getPage asks for when the caller sends no `Accept-Encoding`: what undici's decompression reads. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

/** Every option, checked, with its default filled in. */
export interface Settings {
  method: string;
  headers: Record<string, string | string[]>;
  body: string | Uint8Array | undefined;
  timeout: number;
  followRedirect: boolean;
  maxRedirects: number;
  /**
   * Lower-cased names of the headers a cross-origin redirect drops; `null` for the default, every header but the safe
   * ones (worked out at the redirect, so a call that is never redirected pays nothing for it).
   */
  stripAcrossOrigins: ReadonlySet<string> | null;
  maxBytes: number;
  signal: AbortSignal | undefined;
  dispatcher: Dispatcher | undefined;
  /** How to retry, for this request's method; `null` for a single attempt. */
  retry: RetrySettings | null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What a header value may not contain (as undici and Node's http check it): controls, and anything beyond Latin-1. */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Headers undici manages itself and refuses from a caller, late and as a generic error: refused here, at the call. */
const REFUSED_HEADERS = new Set(['transfer-encoding', 'keep-alive', 'upgrade', 'expect']);
/** Headers that must appear once. */
const SINGLE_HEADERS = new Set(['host', 'content-length', 'connection']);

/** Checks every option; a wrong type or range is a programmer's error and throws at once. */
export function settings(options: GetPageOptions | undefined): Settings {
  if (options === undefined) {
    defaultSettings ??= checkedSettings({});
    return defaultSettings;
  }
  return checkedSettings(options);
}

/** The settings of a call without options, worked out once: nothing changes them (a redirect copies the headers). */
let defaultSettings: Settings | undefined;

function checkedHeaders(headers: unknown): Record<string, string | string[]> {
  if (typeof headers !== 'object' || headers === null) {
    throw new TypeError(
      `Expected \`headers\` to be an object of header names and values, got ${describe(headers)}`,
    );
  }
  const checked: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (!TOKEN.test(name))
      throw new TypeError(`Expected \`headers\` to have valid names, got ${JSON.stringify(name)}`);
    const lower = name.toLowerCase();
    if (REFUSED_HEADERS.has(lower)) {
      throw new TypeError(
        `Expected \`headers\` not to set ${JSON.stringify(name)}: undici manages it, got ${describe(value)}`,
      );
    }
    const values: unknown = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string' && !BAD_HEADER_VALUE.test(v))) {
      throw new TypeError(
        `Expected \`headers\` value of ${JSON.stringify(name)} to be a string or an array of strings of Latin-1 ` +
          `characters without control characters, got ${describe(value)}`,
      );
    }
    if (SINGLE_HEADERS.has(lower) && (typeof value !== 'string' || checked[lower] !== undefined)) {
      throw new TypeError(`Expected \`headers\` to give ${JSON.stringify(name)} once, as one string`);
    }
    if (lower === 'content-length' && !/^\d+$/.test(value as string)) {
      throw new TypeError(
        `Expected \`headers\` value of "content-length" to be digits, got ${describe(value)}`,
      );
    }
    checked[lower] = typeof value === 'string' ? value : [...(values as string[])];
  }
  return checked;
}

function checkedStripList(list: unknown): Set<string> | null {
  if (list === undefined) return null;
  // A Host header names the origin it was written for.
  const strip = new Set([...CREDENTIAL_HEADERS, 'host']);
  if (!Array.isArray(list) || !list.every((name) => typeof name === 'string' && TOKEN.test(name))) {
    throw new TypeError(
      `Expected \`stripHeadersAcrossOrigins\` to be an array of header names, got ${describe(list)}`,
    );
  }
  for (const name of list as string[]) strip.add(name.toLowerCase());
  return strip;
}

function checkedSettings(options: GetPageOptions): Settings {
  checkObject(options, 'options');
  const {
    method = 'GET',
    headers = {},
    body,
    timeout = DEFAULT_TIMEOUT,
    followRedirect = true,
    maxRedirects = DEFAULT_MAX_REDIRECTS,
    stripHeadersAcrossOrigins,
    maxBytes = DEFAULT_MAX_BYTES,
    signal,
    dispatcher,
    userAgent = `async-batching/${VERSION}`,
    retry,
  } = options;
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw new TypeError(`Expected \`method\` to be an HTTP method name, got ${describe(method)}`);
  }
  const finalHeaders = checkedHeaders(headers);
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new TypeError(
      `Expected \`body\` to be a string, a Uint8Array, null or undefined, got ${describe(body)}`,
    );
  }
  checkMs(timeout, 'timeout', true);
  checkOptionalBoolean(followRedirect, 'followRedirect');
  checkWhole(maxRedirects, 'maxRedirects', 0);
  checkWhole(maxBytes, 'maxBytes', 0, true);
  checkSignal(signal, 'signal');
  if (
    dispatcher !== undefined &&
    (typeof dispatcher !== 'object' || dispatcher === null || typeof dispatcher.dispatch !== 'function')
  ) {
    throw new TypeError(`Expected \`dispatcher\` to be an undici Dispatcher, got ${describe(dispatcher)}`);
  }
  if (typeof userAgent !== 'string' || BAD_HEADER_VALUE.test(userAgent)) {
    throw new TypeError(
      `Expected \`userAgent\` to be a string of Latin-1 characters without control characters, got ${describe(userAgent)}`,
    );
  }
  const stripAcrossOrigins = checkedStripList(stripHeadersAcrossOrigins);
  const upperMethod = method.toUpperCase();
  if (finalHeaders['user-agent'] === undefined && userAgent !== '') finalHeaders['user-agent'] = userAgent;
  if (finalHeaders['accept-encoding'] === undefined) finalHeaders['accept-encoding'] = ACCEPT_ENCODING;
  return {
    method: upperMethod,
    headers: finalHeaders,
    body: body ?? undefined,
    timeout,
    followRedirect,
    maxRedirects,
    stripAcrossOrigins,
    maxBytes,
    signal,
    dispatcher,
    retry: checkedRetry(retry, upperMethod),
  };
}

/** The `retry` option as the settings of a retry for `method`, or `null` for none. */
function checkedRetry(retry: unknown, method: string): RetrySettings | null {
  if (retry === undefined || retry === false) return null;
  if (retry === true) return httpRetryPolicy({}, 'retry.')(method);
  if (typeof retry === 'number') {
    if (!Number.isInteger(retry) || retry < 1) {
      throw new RangeError(
        `Expected \`retry\` to be a whole number of attempts >= 1, got ${describe(retry)}`,
      );
    }
    return httpRetryPolicy({ attempts: retry }, 'retry.')(method);
  }
  if (typeof retry !== 'object' || retry === null) {
    throw new TypeError(
      `Expected \`retry\` to be a number of attempts, a boolean or an object of retry options, got ${describe(retry)}`,
    );
  }
  return httpRetryPolicy(retry as HttpRetryOptions, 'retry.')(method);
}

/** Parses a URL to fetch; only http: and https: are ever requested. */
export function target(input: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(input, base);
  } catch (cause) {
    throw new InvalidURLError('it does not parse as a URL', { url: input, cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidURLError(`the scheme ${url.protocol} is not http: or https:`, { url: url.href });
  }
  return url;
}
