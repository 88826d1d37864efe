/** One getPage from the first request to the outcome: the undici dispatch handler and what it decides. */
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
import { afterConnectionClosed, endedLater } from './phases.js';
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

/** What the current hop's response turned out to be. */
const BODY = 0;
const REDIRECT = 1;
const FAILURE = 2;

type AbortWhy = 'cancel' | 'timeout' | 'signal';

function timedOut(x: Exchange<unknown>): void {
  x.abort('timeout');
}

/**
 * The first link of every getPage Deferred. A cancel() fails the Deferred at once (Twisted's rule), but if the request
 * was on a connection, the chain waits here until that connection has closed: whoever gave the request a slot (a
 * semaphore, parallel()) gets it back only once the socket is free, and cannot open one more meanwhile.
 */
function holdCancelUntilClosed(failure: Failure, x: Exchange<unknown>): Failure | Deferred<never> {
  if (!x.holdCancel) return failure;
  x.holdCancel = false;
  const held = new Deferred<never>();
  afterConnectionClosed(() => held.errback(failure));
  return held;
}

/** The body of a compressed response, as undici's decompression hands it on. */
class Decoded implements Dispatcher.DispatchHandler {
  readonly x: Exchange<unknown>;
  constructor(x: Exchange<unknown>) {
    this.x = x;
  }
  onRequestStart(): void {}
  onResponseStart(_c: Dispatcher.DispatchController, _status: number, headers: ResponseHeaders): void {
    // Without content-encoding and content-length, which describe the bytes as sent.
    this.x.responseHeaders = headers;
  }
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.x.bodyData(controller, chunk);
  }
  onResponseEnd(): void {
    this.x.bodyEnd();
  }
  onResponseError(_c: Dispatcher.DispatchController | null, error: Error): void {
    this.x.bodyError(error);
  }
}

/**
 * One getPage: its Deferred, its clock and signal, and the undici dispatch handler of each request it sends (the
 * first, then one per redirect, and at most one retry). It drives undici's dispatcher directly rather than through
 * undici's `request()`, which would build a Readable stream for every body: chunks are collected as they come,
 * counted against `maxBytes`, and the request is aborted (which closes its connection) as soon as the body is too
 * large, or the exchange is cancelled, timed out or aborted by its signal.
 *
 * Outcomes are delivered outside undici's callbacks and only once the connection can be lent again (see phases.ts),
 * so no callback of the caller ever runs inside undici's parser.
 */
export class Exchange<B> implements Dispatcher.DispatchHandler, BodyChunks, Hop {
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
  /** The stale-connection retry was spent (one per exchange). */
  retried = false;
  /** The outcome is decided (the page is here, or the exchange failed): nothing undici reports afterwards counts. */
  settled = false;
  /** The current request's outcome is known: later reports about it are ignored. */
  hopDone = false;
  /** A cancel() came while a request was on a connection: the Deferred's chain waits for it to close. */
  holdCancel = false;
  /** The current request's controller, once it started. */
  controller: Dispatcher.DispatchController | null = null;
  /** Takes the current request out of its dispatcher's queue, while it waits for a connection. */
  cancelQueued: ((reason: Error) => void) | null = null;
  timer: unknown = undefined;
  onAbort: (() => void) | undefined = undefined;
  // The current response.
  status = 0;
  responseHeaders: ResponseHeaders = {};
  mode = BODY;
  location = '';
  /** undici's decompression, for a body with a content-encoding it reads. */
  inflater: Dispatcher.DispatchHandler | null = null;
  chunks: Buffer[] = [];
  /** Bytes kept in `chunks`. */
  total = 0;
  /** Bytes of a redirect's or an error's body seen. */
  seen = 0;

  constructor(start: URL, s: Settings, finish: (r: RawResponse) => B) {
    this.d = new Deferred<B>(() => {
      this.holdCancel = this.controller !== null;
      this.abort('cancel');
    });
    this.d.addErrback(holdCancelUntilClosed, this);
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
    if (timeout > 0 && timeout !== Number.POSITIVE_INFINITY) {
      this.timer = systemClock.setTimeout(() => timedOut(this), timeout);
    }
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
    this.inflater = null;
    this.total = 0;
    this.seen = 0;
    if (this.chunks.length > 0) this.chunks = [];
    const { url, method } = this;
    if (method === 'CONNECT') {
      // undici's request() refuses CONNECT, which needs a handler for the tunnel; so does getPage.
      this.hopDone = true;
      this.failLater(
        new GetPageError(`Getting ${url.href} failed: CONNECT is not supported`, { url: url.href }),
      );
      return;
    }
    const opts: Dispatcher.DispatchOptions & Record<symbol, unknown> = {
      origin: url.origin,
      path: url.search === '' ? url.pathname : url.pathname + url.search,
      method,
      headers: this.headers,
      body: this.body ?? null,
    };
    const queuedAbort = queuedAbortKey();
    if (queuedAbort !== undefined)
      opts[queuedAbort] = (cancel: (reason: Error) => void) => this.queued(cancel);
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
    if (this.timer !== undefined) systemClock.clearTimeout(this.timer);
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
    const prefix = decodeBody(this, headers['content-type']);
    this.chunks = [];
    return new HttpError(this.status, headers, prefix, { url: this.url.href });
  }

  tooLarge(controller: Dispatcher.DispatchController): void {
    this.cutOff(controller);
    this.failLater(new ResponseTooLargeError(this.s.maxBytes, { url: this.url.href }));
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
        this.endAfterClose();
      }
    } else if (status > 299) {
      this.mode = FAILURE;
    } else if (headers['content-encoding'] !== undefined && this.method !== 'HEAD') {
      // undici's decompression takes over the body (and passes on what it cannot read as it came).
      const inflater = decompressing(new Decoded(this as Exchange<unknown>));
      this.inflater = inflater;
      inflater.onRequestStart?.(controller, null);
      inflater.onResponseStart?.(controller, status, headers, '');
    } else if (Number(headers['content-length']) > this.s.maxBytes) {
      this.tooLarge(controller);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.hopDone) return;
    if (this.inflater !== null) {
      this.inflater.onResponseData?.(controller, chunk);
      return;
    }
    if (this.mode === BODY) {
      this.bodyData(controller, chunk);
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
      if (this.mode === REDIRECT) this.endAfterClose();
      else this.failLater(this.httpError());
    }
  }

  /** A chunk of a 2xx body (decompressed, when it was compressed). */
  bodyData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.hopDone) return;
    const total = this.total + chunk.length;
    if (total > this.s.maxBytes) {
      this.tooLarge(controller);
      return;
    }
    this.total = total;
    this.chunks.push(chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: ResponseHeaders): void {
    if (this.hopDone) return;
    if (this.inflater !== null) {
      this.inflater.onResponseEnd?.(controller, trailers);
      return;
    }
    this.bodyEnd();
  }

  /** The response (decompressed, when it was compressed) ended. */
  bodyEnd(): void {
    if (this.hopDone) return;
    this.hopDone = true;
    // A redirect goes on; anything else is the outcome, and the clock stops.
    if (this.mode !== REDIRECT) this.conclude();
    endedLater(this);
  }

  onResponseError(controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.inflater !== null) {
      // Even after getPage cut the body off: the decompressor lets go of its zlib stream only when told.
      this.inflater.onResponseError?.(controller as Dispatcher.DispatchController, error);
      return;
    }
    this.bodyError(error);
  }

  bodyError(error: Error): void {
    if (this.hopDone) return;
    this.hopDone = true;
    if (this.status === 0) {
      if (this.shouldRetry(error)) {
        // The connection undici lends next is another one, or this one connected afresh once it has closed.
        this.retried = true;
        afterConnectionClosed(() => {
          if (!this.settled) this.send();
        });
        return;
      }
      this.failLater(classify(error, this.url));
    } else if (this.mode === REDIRECT) {
      // A redirect whose body broke off is still a redirect.
      this.endAfterClose();
    } else if (this.mode === FAILURE) {
      // So is an error whose body broke off: what arrived of it goes into the HttpError.
      this.failLater(this.httpError());
    } else {
      this.failLater(classify(error, this.url));
    }
  }

  /**
   * Whether to send the request again after `error` came before any byte of the response: once per exchange, for an
   * idempotent method, when the connection closed under a request sent on a kept-alive connection — the server closed
   * it as the request went out, as servers do with idle connections. Browsers retry these too.
   */
  shouldRetry(error: Error): boolean {
    return !this.retried && !this.settled && IDEMPOTENT.has(this.method) && closedBeforeResponse(error);
  }

  /**
   * For a redirect whose connection is closing (cut off, or broken off): the next request waits until that connection
   * has closed, or it would find it busy and open another.
   */
  endAfterClose(): void {
    afterConnectionClosed(() => this.afterEnd());
  }

  /** Runs in the check phase after the response ended (or, for a redirect, after its connection closed). */
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
    redirectHop(this, this.status, next, this.s);
    this.send();
  }
}
