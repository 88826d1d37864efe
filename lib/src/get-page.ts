import { setImmediate as nextCheckPhase } from 'node:timers/promises';
import { Agent, type Dispatcher, request } from 'undici';
import { CancelledError, Deferred } from './deferred.js';
import {
  ConnectionLostError,
  ConnectionRefusedError,
  DNSLookupError,
  GetPageError,
  HttpError,
  InvalidURLError,
  type ResponseHeaders,
  ResponseTooLargeError,
  statusText,
  TimeoutError,
  TooManyRedirectsError,
} from './errors.js';
import { VERSION } from './version.js';

/** Options of {@link getPage}, {@link getPageBytes} and {@link getResponse}. */
export interface GetPageOptions {
  /** The HTTP method, upper-cased before use. Default `GET`. */
  method?: string;
  /** Request headers. Names are case-insensitive; `undefined` values are left out. */
  headers?: Record<string, string | readonly string[] | undefined>;
  /** The request body. */
  body?: string | Uint8Array | null;
  /**
   * Milliseconds the whole exchange may take (connecting, every redirect, reading the body) before it fails with a
   * {@link TimeoutError}. `0` or `Infinity` means no limit. Default 30000.
   */
  timeout?: number;
  /** Whether to follow 301, 302, 303, 307 and 308 redirects. Default `true`. */
  followRedirect?: boolean;
  /** How many redirects to follow before failing with a {@link TooManyRedirectsError}. Default 20. */
  maxRedirects?: number;
  /** The largest body accepted, in bytes; a larger one fails with a {@link ResponseTooLargeError}. Default 10 MiB. */
  maxBytes?: number;
  /** Aborting it cancels the request: the Deferred fails with a `CancelledError` whose `cause` is the signal's reason. */
  signal?: AbortSignal;
  /** The undici dispatcher (Agent, Pool, Client, MockAgent, ...) to send the request with, instead of the shared one. */
  dispatcher?: Dispatcher;
  /** The `User-Agent` header, unless `headers` has one. Default `async-batching/<version>`. */
  userAgent?: string;
}

/** What {@link getResponse} delivers. */
export interface PageResponse {
  /** The URL the response came from: the last redirect target, or the URL asked for. */
  url: string;
  /** The HTTP status code (2xx: anything else is delivered as an {@link HttpError}). */
  status: number;
  /** The standard reason phrase for `status`. */
  statusText: string;
  /** The response headers, names in lower case. */
  headers: ResponseHeaders;
  /** The body, decoded with the charset of `content-type` (UTF-8 when there is none or it is unknown). */
  body: string;
  /** How many redirects were followed. */
  redirects: number;
}

/** The most connections the shared Agent opens to one origin: well above any batch the walkthrough runs. */
export const DEFAULT_CONNECTIONS = 128;
/** The default of the `timeout` option, in milliseconds. */
export const DEFAULT_TIMEOUT = 30_000;
/** The default of the `maxBytes` option. */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
/** The default of the `maxRedirects` option. */
export const DEFAULT_MAX_REDIRECTS = 20;

/** How much of an error response's body {@link HttpError} keeps. */
const ERROR_BODY_BYTES = 1024;
/** How much of a redirect's or an error's body is read, to keep the connection for the next request, before giving up on it. */
const DRAIN_LIMIT = 64 * 1024;
/** setTimeout fires at once for longer delays; a limit this far away is no limit. */
const MAX_TIMER = 2 ** 31 - 1;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_HEADER_VALUE = /[\r\n\0]/;

let sharedAgent: Agent | undefined;

function defaultDispatcher(): Agent {
  sharedAgent ??= new Agent({ connections: DEFAULT_CONNECTIONS });
  return sharedAgent;
}

/**
 * Closes the keep-alive Agent `getPage` shares when no `dispatcher` is given, once its requests in flight have
 * finished (cancel any you no longer want first). The next `getPage` creates a fresh one. Idle connections never keep
 * a process alive, so scripts need this only to tidy up; tests use it to leave no socket behind.
 */
export async function closeDefaultAgent(): Promise<void> {
  const agent = sharedAgent;
  sharedAgent = undefined;
  if (agent !== undefined) await agent.close();
}

interface Settings {
  method: string;
  headers: Record<string, string | string[]>;
  body: string | Uint8Array | undefined;
  timeout: number;
  followRedirect: boolean;
  maxRedirects: number;
  maxBytes: number;
  signal: AbortSignal | undefined;
  dispatcher: Dispatcher | undefined;
}

function wholeNumberOrInfinity(value: number): boolean {
  return Number.isInteger(value) || value === Number.POSITIVE_INFINITY;
}

/** Checks every option; a wrong type or range is a programmer's error and throws at once. */
function settings(options: GetPageOptions | undefined): Settings {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('Expected `options` to be an object');
  }
  const {
    method = 'GET',
    headers = {},
    body,
    timeout = DEFAULT_TIMEOUT,
    followRedirect = true,
    maxRedirects = DEFAULT_MAX_REDIRECTS,
    maxBytes = DEFAULT_MAX_BYTES,
    signal,
    dispatcher,
    userAgent = `async-batching/${VERSION}`,
  } = options;
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw new TypeError(`Expected \`method\` to be an HTTP method name, got ${JSON.stringify(method)}`);
  }
  if (typeof headers !== 'object' || headers === null) {
    throw new TypeError('Expected `headers` to be an object of header names and values');
  }
  const finalHeaders: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (!TOKEN.test(name))
      throw new TypeError(`Expected \`headers\` to have valid names, got ${JSON.stringify(name)}`);
    const values = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string' && !BAD_HEADER_VALUE.test(v))) {
      throw new TypeError(
        `Expected \`headers\` value of ${JSON.stringify(name)} to be a string or an array of strings without CR, LF or NUL`,
      );
    }
    finalHeaders[name.toLowerCase()] = typeof value === 'string' ? value : [...values];
  }
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new TypeError('Expected `body` to be a string, a Uint8Array, null or undefined');
  }
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(`Expected \`timeout\` to be a number of milliseconds >= 0, got ${String(timeout)}`);
  }
  if (typeof followRedirect !== 'boolean') {
    throw new TypeError(`Expected \`followRedirect\` to be a boolean, got ${typeof followRedirect}`);
  }
  if (typeof maxRedirects !== 'number' || !Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new RangeError(`Expected \`maxRedirects\` to be a whole number >= 0, got ${String(maxRedirects)}`);
  }
  if (typeof maxBytes !== 'number' || !wholeNumberOrInfinity(maxBytes) || maxBytes < 0) {
    throw new RangeError(
      `Expected \`maxBytes\` to be a whole number >= 0 or Infinity, got ${String(maxBytes)}`,
    );
  }
  if (
    signal !== undefined &&
    (typeof signal !== 'object' ||
      signal === null ||
      typeof signal.aborted !== 'boolean' ||
      typeof signal.addEventListener !== 'function')
  ) {
    throw new TypeError('Expected `signal` to be an AbortSignal');
  }
  if (
    dispatcher !== undefined &&
    (typeof dispatcher !== 'object' || dispatcher === null || typeof dispatcher.dispatch !== 'function')
  ) {
    throw new TypeError('Expected `dispatcher` to be an undici Dispatcher');
  }
  if (typeof userAgent !== 'string' || BAD_HEADER_VALUE.test(userAgent)) {
    throw new TypeError('Expected `userAgent` to be a string without CR, LF or NUL');
  }
  if (finalHeaders['user-agent'] === undefined && userAgent !== '') finalHeaders['user-agent'] = userAgent;
  return {
    method: method.toUpperCase(),
    headers: finalHeaders,
    body: body ?? undefined,
    timeout,
    followRedirect,
    maxRedirects,
    maxBytes,
    signal,
    dispatcher,
  };
}

/** Parses a URL to fetch; only http: and https: are ever requested. */
function target(input: string, base?: URL): URL {
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

/** Reads what is left of an error's or redirect's body, keeping the first `keep` bytes, giving up after DRAIN_LIMIT. */
async function skim(
  body: Dispatcher.ResponseData['body'],
  keep: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let seen = 0;
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (keptBytes < keep) {
        const part = chunk.subarray(0, keep - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
      seen += chunk.length;
      // Leaving the loop destroys the stream, and with it the connection: cheaper than reading a large body nobody wants.
      if (seen > DRAIN_LIMIT) break;
    }
  } catch (e) {
    // A broken error body still leaves a useful HttpError, unless the exchange itself was aborted.
    if (signal.aborted) throw e;
  }
  return Buffer.concat(kept);
}

/** Reads the whole body, failing as soon as it is known to be larger than `maxBytes`. */
async function readAll(
  body: Dispatcher.ResponseData['body'],
  headers: ResponseHeaders,
  maxBytes: number,
  url: string,
): Promise<Uint8Array> {
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw new ResponseTooLargeError(maxBytes, { url });
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > maxBytes) throw new ResponseTooLargeError(maxBytes, { url });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function ignore(): void {}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Decodes with the charset `content-type` names; UTF-8 when it names none or one TextDecoder does not know. */
function decodeBody(bytes: Uint8Array, contentType: string | string[] | undefined): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(single(contentType) ?? '')?.[1];
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? 'utf-8');
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(bytes);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'transfer-encoding',
];
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

interface RawResponse {
  url: string;
  status: number;
  headers: ResponseHeaders;
  bytes: Uint8Array;
  redirects: number;
}

/** One exchange, redirects included. `at` learns each URL as it is requested, so a failure can name it. */
async function exchange(
  start: URL,
  s: Settings,
  signal: AbortSignal,
  at: (url: URL) => void,
): Promise<RawResponse> {
  let url = start;
  let method = s.method;
  let body = s.body;
  let headers = s.headers;
  let redirects = 0;
  const dispatcher = s.dispatcher ?? defaultDispatcher();
  for (;;) {
    at(url);
    const response = await request(url, { method, headers, body, signal, dispatcher });
    const { statusCode: status, headers: responseHeaders, body: stream } = response;
    try {
      const location = single(responseHeaders.location);
      if (s.followRedirect && REDIRECTS.has(status) && location !== undefined) {
        await stream.dump({ limit: DRAIN_LIMIT, signal });
        if (redirects >= s.maxRedirects) throw new TooManyRedirectsError(s.maxRedirects, { url: url.href });
        const next = target(location, url);
        redirects++;
        if (status === 301 || status === 302 || status === 303) {
          if (method !== 'HEAD') method = 'GET';
          body = undefined;
          headers = { ...headers };
          for (const name of BODY_HEADERS) delete headers[name];
        }
        if (next.origin !== url.origin) {
          // Credentials meant for one site must not travel to whichever site it redirects to.
          headers = { ...headers };
          for (const name of CREDENTIAL_HEADERS) delete headers[name];
        }
        url = next;
        continue;
      }
      if (status < 200 || status > 299) {
        const prefix = await skim(stream, ERROR_BODY_BYTES, signal);
        throw new HttpError(status, responseHeaders, decodeBody(prefix, responseHeaders['content-type']), {
          url: url.href,
        });
      }
      const bytes = await readAll(stream, responseHeaders, s.maxBytes, url.href);
      return { url: url.href, status, headers: responseHeaders, bytes, redirects };
    } finally {
      if (stream.readableEnded) {
        // undici checks an idle keep-alive socket in the next check phase before it lends it again, and a request
        // sent before then opens a new connection. Going on one check phase later lets the next request (a redirect's,
        // or the caller's next getPage) reuse the socket.
        await nextCheckPhase();
      } else if (!stream.destroyed) {
        // Every body is read to its end or destroyed: undici holds the socket for a body nobody reads. Destroying
        // makes it emit an AbortError that nobody else listens for any more.
        stream.on('error', ignore);
        stream.destroy();
      }
    }
  }
}

const DNS_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_NODATA',
  'EAI_FAIL',
  'EAI_ADDRFAMILY',
]);
const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);
const LOST_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** The first error code found on `e`, its causes, or (for happy-eyeballs connection attempts) its aggregated errors. */
function errorCode(e: unknown): string | undefined {
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const { code } = e as { code?: unknown };
    if (typeof code === 'string') return code;
    const { errors } = e as { errors?: unknown };
    e = Array.isArray(errors) && errors.length > 0 ? errors[0] : (e as { cause?: unknown }).cause;
  }
  return undefined;
}

type AbortWhy = 'cancel' | 'timeout' | 'signal';

/** Turns whatever an exchange failed with into the failure the Deferred delivers. */
function classify(e: unknown, why: AbortWhy | undefined, url: URL, s: Settings): Error {
  const where = { url: url.href, cause: e };
  if (why === 'timeout') return new TimeoutError(s.timeout, { url: url.href });
  if (why === 'cancel') return new CancelledError('The request was cancelled');
  if (why === 'signal')
    return new CancelledError('The request was aborted by its signal', { cause: s.signal?.reason });
  if (e instanceof GetPageError) return e;
  const code = errorCode(e);
  if (code !== undefined) {
    if (DNS_CODES.has(code)) return new DNSLookupError(url.hostname, where);
    if (code === 'ECONNREFUSED') return new ConnectionRefusedError(where);
    if (TIMEOUT_CODES.has(code)) return new TimeoutError(undefined, where);
    if (LOST_CODES.has(code)) return new ConnectionLostError(where);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new GetPageError(`Getting ${url.href} failed: ${message}`, where);
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
  const controller = new AbortController();
  let why: AbortWhy | undefined;
  const abort = (reason: AbortWhy) => {
    if (why !== undefined) return;
    why = reason;
    controller.abort();
  };
  const d = new Deferred<B>(() => abort('cancel'));

  let start: URL;
  try {
    start = target(typeof url === 'string' ? url : url.href);
  } catch (e) {
    d.errback(e);
    return d;
  }
  const { signal } = s;
  if (signal?.aborted) {
    d.errback(new CancelledError('The request was aborted by its signal', { cause: signal.reason }));
    return d;
  }
  const onAbort = () => abort('signal');
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    s.timeout > 0 && s.timeout <= MAX_TIMER ? setTimeout(() => abort('timeout'), s.timeout) : undefined;
  let current = start;

  exchange(start, s, controller.signal, (u) => {
    current = u;
  }).then(
    (response) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // After cancel() the Deferred has already failed with CancelledError; a late result is dropped.
      if (d.called) return;
      let value: B;
      try {
        value = finish(response);
      } catch (e) {
        d.errback(classify(e, undefined, current, s));
        return;
      }
      d.callback(value);
    },
    (e: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (!d.called) d.errback(classify(e, why, current, s));
    },
  );
  return d;
}

/**
 * Fetches `url` and delivers its body as text — Twisted's `getPage`, over undici's `request` and a shared keep-alive
 * Agent ({@link DEFAULT_CONNECTIONS} connections per origin; `dispatcher` replaces it).
 *
 * The result is a {@link Deferred}: add callbacks (`getPage(url).addCallback(pageCallback, url)`) or `await` it.
 * The body is decoded with the charset of `content-type` (UTF-8 by default). Redirects are followed (301/302/303 turn
 * into GET without a body; 307/308 keep method and body), only ever to http: or https: URLs.
 *
 * Every I/O problem arrives as a failed Deferred carrying a {@link GetPageError} subclass: {@link HttpError} (status
 * 400 and up, or a 3xx not followed), {@link DNSLookupError}, {@link ConnectionRefusedError},
 * {@link ConnectionLostError}, {@link TimeoutError}, {@link ResponseTooLargeError}, {@link TooManyRedirectsError} and
 * {@link InvalidURLError} (also for a URL that does not parse). `d.cancel()`, or aborting `signal`, stops the request,
 * closes its connection and fails the Deferred with `CancelledError`.
 *
 * @throws {TypeError | RangeError} at once, for an option of the wrong type or out of range, or a `url` that is not a
 * string or URL.
 */
export function getPage(url: string | URL, options?: GetPageOptions): Deferred<string> {
  return fetchPage(url, options, (r) => decodeBody(r.bytes, r.headers['content-type']));
}

/** Like {@link getPage}, but delivers the body as bytes, undecoded. */
export function getPageBytes(url: string | URL, options?: GetPageOptions): Deferred<Uint8Array> {
  return fetchPage(url, options, (r) => r.bytes);
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
    body: decodeBody(r.bytes, r.headers['content-type']),
    redirects: r.redirects,
  }));
}
