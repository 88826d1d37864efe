import { createRequire } from 'node:module';
import { Agent, type Dispatcher, errors as undiciErrors } from 'undici';
import { CancelledError, Deferred } from './core/deferred.js';
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
} from './core/errors.js';
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
  if (options === undefined) {
    defaultSettings ??= checkedSettings({});
    return defaultSettings;
  }
  return checkedSettings(options);
}

/** The settings of a call without options, worked out once: nothing changes them (a redirect copies the headers). */
let defaultSettings: Settings | undefined;

function checkedSettings(options: GetPageOptions): Settings {
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

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;
const UTF8 = new TextDecoder('utf-8');
/**
 * Decoders by lower-cased charset label. A TextDecoder not asked to stream keeps no state between `decode()` calls,
 * so one per label serves every response. Labels TextDecoder does not know map to UTF-8; the map stops growing at
 * MAX_DECODERS labels, after which a new label gets a decoder of its own each time.
 */
const decoders = new Map<string, TextDecoder>();
const MAX_DECODERS = 64;
let lastContentType: string | undefined;
let lastDecoder = UTF8;

/** The decoder for the charset `content-type` names; UTF-8 when it names none or one TextDecoder does not know. */
function decoderFor(contentType: string | string[] | undefined): TextDecoder {
  const type = single(contentType);
  if (type === undefined) return UTF8;
  if (type === lastContentType) return lastDecoder;
  const charset = CHARSET.exec(type)?.[1]?.toLowerCase();
  let decoder = charset === undefined ? UTF8 : decoders.get(charset);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(charset);
    } catch {
      decoder = UTF8;
    }
    if (decoders.size < MAX_DECODERS) decoders.set(charset as string, decoder);
  }
  lastContentType = type;
  lastDecoder = decoder;
  return decoder;
}

/** Decodes with the charset `content-type` names; UTF-8 when it names none or one TextDecoder does not know. */
function decodeBody(bytes: Uint8Array, contentType: string | string[] | undefined): string {
  return decoderFor(contentType).decode(bytes);
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
  /** The body as it arrived, in chunks (undici's views of the socket's reads), `total` bytes in all. */
  chunks: Buffer[];
  total: number;
  redirects: number;
}

function bodyBytes(r: RawResponse): Buffer {
  return Buffer.concat(r.chunks, r.total);
}

function bodyText(r: RawResponse): string {
  const decoder = decoderFor(r.headers['content-type']);
  return decoder.decode(r.chunks.length === 1 ? r.chunks[0] : bodyBytes(r));
}

/**
 * undici's hook for a request still waiting for a connection: a dispatcher that queues a request calls
 * `opts[kQueuedAbort](cancel)`, and `cancel(reason)` takes it out of the queue. undici's `request()` uses it for its
 * `signal`; without it a request cancelled while queued could only be aborted once it reached a connection, at the
 * cost of that connection. The symbol is internal to undici, so it is looked up defensively: when it cannot be found,
 * a cancelled request is aborted as it starts instead.
 */
const kQueuedAbort: symbol | undefined = (() => {
  try {
    const symbols = createRequire(import.meta.url)('undici/lib/core/symbols.js') as Record<string, unknown>;
    return typeof symbols.kQueuedAbort === 'symbol' ? symbols.kQueuedAbort : undefined;
  } catch {
    return undefined;
  }
})();

/** What a request getPage gives up on is aborted with; nobody sees it, so one object serves them all. */
const ABORTED = new Error('getPage gave up on the request');

/** What the current hop's response turned out to be. */
const BODY = 0;
const REDIRECT = 1;
const FAILURE = 2;

type AbortWhy = 'cancel' | 'timeout' | 'signal';

/**
 * Exchanges whose response has ended with the connection kept. undici lends an idle keep-alive connection again only
 * after the next check phase (it first makes sure the server did not close it), and a request sent before then opens a
 * new connection. So the result (or a redirect's next request) waits for that check phase: the Immediate is set from
 * process.nextTick, after undici's own Immediate for the connection, so it runs after it. One Immediate serves every
 * response undici reported in one read.
 */
let ended: Ending[] = [];
let ticking = false;

/** What waits for the check phase, and what the clock stops: an {@link Exchange} of any result type. */
interface Ending {
  afterEnd(): void;
  abort(why: AbortWhy): void;
}

function endedLater(x: Ending): void {
  ended.push(x);
  if (!ticking) {
    ticking = true;
    process.nextTick(afterRead);
  }
}

function afterRead(): void {
  ticking = false;
  const batch = ended;
  ended = [];
  setImmediate(runEnded, batch);
}

function runEnded(batch: Ending[]): void {
  for (const x of batch) {
    try {
      x.afterEnd();
    } catch (e) {
      // Nothing in afterEnd should throw; if something does, the others in the batch still get their results.
      queueMicrotask(() => {
        throw e;
      });
    }
  }
}

/**
 * Runs `fn` once a connection closed now has been given back to its pool. A socket undici destroys (a request aborted,
 * cut off, or reset by the server) says 'close' in the close-callbacks phase, which comes after this loop turn's check
 * phase; only then does undici count that connection as free. An Immediate set from an Immediate runs in the next
 * turn's check phase, after it. A failure delivered sooner would let the caller's next request (parallel() starts one at
 * once) find every connection busy and open one more: a pool running 50 at a time would end up holding 51 sockets.
 */
function afterConnectionClosed(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

function timedOut(x: Ending): void {
  x.abort('timeout');
}

/**
 * One getPage: its Deferred, its clock and signal, and the undici dispatch handler of each request it sends (the
 * first, then one per redirect). It drives undici's dispatcher directly rather than through `request()`, which would
 * build a Readable stream for every body: chunks are collected as they come, counted against `maxBytes`, and the
 * request is aborted (which closes its connection) as soon as the body is too large, or the exchange is cancelled,
 * timed out or aborted by its signal.
 *
 * Results are delivered outside undici's callbacks: a page after the check phase (see `endedLater`), a failure a
 * microtask later, so no callback of the caller ever runs inside undici's parser.
 */
class Exchange<B> implements Dispatcher.DispatchHandler {
  readonly d: Deferred<B>;
  readonly s: Settings;
  readonly finish: (r: RawResponse) => B;
  readonly dispatcher: Dispatcher;
  /** The URL being requested now: the first, then each redirect target. */
  url: URL;
  method: string;
  headers: Record<string, string | string[]>;
  body: string | Uint8Array | undefined;
  redirects = 0;
  /** The outcome is decided (the page is here, or the exchange failed): nothing undici reports afterwards counts. */
  settled = false;
  /** The current request's outcome is known: later reports about it are ignored. */
  hopDone = false;
  /** The current request's controller, once it started. */
  controller: Dispatcher.DispatchController | null = null;
  /** Takes the current request out of its dispatcher's queue, while it waits for a connection. */
  cancelQueued: ((reason: Error) => void) | null = null;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  // The current response.
  status = 0;
  responseHeaders: ResponseHeaders = {};
  mode = BODY;
  location = '';
  chunks: Buffer[] = [];
  /** Bytes kept in `chunks`. */
  total = 0;
  /** Bytes of a redirect's or an error's body seen. */
  seen = 0;

  constructor(start: URL, s: Settings, finish: (r: RawResponse) => B) {
    this.d = new Deferred<B>(() => this.abort('cancel'));
    this.s = s;
    this.finish = finish;
    this.dispatcher = s.dispatcher ?? defaultDispatcher();
    this.url = start;
    this.method = s.method;
    this.headers = s.headers;
    this.body = s.body;
  }

  /** Starts the clock and listens to the signal, then sends the first request. */
  start(): void {
    const { timeout, signal } = this.s;
    if (timeout > 0 && timeout <= MAX_TIMER) this.timer = setTimeout(timedOut, timeout, this);
    if (signal !== undefined) {
      this.onAbort = () => this.abort('signal');
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    this.send();
  }

  /** Sends a request for `this.url`. */
  send(): void {
    this.hopDone = false;
    this.controller = null;
    this.cancelQueued = null;
    this.status = 0;
    this.mode = BODY;
    this.total = 0;
    this.seen = 0;
    if (this.chunks.length > 0) this.chunks = [];
    const { url, method } = this;
    if (method === 'CONNECT') {
      // undici's request() refuses CONNECT, which needs a handler for the tunnel; so does getPage.
      this.hopDone = true;
      this.failLater(classify(new undiciErrors.InvalidArgumentError('invalid method'), url));
      return;
    }
    const opts: Dispatcher.DispatchOptions & Record<symbol, unknown> = {
      origin: url.origin,
      path: url.search === '' ? url.pathname : url.pathname + url.search,
      method,
      headers: this.headers,
      body: this.body ?? null,
    };
    if (kQueuedAbort !== undefined)
      opts[kQueuedAbort] = (cancel: (reason: Error) => void) => this.queued(cancel);
    try {
      this.dispatcher.dispatch(opts, this);
    } catch (e) {
      this.onResponseError(null, e as Error);
    }
  }

  queued(cancel: (reason: Error) => void): void {
    if (this.settled) cancel(ABORTED);
    else this.cancelQueued = cancel;
  }

  /** Decides the outcome: stops the clock and the signal listener. False when it was decided already. */
  conclude(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.s.signal?.removeEventListener('abort', this.onAbort);
    return true;
  }

  /**
   * Fails the Deferred with `error` once undici has let go of the connection: never from inside undici's callbacks,
   * and never before the pool can lend that connection (or its slot) again — see {@link afterConnectionClosed}.
   */
  failLater(error: Error): void {
    if (!this.conclude()) return;
    this.chunks = [];
    this.errbackLater(error);
  }

  /** The delivery half of {@link failLater}, for an exchange whose outcome is already decided. */
  errbackLater(error: Error): void {
    afterConnectionClosed(() => {
      if (!this.d.called) this.d.errback(error);
    });
  }

  /** Gives up on the exchange: closes the connection of a request in flight, takes a queued one out of its queue. */
  abort(why: AbortWhy): void {
    if (!this.conclude()) return;
    this.chunks = [];
    if (!this.hopDone) {
      this.hopDone = true;
      if (this.controller !== null) this.controller.abort(ABORTED);
      else if (this.cancelQueued !== null) this.cancelQueued(ABORTED);
      // Otherwise the request is still on its way to a queue: onRequestStart aborts it.
    }
    if (why === 'timeout') {
      this.errbackLater(new TimeoutError(this.s.timeout, { url: this.url.href }));
    } else if (why === 'signal') {
      this.errbackLater(
        new CancelledError('The request was aborted by its signal', { cause: this.s.signal?.reason }),
      );
    }
    // On 'cancel', Deferred.cancel() fails the Deferred with CancelledError once this returns.
  }

  /**
   * Stops reading the current response: undici closes its connection. Called from inside undici's parser, it aborts a
   * microtask later, once the parser is done with the data in hand: a socket that emits 'close' as it is destroyed
   * (nock's does) would otherwise make undici finish the message the parser is still reading.
   */
  cutOff(controller: Dispatcher.DispatchController): void {
    this.hopDone = true;
    queueMicrotask(() => controller.abort(ABORTED));
  }

  /** The HttpError for the current response, with the first KiB of its body; lets go of the body. */
  httpError(): HttpError {
    const headers = this.responseHeaders;
    const prefix = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total);
    this.chunks = [];
    return new HttpError(this.status, headers, decodeBody(prefix, headers['content-type']), {
      url: this.url.href,
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.cancelQueued = null;
    if (this.settled || this.hopDone) {
      controller.abort(ABORTED);
      return;
    }
    this.controller = controller;
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: ResponseHeaders): void {
    // Informational responses (1xx) come before the real one.
    if (this.hopDone || status < 200) return;
    this.status = status;
    this.responseHeaders = headers;
    const location = single(headers.location);
    if (this.s.followRedirect && REDIRECTS.has(status) && location !== undefined) {
      this.mode = REDIRECT;
      this.location = location;
      // A large redirect body is not worth reading to keep the connection: drop it, and the connection with it.
      if (Number(headers['content-length']) > DRAIN_LIMIT) {
        this.cutOff(controller);
        endedLater(this);
      }
    } else if (status > 299) {
      this.mode = FAILURE;
    } else {
      const declared = Number(headers['content-length']);
      if (declared > this.s.maxBytes) {
        this.cutOff(controller);
        this.failLater(new ResponseTooLargeError(this.s.maxBytes, { url: this.url.href }));
      }
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.hopDone) return;
    if (this.mode === BODY) {
      const total = this.total + chunk.length;
      if (total > this.s.maxBytes) {
        this.cutOff(controller);
        this.failLater(new ResponseTooLargeError(this.s.maxBytes, { url: this.url.href }));
        return;
      }
      this.total = total;
      this.chunks.push(chunk);
      return;
    }
    if (this.mode === FAILURE && this.total < ERROR_BODY_BYTES) {
      const part = chunk.subarray(0, ERROR_BODY_BYTES - this.total);
      this.chunks.push(part);
      this.total += part.length;
    }
    this.seen += chunk.length;
    // Reading on would cost more than the connection is worth: stop, and close it.
    if (this.seen > DRAIN_LIMIT) {
      this.cutOff(controller);
      if (this.mode === REDIRECT) endedLater(this);
      else this.failLater(this.httpError());
    }
  }

  onResponseEnd(): void {
    if (this.hopDone) return;
    this.hopDone = true;
    // A redirect goes on; anything else is the outcome, and the clock stops.
    if (this.mode !== REDIRECT) this.conclude();
    endedLater(this);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.hopDone) return;
    this.hopDone = true;
    if (this.status === 0) {
      this.failLater(classify(error, this.url));
    } else if (this.mode === REDIRECT) {
      // A redirect whose body broke off is still a redirect.
      endedLater(this);
    } else if (this.mode === FAILURE) {
      // So is an error whose body broke off: what arrived of it goes into the HttpError.
      this.failLater(this.httpError());
    } else {
      this.failLater(classify(error, this.url));
    }
  }

  /** Runs in the check phase after the response ended (or, for a redirect, was cut off or broke off). */
  afterEnd(): void {
    if (this.mode === REDIRECT) {
      this.redirect();
      return;
    }
    if (this.d.called) return;
    if (this.mode === FAILURE) {
      this.d.errback(this.httpError());
      return;
    }
    const response: RawResponse = {
      url: this.url.href,
      status: this.status,
      headers: this.responseHeaders,
      chunks: this.chunks,
      total: this.total,
      redirects: this.redirects,
    };
    // The Deferred keeps its canceller, and with it this object, as long as it lives: let go of the body.
    this.chunks = [];
    let value: B;
    try {
      value = this.finish(response);
    } catch (e) {
      this.d.errback(classify(e, this.url));
      return;
    }
    this.d.callback(value);
  }

  /** Follows the redirect the current response asked for, unless that is one too many or leads nowhere valid. */
  redirect(): void {
    // Timed out, cancelled or aborted while the body drained.
    if (this.settled) return;
    if (this.redirects >= this.s.maxRedirects) {
      this.conclude();
      this.d.errback(new TooManyRedirectsError(this.s.maxRedirects, { url: this.url.href }));
      return;
    }
    let next: URL;
    try {
      next = target(this.location, this.url);
    } catch (e) {
      this.conclude();
      this.d.errback(e);
      return;
    }
    this.redirects++;
    const status = this.status;
    if (status === 301 || status === 302 || status === 303) {
      if (this.method !== 'HEAD') this.method = 'GET';
      this.body = undefined;
      this.headers = { ...this.headers };
      for (const name of BODY_HEADERS) delete this.headers[name];
    }
    if (next.origin !== this.url.origin) {
      // Credentials meant for one site must not travel to whichever site it redirects to.
      this.headers = { ...this.headers };
      for (const name of CREDENTIAL_HEADERS) delete this.headers[name];
    }
    this.url = next;
    this.send();
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

/** Turns whatever undici or the caller's `finish` failed with into the failure the Deferred delivers. */
function classify(e: unknown, url: URL): Error {
  const where = { url: url.href, cause: e };
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
  const x = new Exchange(start, s, finish);
  x.start();
  return x.d;
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
  return fetchPage(url, options, bodyText);
}

/** Like {@link getPage}, but delivers the body as bytes, undecoded. */
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
