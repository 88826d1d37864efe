/**
 * One getPage from the first request to the outcome, as three small parts with private state:
 *
 * - {@link Exchange}: the Deferred, the clock, the signal and cancellation, the redirect count and the one
 *   stale-connection retry; it sends one {@link Request} per hop and delivers the outcome.
 * - {@link Request}: undici's dispatch handler for one request on the wire: its controller (or its place in a queue),
 *   and what its response turned out to be — a body, a redirect, or a failure whose body is drained.
 * - {@link Body} and {@link Drain}: the bytes of a response, counted against `maxBytes` (a 2xx body, decoded by undici's
 *   decompression when it came compressed) or against the drain limit (a redirect's or an error's body).
 *
 * getPage drives undici's dispatcher directly rather than through undici's `request()`, which would build a Readable
 * stream for every body: chunks are collected as they come, and the request is aborted (which closes its connection)
 * as soon as the body is too large, or the exchange is cancelled, timed out or aborted by its signal. Outcomes are
 * delivered outside undici's callbacks and only once the connection can be lent again (see phases.ts), so no callback
 * of the caller ever runs inside undici's parser.
 */
import type { Dispatcher } from 'undici';
import { systemClock } from '../../core/clock.js';
import { CancelledError, Deferred } from '../../core/deferred.js';
import type { Failure } from '../../core/failure.js';
import { classify, closedBeforeResponse } from './classify.js';
import { type BodyChunks, decodeBody, single } from './decode.js';
import { decompressing, defaultDispatcher, queuedAbortKey } from './dispatcher.js';
import {
  GetPageError,
  HttpError,
  type ResponseHeaders,
  ResponseTooLargeError,
  TimeoutError,
  TooManyRedirectsError,
} from './errors.js';
import { type Settings, target } from './options.js';
import { afterConnectionClosed, type Ending, endedLater } from './phases.js';
import { type Hop, REDIRECTS, redirectHop } from './redirect.js';

/** What an exchange hands its `finish` function: the last response, its body whole. */
export interface RawResponse extends BodyChunks {
  url: string;
  status: number;
  headers: ResponseHeaders;
  redirects: number;
}

/** How much of an error response's body {@link HttpError} keeps. */
const ERROR_BODY_BYTES = 1024;
/** How much of a redirect's or an error's body is read, to keep the connection for the next request, before giving up on it. */
const DRAIN_LIMIT = 64 * 1024;
/** Methods whose request may be sent twice (RFC 9110, 9.2.2): the ones retried after a stale keep-alive connection. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** What a request getPage gives up on is aborted with; nobody sees it, so one object serves them all. */
const ABORTED = new Error('getPage gave up on the request');

/** What the current request's response turned out to be. */
const BODY = 0;
const REDIRECT = 1;
const FAILURE = 2;

type AbortWhy = 'cancel' | 'timeout' | 'signal';

function timedOut(x: Exchange<unknown>): void {
  x.abort('timeout');
}

/**
 * One getPage: its Deferred, its clock and signal, and the request of each hop (the first, then one per redirect, and
 * at most one retry). It decides the outcome: the page, or the first failure, timeout, cancel or abort.
 */
export class Exchange<B> {
  readonly d: Deferred<B>;
  readonly #s: Settings;
  readonly #finish: (r: RawResponse) => B;
  readonly #dispatcher: Dispatcher;
  /** What the next request is built from: the first, then each redirect's. */
  readonly #hop: Hop;
  #redirects = 0;
  /** The stale-connection retry was spent (one per exchange). */
  #retried = false;
  /** The outcome is decided (the page is here, or the exchange failed): nothing undici reports afterwards counts. */
  #settled = false;
  /** A cancel() came while a request was on a connection: the Deferred's chain waits for it to close. */
  #holdCancel = false;
  /** The request sent last, if any was. */
  #request: Request | null = null;
  #timer: unknown = undefined;
  #onAbort: (() => void) | undefined = undefined;

  constructor(start: URL, s: Settings, finish: (r: RawResponse) => B) {
    this.d = new Deferred<B>(() => {
      this.#holdCancel = this.#request?.onConnection === true;
      this.abort('cancel');
    });
    this.d.addErrback(Exchange.#holdCancelUntilClosed, this);
    this.#s = s;
    this.#finish = finish;
    this.#dispatcher = s.dispatcher ?? defaultDispatcher();
    this.#hop = { url: start, method: s.method, headers: s.headers, body: s.body };
  }

  /**
   * The first link of every getPage Deferred. A cancel() fails the Deferred at once (Twisted's rule), but if the
   * request was on a connection, the chain waits here until that connection has closed: whoever gave the request a
   * slot (a semaphore, parallel()) gets it back only once the socket is free, and cannot open one more meanwhile.
   */
  static #holdCancelUntilClosed(failure: Failure, x: Exchange<unknown>): Failure | Deferred<never> {
    if (!x.#holdCancel) return failure;
    x.#holdCancel = false;
    const held = new Deferred<never>();
    afterConnectionClosed(() => held.errback(failure));
    return held;
  }

  get settled(): boolean {
    return this.#settled;
  }

  get settings(): Settings {
    return this.#s;
  }

  /** Starts the clock and listens to the signal, then sends the first request. */
  start(): void {
    const { timeout, signal } = this.#s;
    if (timeout > 0 && timeout !== Number.POSITIVE_INFINITY) {
      this.#timer = systemClock.setTimeout(() => timedOut(this), timeout);
    }
    if (signal !== undefined) {
      this.#onAbort = () => this.abort('signal');
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    this.#send();
  }

  /** Sends a request for the current hop. */
  #send(): void {
    this.#request = null;
    const { url, method, headers, body } = this.#hop;
    if (method === 'CONNECT') {
      // undici's request() refuses CONNECT, which needs a handler for the tunnel; so does getPage.
      this.fail(new GetPageError(`Getting ${url.href} failed: CONNECT is not supported`, { url: url.href }));
      return;
    }
    const request = new Request(this as Exchange<unknown>, url, method);
    this.#request = request;
    const opts: Dispatcher.DispatchOptions & Record<symbol, unknown> = {
      origin: url.origin,
      path: url.search === '' ? url.pathname : url.pathname + url.search,
      method,
      headers,
      body: body ?? null,
    };
    const queuedAbort = queuedAbortKey();
    if (queuedAbort !== undefined)
      opts[queuedAbort] = (cancel: (reason: Error) => void) => request.queued(cancel);
    try {
      this.#dispatcher.dispatch(opts, request);
    } catch (e) {
      request.onResponseError(null, e as Error);
    }
  }

  /** Decides the outcome: stops the clock and the signal listener. False when it was decided already. */
  conclude(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#timer !== undefined) systemClock.clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#s.signal?.removeEventListener('abort', this.#onAbort);
    return true;
  }

  /**
   * Fails the Deferred with `error` once undici has let go of the connection: never from inside undici's callbacks,
   * and never before the pool can lend that connection (or its slot) again — see {@link afterConnectionClosed}.
   */
  fail(error: Error): void {
    if (this.conclude()) this.#errbackLater(error);
  }

  /** The delivery half of {@link fail}, for an exchange whose outcome is already decided. */
  #errbackLater(error: Error): void {
    afterConnectionClosed(() => {
      if (!this.d.called) this.d.errback(error);
    });
  }

  /** Gives up on the exchange: closes the connection of a request in flight, takes a queued one out of its queue. */
  abort(why: AbortWhy): void {
    if (!this.conclude()) return;
    this.#request?.abort();
    if (why === 'timeout') {
      this.#errbackLater(new TimeoutError(this.#s.timeout, { url: this.#hop.url.href }));
    } else if (why === 'signal') {
      this.#errbackLater(
        new CancelledError('The request was aborted by its signal', { cause: this.#s.signal?.reason }),
      );
    }
    // On 'cancel', Deferred.cancel() fails the Deferred with CancelledError once this returns.
  }

  /**
   * The connection failed with `error` before any of the response came. Sends the request once more when that is
   * safe — once per exchange, for an idempotent method, when a kept-alive connection closed under the request as it
   * went out, as servers do with idle connections (browsers retry these too) — and fails otherwise.
   */
  noResponse(error: Error): void {
    const { url, method } = this.#hop;
    if (!this.#retried && !this.#settled && IDEMPOTENT.has(method) && closedBeforeResponse(error)) {
      // The connection undici lends next is another one, or this one connected afresh once it has closed.
      this.#retried = true;
      afterConnectionClosed(() => {
        if (!this.#settled) this.#send();
      });
      return;
    }
    this.fail(classify(error, url));
  }

  /** Delivers the page, in the check phase after its response ended (the outcome is decided already). */
  deliver(status: number, headers: ResponseHeaders, body: BodyChunks): void {
    if (this.d.called) return;
    const url = this.#hop.url;
    const response: RawResponse = {
      url: url.href,
      status,
      headers,
      chunks: body.chunks,
      total: body.total,
      redirects: this.#redirects,
    };
    let value: B;
    try {
      value = this.#finish(response);
    } catch (e) {
      this.d.errback(classify(e, url));
      return;
    }
    this.d.callback(value);
  }

  /** Delivers an HttpError, in the check phase after its response ended (the outcome is decided already). */
  deliverError(error: HttpError): void {
    if (!this.d.called) this.d.errback(error);
  }

  /** Follows the redirect a response of `status` asked for, unless that is one too many or leads nowhere valid. */
  redirect(status: number, location: string): void {
    // Timed out, cancelled or aborted while the body drained.
    if (this.#settled) return;
    const hop = this.#hop;
    if (this.#redirects >= this.#s.maxRedirects) {
      this.conclude();
      this.d.errback(new TooManyRedirectsError(this.#s.maxRedirects, { url: hop.url.href }));
      return;
    }
    let next: URL;
    try {
      next = target(location, hop.url);
    } catch (e) {
      this.conclude();
      this.d.errback(e);
      return;
    }
    this.#redirects++;
    redirectHop(hop, status, next, this.#s);
    this.#send();
  }
}

/**
 * undici's dispatch handler for one request of an exchange: from the dispatch to the end of its response. It knows
 * the request's controller (or how to take it out of its queue), and reads the response as a {@link Body} or a
 * {@link Drain}. It reports to its exchange once: the outcome, a redirect, or a failure.
 */
class Request implements Dispatcher.DispatchHandler, Ending {
  readonly #x: Exchange<unknown>;
  readonly #url: URL;
  readonly #method: string;
  /** The request's outcome is known: later reports about it are ignored. */
  #done = false;
  /** The request's controller, once it started. */
  #controller: Dispatcher.DispatchController | null = null;
  /** Takes the request out of its dispatcher's queue, while it waits for a connection. */
  #cancelQueued: ((reason: Error) => void) | null = null;
  #status = 0;
  #headers: ResponseHeaders = {};
  #mode = BODY;
  #location = '';
  /** A 2xx response's body. */
  #body: Body | null = null;
  /** undici's decompression, in front of {@link #body}, for a body with a content-encoding it reads. */
  #inflater: Dispatcher.DispatchHandler | null = null;
  /** A redirect's or an error's body. */
  #drain: Drain | null = null;

  constructor(x: Exchange<unknown>, url: URL, method: string) {
    this.#x = x;
    this.#url = url;
    this.#method = method;
  }

  /** The request's outcome is known (ended, failed, cut off or aborted). */
  get done(): boolean {
    return this.#done;
  }

  /** Whether the request got a connection (a cancel then waits for it to close). */
  get onConnection(): boolean {
    return this.#controller !== null;
  }

  queued(cancel: (reason: Error) => void): void {
    if (this.#x.settled) cancel(ABORTED);
    else this.#cancelQueued = cancel;
  }

  /** The exchange gave up: closes the request's connection, or takes it out of its queue. */
  abort(): void {
    this.#body = null;
    this.#drain = null;
    if (this.#done) return;
    this.#done = true;
    if (this.#controller !== null) this.#controller.abort(ABORTED);
    else if (this.#cancelQueued !== null) this.#cancelQueued(ABORTED);
    // Otherwise the request is still on its way to a queue: onRequestStart aborts it.
  }

  /** Fails the exchange with `error`, letting go of the body. */
  #fail(error: Error): void {
    this.#body = null;
    this.#drain = null;
    this.#x.fail(error);
  }

  /**
   * Stops reading the response: undici closes its connection. Called from inside undici's parser, it aborts a
   * microtask later, once the parser is done with the data in hand: a socket that emits 'close' as it is destroyed
   * (nock's does) would otherwise make undici finish the message the parser is still reading.
   */
  #cutOff(controller: Dispatcher.DispatchController): void {
    this.#done = true;
    queueMicrotask(() => controller.abort(ABORTED));
  }

  /** The 2xx body is larger than `maxBytes`: cuts it off and fails. */
  tooLarge(controller: Dispatcher.DispatchController): void {
    this.#cutOff(controller);
    this.#fail(new ResponseTooLargeError(this.#x.settings.maxBytes, { url: this.#url.href }));
  }

  /** The HttpError for the response, with the first KiB of its body. */
  #httpError(): HttpError {
    const headers = this.#headers;
    const prefix = this.#drain === null ? '' : decodeBody(this.#drain, headers['content-type']);
    this.#drain = null;
    return new HttpError(this.#status, headers, prefix, { url: this.#url.href });
  }

  /**
   * For a redirect whose connection is closing (cut off, or broken off): the next request waits until that connection
   * has closed, or it would find it busy and open another.
   */
  #redirectAfterClose(): void {
    afterConnectionClosed(() => this.afterEnd());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#cancelQueued = null;
    if (this.#x.settled || this.#done) {
      controller.abort(ABORTED);
      return;
    }
    this.#controller = controller;
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: ResponseHeaders): void {
    // Informational responses (1xx) come before the real one.
    if (this.#done || status < 200) return;
    this.#status = status;
    this.#headers = headers;
    const s = this.#x.settings;
    const location = single(headers.location);
    if (s.followRedirect && REDIRECTS.has(status) && location !== undefined) {
      this.#mode = REDIRECT;
      this.#location = location;
      this.#drain = new Drain(false);
      // A large redirect body is not worth reading to keep the connection: drop it, and the connection with it.
      if (Number(headers['content-length']) > DRAIN_LIMIT) {
        this.#cutOff(controller);
        this.#redirectAfterClose();
      }
    } else if (status > 299) {
      this.#mode = FAILURE;
      this.#drain = new Drain(true);
    } else {
      const body = new Body(this, s.maxBytes);
      this.#body = body;
      if (headers['content-encoding'] !== undefined && this.#method !== 'HEAD') {
        // undici's decompression takes over the body (and passes on what it cannot read as it came).
        const inflater = decompressing(body);
        this.#inflater = inflater;
        inflater.onRequestStart?.(controller, null);
        inflater.onResponseStart?.(controller, status, headers, '');
      } else if (Number(headers['content-length']) > s.maxBytes) {
        this.tooLarge(controller);
      }
    }
  }

  /** The headers of a decompressed body: without content-encoding and content-length, which describe the bytes as sent. */
  decoded(headers: ResponseHeaders): void {
    this.#headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#done) return;
    if (this.#inflater !== null) {
      this.#inflater.onResponseData?.(controller, chunk);
      return;
    }
    if (this.#mode === BODY) {
      this.#body?.onResponseData(controller, chunk);
      return;
    }
    // Reading on would cost more than the connection is worth: stop, and close it.
    if (this.#drain !== null && !this.#drain.push(chunk)) {
      this.#cutOff(controller);
      if (this.#mode === REDIRECT) this.#redirectAfterClose();
      else this.#fail(this.#httpError());
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: ResponseHeaders): void {
    if (this.#done) return;
    if (this.#inflater !== null) {
      this.#inflater.onResponseEnd?.(controller, trailers);
      return;
    }
    this.ended();
  }

  /** The response (decompressed, when it was compressed) ended. */
  ended(): void {
    if (this.#done) return;
    this.#done = true;
    // A redirect goes on; anything else is the outcome, and the clock stops.
    if (this.#mode !== REDIRECT) this.#x.conclude();
    endedLater(this);
  }

  onResponseError(controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.#inflater !== null) {
      // Even after getPage cut the body off: the decompressor lets go of its zlib stream only when told.
      this.#inflater.onResponseError?.(controller as Dispatcher.DispatchController, error);
      return;
    }
    this.failed(error);
  }

  /** The request or its response (decompressed, when it was compressed) failed with `error`. */
  failed(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#status === 0) {
      this.#x.noResponse(error);
    } else if (this.#mode === REDIRECT) {
      // A redirect whose body broke off is still a redirect.
      this.#redirectAfterClose();
    } else if (this.#mode === FAILURE) {
      // So is an error whose body broke off: what arrived of it goes into the HttpError.
      this.#fail(this.#httpError());
    } else {
      this.#fail(classify(error, this.#url));
    }
  }

  /** Runs in the check phase after the response ended (or, for a redirect, after its connection closed). */
  afterEnd(): void {
    if (this.#mode === REDIRECT) {
      this.#drain = null;
      this.#x.redirect(this.#status, this.#location);
    } else if (this.#mode === FAILURE) {
      if (!this.#x.d.called) this.#x.deliverError(this.#httpError());
    } else {
      const body = this.#body;
      // The Deferred keeps its canceller, and with it this request, as long as it lives: let go of the body.
      this.#body = null;
      if (body !== null) this.#x.deliver(this.#status, this.#headers, body);
    }
  }
}

/**
 * A 2xx response's body: its chunks, counted against `maxBytes` as they come. When the body came compressed, this is
 * the handler undici's decompression hands the decoded body to.
 */
class Body implements Dispatcher.DispatchHandler, BodyChunks {
  readonly #request: Request;
  readonly #max: number;
  #chunks: Buffer[] = [];
  #total = 0;

  constructor(request: Request, max: number) {
    this.#request = request;
    this.#max = max;
  }

  get chunks(): Buffer[] {
    return this.#chunks;
  }

  get total(): number {
    return this.#total;
  }

  onRequestStart(): void {}

  onResponseStart(_c: Dispatcher.DispatchController, _status: number, headers: ResponseHeaders): void {
    this.#request.decoded(headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // The decompressor may still hand on data after the request was cut off or aborted.
    if (this.#request.done) return;
    const total = this.#total + chunk.length;
    if (total > this.#max) {
      this.#chunks = [];
      this.#request.tooLarge(controller);
      return;
    }
    this.#total = total;
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.#request.ended();
  }

  onResponseError(_c: Dispatcher.DispatchController | null, error: Error): void {
    this.#request.failed(error);
  }
}

/**
 * A redirect's or an error's body, read to keep the connection for the next request: up to {@link DRAIN_LIMIT} bytes,
 * of which an error's first {@link ERROR_BODY_BYTES} are kept for its {@link HttpError}.
 */
class Drain implements BodyChunks {
  readonly #keep: boolean;
  #chunks: Buffer[] = [];
  #total = 0;
  #seen = 0;

  constructor(keep: boolean) {
    this.#keep = keep;
  }

  get chunks(): Buffer[] {
    return this.#chunks;
  }

  get total(): number {
    return this.#total;
  }

  /** Takes a chunk in; false once more than the drain limit came. */
  push(chunk: Buffer): boolean {
    if (this.#keep && this.#total < ERROR_BODY_BYTES) {
      const part = chunk.subarray(0, ERROR_BODY_BYTES - this.#total);
      this.#chunks.push(part);
      this.#total += part.length;
    }
    this.#seen += chunk.length;
    return this.#seen <= DRAIN_LIMIT;
  }
}
