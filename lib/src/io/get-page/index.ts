/**
 * getPage, getPageBytes and getResponse: Twisted's `getPage` over undici's dispatcher. The pieces, by concern:
 * options.ts (checks and defaults), exchange.ts (the exchange and its undici handlers), redirect.ts (what a redirect keeps),
 * classify.ts (which error a failure becomes), decode.ts (bytes to text), phases.ts (when outcomes are delivered, and
 * why the socket bound holds), dispatcher.ts (the shared Agent, undici's queue hook, decompression).
 */

import { retryWith } from '../../blocks/retry.js';
import { describe } from '../../core/args.js';
import { CancelledError, Deferred } from '../../core/deferred.js';
import { decodeBody, joined } from './decode.js';
import { type ResponseHeaders, statusText } from './errors.js';
import { Exchange, type RawResponse } from './exchange.js';
import { type GetPageOptions, type Settings, settings, target } from './options.js';

export { closeDefaultAgent, DEFAULT_CONNECTIONS } from './dispatcher.js';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_TIMEOUT,
  type GetPageOptions,
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
  const [only] = r.chunks;
  return r.chunks.length === 1 && only !== undefined ? only : joined(r);
}

/** Starts an exchange and delivers `finish(response)` through a cancellable Deferred. */
function fetchPage<B>(
  url: string | URL,
  options: GetPageOptions | undefined,
  finish: (r: RawResponse) => B,
): Deferred<B> {
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw new TypeError(`Expected \`url\` to be a string or a URL, got ${describe(url)}`);
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
 *
 @remarks
 * ```ts
 * import { getPage, HttpError } from 'async-batching';
 *
 * getPage('http://127.0.0.1:8080/page/twisted', { timeout: 5_000 })
 *   .addCallback((page: string, url: string) => console.log(url, page.length), 'twisted')
 *   .addErrback((failure) => console.log(failure.check(HttpError) ? 'HTTP error' : failure.getErrorMessage()));
 * ```
 *
 * `getPage(url, options?)` is Twisted's `getPage` for Node: it returns a `Deferred<string>` at once, which you can add
 * callbacks to or `await`. It drives undici's dispatcher with a handler of its own (not `fetch`, nor undici's `request`,
 * which would build a stream per body) through one shared keep-alive Agent, created on first use, with up to 128
 * connections per origin; `closeDefaultAgent()` closes it so a script can exit promptly.
 *
 * | option | default | |
 * | --- | --- | --- |
 * | `method`, `headers`, `body` | `GET` | `body` is a string or `Uint8Array` |
 * | `timeout` | 30000 | ms for the whole exchange, redirects included (with `retry`: per attempt); `0` or `Infinity` for none; at most 2^31−1 (`MAX_TIMEOUT`), else `RangeError` |
 * | `followRedirect`, `maxRedirects` | `true`, 20 | only to `http:`/`https:` targets |
 * | `stripHeadersAcrossOrigins` | every header you set but `SAFE_CROSS_ORIGIN_HEADERS` | dropped when a redirect leaves the origin; `authorization`, `cookie`, `proxy-authorization`, `host` always are |
 * | `maxBytes` | 10 MiB | counted after decompression as the body streams in; past the cap the socket is destroyed |
 * | `signal` | | an `AbortSignal` (checked at the call); aborting fails the Deferred with `CancelledError` |
 * | `dispatcher` | the shared Agent | any undici `Dispatcher` |
 * | `userAgent` | `async-batching/<version>` | |
 * | `retry` | `false` | a number of attempts, `true` (3), or the options below; see "Retries" below |
 *
 * `getPageBytes(url, options?)` gives the body as a `Uint8Array`; `getResponse(url, options?)` gives
 * `{ url, status, statusText, headers, body, redirects }`. getPage sends `Accept-Encoding: gzip, deflate, br` (unless
 * `headers` has one) and decompresses with undici's own decompression, so `maxBytes` caps the decoded size and a
 * compression bomb is a `ResponseTooLargeError`. Text is decoded with the charset from `content-type` (UTF-8 by default).
 * Every response body is read to its end or destroyed, on every path. A bad option (wrong type or range, or a header
 * undici would refuse) throws a `TypeError`/`RangeError` naming it; every I/O problem is a failed Deferred, never a
 * throw. `d.cancel()` aborts the request, closes its socket and fails the Deferred at once; callbacks added to it run
 * once the socket has closed.
 *
 * **Retries.** `retry` tries a failed exchange again, each attempt a whole exchange with its own `timeout` and redirects:
 *
 * ```ts
 * const page = await getPage(url, { retry: 3 }); // 3 attempts in all, the default policy
 * await getPage(url, {
 *   retry: { attempts: 5, minDelay: 200, maxDelay: 10_000, factor: 2, jitter: 0.5, maxTotalWait: 30_000,
 *            statuses: [429, 503], maxRetryAfter: 60_000 },
 * });
 * const err = await getPage(url, { retry: 2 }).then(() => null, (e) => e);
 * if (err instanceof HttpError) console.log(err.status, attemptsOf(err)); // e.g. 503 2
 * ```
 *
 * By default it retries only idempotent methods (`methods`, default `IDEMPOTENT_METHODS`), on the statuses 408, 425,
 * 429, 500, 502, 503, 504 (`RETRY_STATUSES`) and on lost or refused connections and timeouts (`codes`, default
 * `RETRY_CODES`). A `shouldRetry(error, attempt)` of your own decides alone instead, given the typed failure. Between
 * attempts it waits as the server's `Retry-After` asks, in seconds or as an HTTP date (`retryAfter: false` ignores it;
 * one longer than `maxRetryAfter`, default 60 s, ends the retries rather than being shortened), otherwise
 * `min(maxDelay, minDelay · factor^(n−1))` of which a share `jitter` is random (defaults 100 ms, 30 s, 2, 0.5); all
 * waits together stay within `maxTotalWait` (default `Infinity`: a retry whose wait would pass it is not made). The
 * failure after the last attempt is the usual typed one — an `HttpError` keeps its status, headers and first KiB of body — with
 * `error.attempts` (`attemptsOf(error)`) set. `d.cancel()` or the `signal` stops the wait or the attempt in progress,
 * and no further attempt is made; `clock`, `now` and `random` are injectable, `onRetry` is told of each wait. Options
 * are checked at the call (`RangeError: Expected \`retry.attempts\` to be a whole number >= 1, got 0`). This is apart
 * from the one silent resend of an idempotent request whose kept-alive connection the server had just closed, which
 * happens inside an attempt and does not count as one. Why not undici's own `interceptors.retry`: it retries below
 * getPage, per dispatch, so each redirect hop would get its own budget and getPage's `timeout` would span every attempt
 * (a timed-out attempt could never be retried); its hook sees undici's raw errors rather than our typed ones; a retried
 * status that runs out arrives as its `RequestRetryError` without the body, unless the connection is held paused with
 * the unread `429` on it for the whole wait; and its own policy shortens a long `Retry-After` to `maxTimeout` instead
 * of giving up. Details in `lib/src/io/get-page/retry-policy.ts`.
 *
 * A redirect to another origin drops every header you set except `accept`, `accept-encoding`, `accept-language`,
 * `cache-control`, `content-language`, `content-type`, `pragma` and `user-agent` (`SAFE_CROSS_ORIGIN_HEADERS`), so an
 * `x-api-key` meant for one site does not reach the next; list the headers to drop yourself with
 * `stripHeadersAcrossOrigins` (credentials are dropped whatever it says).
 *
 * Failures are subclasses of `GetPageError` (`url`, `code`, `cause`), itself a subclass of `AsyncBatchingError`, the root of every error this package defines; messages read like Twisted's:
 *
 * | class | `code` | when |
 * | --- | --- | --- |
 * | `HttpError` | `AB_ERR_HTTP` | status >= 400, or a 3xx with redirects off: `status`, `statusText`, `headers`, first KiB of `body`; message `404 Not Found` |
 * | `DNSLookupError` | `AB_ERR_DNS_LOOKUP` | the name does not resolve: `DNS lookup failed: address 'x.invalid' not found` |
 * | `ConnectionRefusedError` | `AB_ERR_CONNECTION_REFUSED` | nothing listens on the port |
 * | `ConnectionLostError` | `AB_ERR_CONNECTION_LOST` | reset or closed mid-response (or before it, once the retry is spent) |
 * | `TimeoutError` | `AB_ERR_TIMEOUT` | the exchange took longer than `timeout` |
 * | `ResponseTooLargeError` | `AB_ERR_RESPONSE_TOO_LARGE` | the body passed `maxBytes` |
 * | `TooManyRedirectsError` | `AB_ERR_TOO_MANY_REDIRECTS` | more than `maxRedirects` hops |
 * | `InvalidURLError` | `AB_ERR_INVALID_URL` | unparsable, or a scheme other than http/https (also as a redirect target) |
 * | `BadResponseError` | `AB_ERR_BAD_RESPONSE` | the response is not valid HTTP (undici's parser errors), or its compressed body does not decompress |
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
