/**
 * getPage, getPageBytes and getResponse: Twisted's `getPage` over undici's dispatcher. The pieces, by concern:
 * options.ts (checks and defaults), exchange.ts (the undici handler), redirect.ts (what a redirect keeps),
 * classify.ts (which error a failure becomes), decode.ts (bytes to text), phases.ts (when outcomes are delivered, and
 * why the socket bound holds), dispatcher.ts (the shared Agent, undici's queue hook, decompression).
 */

import { retryWith } from '../../blocks/retry.js';
import { CancelledError, Deferred } from '../../core/deferred.js';
import { type ResponseHeaders, statusText } from '../../core/errors.js';
import { decodeBody, joined } from './decode.js';
import { Exchange, type RawResponse } from './exchange.js';
import { type GetPageOptions, type Settings, settings, target } from './options.js';

export { closeDefaultAgent, DEFAULT_CONNECTIONS } from './dispatcher.js';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_TIMEOUT,
  type GetPageOptions,
  MAX_TIMEOUT,
  SAFE_CROSS_ORIGIN_HEADERS,
} from './options.js';

/** What {@link getResponse} delivers. */
export interface PageResponse {
  /** The URL the response came from: the last redirect target, or the URL asked for. */
  url: string;
  /** The HTTP status code (2xx: anything else is delivered as an {@link HttpError}). */
  status: number;
  /** The standard reason phrase for `status`. */
  statusText: string;
  /** The response headers, names in lower case (without `content-encoding` once a body was decompressed). */
  headers: ResponseHeaders;
  /** The body, decoded with the charset of `content-type` (UTF-8 when there is none or it is unknown). */
  body: string;
  /** How many redirects were followed. */
  redirects: number;
}

function bodyText(r: RawResponse): string {
  return decodeBody(r, r.headers['content-type']);
}

function bodyBytes(r: RawResponse): Uint8Array {
  return r.chunks.length === 1 ? r.chunks[0] : joined(r);
}

/** Starts an exchange and delivers `finish(response)` through a cancellable Deferred. */
function fetchPage<B>(
  url: string | URL,
  options: GetPageOptions | undefined,
  finish: (r: RawResponse) => B,
): Deferred<B> {
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw new TypeError(
      `Expected \`url\` to be a string or a URL, got ${url === null ? 'null' : typeof url}`,
    );
  }
  const s = settings(options);
  let start: URL;
  try {
    start = target(typeof url === 'string' ? url : url.href);
  } catch (e) {
    const d = new Deferred<B>();
    d.errback(e);
    return d;
  }
  const { signal } = s;
  if (signal?.aborted) {
    const d = new Deferred<B>();
    d.errback(new CancelledError('The request was aborted by its signal', { cause: signal.reason }));
    return d;
  }
  if (s.retry === null) return exchange(start, s, finish);
  // Each attempt is a whole exchange: its own timeout and redirects, and a typed failure for the policy to judge.
  return retryWith(
    () => exchange(start, s, finish),
    s.retry,
    signal,
    'The request was aborted by its signal',
  ) as Deferred<B>;
}

function exchange<B>(start: URL, s: Settings, finish: (r: RawResponse) => B): Deferred<B> {
  const x = new Exchange(start, s, finish);
  x.start();
  return x.d;
}

/**
 * Fetches `url` and delivers its body as text — Twisted's `getPage`, driving undici's dispatcher with a handler of its
 * own through a shared keep-alive Agent ({@link DEFAULT_CONNECTIONS} connections per origin; `dispatcher` replaces
 * it).
 *
 * The result is a {@link Deferred}: add callbacks (`getPage(url).addCallback(pageCallback, url)`) or `await` it.
 * The body is decompressed (gzip, deflate, br: `Accept-Encoding` is sent unless `headers` has one) and decoded with the
 * charset of `content-type` (UTF-8 by default). Redirects are followed (301/302/303 turn into GET without a body;
 * 307/308 keep method and body), only ever to http: or https: URLs; one to another origin drops the caller's headers
 * but a few safe ones (see `stripHeadersAcrossOrigins`). An idempotent request whose kept-alive connection the server
 * closed before any of the response came is sent once more.
 *
 * Every I/O problem arrives as a failed Deferred carrying a {@link GetPageError} subclass: {@link HttpError} (status
 * 400 and up, or a 3xx not followed), {@link DNSLookupError}, {@link ConnectionRefusedError},
 * {@link ConnectionLostError}, {@link TimeoutError}, {@link ResponseTooLargeError}, {@link TooManyRedirectsError},
 * {@link BadResponseError} and {@link InvalidURLError} (also for a URL that does not parse). `d.cancel()`, or aborting
 * `signal`, stops the request, closes its connection and fails the Deferred with `CancelledError`; the chain goes on
 * (and a semaphore or parallel() gets its slot back) once the connection has closed.
 *
 * With the `retry` option (`getPage(url, { retry: 3 })`), a failure worth it — a `429` or `503`, a lost connection, a
 * timeout, for an idempotent method — is tried again after the wait `Retry-After` asks or a backoff; the failure after
 * the last attempt is the same typed failure, carrying the attempts made (`attemptsOf(error)`).
 *
 * @throws {TypeError | RangeError} at once, for an option of the wrong type or out of range, or a `url` that is not a
 * string or URL.
 */
export function getPage(url: string | URL, options?: GetPageOptions): Deferred<string> {
  return fetchPage(url, options, bodyText);
}

/** Like {@link getPage}, but delivers the body as bytes (decompressed, not decoded to text). */
export function getPageBytes(url: string | URL, options?: GetPageOptions): Deferred<Uint8Array> {
  return fetchPage<Uint8Array>(url, options, bodyBytes);
}

/**
 * Like {@link getPage}, but delivers the whole {@link PageResponse}: final URL, status, headers, text body and the
 * number of redirects followed. Failures are the same (a 404 is still an {@link HttpError}).
 */
export function getResponse(url: string | URL, options?: GetPageOptions): Deferred<PageResponse> {
  return fetchPage(url, options, (r) => ({
    url: r.url,
    status: r.status,
    statusText: statusText(r.status),
    headers: r.headers,
    body: bodyText(r),
    redirects: r.redirects,
  }));
}
