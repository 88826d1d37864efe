import { STATUS_CODES } from 'node:http';
import type { Failure } from './failure.js';

/**
 * Every error class this package throws or fails with, in one module, under one root: `catch (e) { if (e instanceof
 * AsyncBatchingError) ... }` catches all of ours. Each class has a `name` and a stable `code` of this package's own
 * (`AB_ERR_*`: never one of Node's `ERR_*` codes, so a code tells whose error it is). Twisted's names are kept.
 */

/** The root of every error this package defines. `code` is stable across versions; match on it, not on messages. */
export class AsyncBatchingError extends Error {
  /** A stable identifier of the kind of error, `AB_ERR_*`. */
  readonly code: string;
  /** When `retry()` gave up with this error: how many attempts were made in all. */
  attempts?: number;

  constructor(message: string, code = 'AB_ERR', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AsyncBatchingError';
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The chain (Deferred, DeferredList)

/** Thrown by `callback()`/`errback()` on a Deferred that has already fired (Twisted's `AlreadyCalledError`). */
export class AlreadyCalledError extends AsyncBatchingError {
  constructor(message = 'This Deferred has already been fired') {
    super(message, 'AB_ERR_ALREADY_CALLED');
    this.name = 'AlreadyCalledError';
  }
}

/**
 * The failure of a chain whose callback returned the very Deferred it was added to, which would wait on itself forever
 * (Twisted's circular-chain check: "Callback returned the Deferred it was attached to").
 */
export class CircularChainError extends AsyncBatchingError {
  constructor(message = 'Callback returned the Deferred it was attached to: a chain cannot wait on itself') {
    super(message, 'AB_ERR_CIRCULAR_CHAIN');
    this.name = 'CircularChainError';
  }
}

/** The failure a Deferred fires with when it is cancelled before it had a result (Twisted's `CancelledError`). */
export class CancelledError extends AsyncBatchingError {
  constructor(message = 'The Deferred was cancelled', options?: { cause?: unknown }) {
    super(message, 'AB_ERR_CANCELLED', options);
    this.name = 'CancelledError';
  }
}

/** The failure of a {@link DeferredList} with `fireOnOneErrback`, or of `gatherResults`: which input failed first. */
export class FirstError extends AsyncBatchingError {
  /** The failure of the input that failed first. */
  readonly subFailure: Failure;
  /** That input's position in the list. */
  readonly index: number;

  constructor(subFailure: Failure, index: number) {
    super(`FirstError[#${index}, ${subFailure.toString()}]`, 'AB_ERR_FIRST_ERROR', {
      cause: subFailure.value,
    });
    this.name = 'FirstError';
    this.subFailure = subFailure;
    this.index = index;
  }
}

/**
 * The failure a Deferred given `addTimeout(ms)` fires with when the time ran out and cancelling it produced a
 * CancelledError (Twisted's `defer.TimeoutError` from `addTimeout`). Distinct from getPage's {@link TimeoutError}.
 */
export class DeferredTimeoutError extends AsyncBatchingError {
  /** The limit that was passed to `addTimeout`, in milliseconds. */
  readonly timeout: number;

  constructor(timeout: number, options?: { cause?: unknown }) {
    super(`The Deferred timed out after ${timeout} ms`, 'AB_ERR_DEFERRED_TIMEOUT', options);
    this.name = 'DeferredTimeoutError';
    this.timeout = timeout;
  }
}

/** The failure of `race()` when every input failed (Twisted's `FailureGroup`): their failures, in input order. */
export class FailureGroup extends AsyncBatchingError {
  /** Each input's failure, in input order. */
  readonly failures: readonly Failure[];

  constructor(failures: readonly Failure[]) {
    super(`Every one of the ${failures.length} raced Deferreds failed`, 'AB_ERR_FAILURE_GROUP');
    this.name = 'FailureGroup';
    this.failures = failures;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Semaphore and lock

/** `release()` was called when no token (or lock) was held. */
export class TooManyReleasesError extends AsyncBatchingError {
  constructor(message = 'release() was called more times than acquire(): no token is held') {
    super(message, 'AB_ERR_TOO_MANY_RELEASES');
    this.name = 'TooManyReleasesError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// DeferredQueue

/** `put()` on a `DeferredQueue` that already holds `size` items and has no waiting `get()` (Twisted's name). */
export class QueueOverflow extends AsyncBatchingError {
  /** The queue's `size` limit. */
  readonly size: number;

  constructor(size: number) {
    super(`put() would hold more than the queue's size of ${size} items`, 'AB_ERR_QUEUE_OVERFLOW');
    this.name = 'QueueOverflow';
    this.size = size;
  }
}

/** `get()` on an empty `DeferredQueue` that already has `backlog` gets waiting (Twisted's name). */
export class QueueUnderflow extends AsyncBatchingError {
  /** The queue's `backlog` limit. */
  readonly backlog: number;

  constructor(backlog: number) {
    super(
      `get() would have more than the queue's backlog of ${backlog} gets waiting`,
      'AB_ERR_QUEUE_UNDERFLOW',
    );
    this.name = 'QueueUnderflow';
    this.backlog = backlog;
  }
}

/** `put()` on a closed `DeferredQueue`, or a `get()` that can never be served because the queue closed empty. */
export class QueueClosed extends AsyncBatchingError {
  constructor(message = 'The queue is closed') {
    super(message, 'AB_ERR_QUEUE_CLOSED');
    this.name = 'QueueClosed';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cooperator

/** The base class of the reasons a `CooperativeTask` ended, as Twisted's `TaskFinished`. */
export class TaskFinished extends AsyncBatchingError {
  constructor(message = 'The task has already finished', code = 'AB_ERR_TASK_FINISHED') {
    super(message, code);
    this.name = 'TaskFinished';
  }
}

/** The task ran its iterator to the end. Thrown by `pause()`/`stop()` on such a task. */
export class TaskDone extends TaskFinished {
  constructor(message = 'The task has already completed') {
    super(message, 'AB_ERR_TASK_DONE');
    this.name = 'TaskDone';
  }
}

/** The task's iterator threw, or a Deferred or Promise it yielded failed. Thrown by `pause()`/`stop()` on it. */
export class TaskFailed extends TaskFinished {
  constructor(message = 'The task has already failed') {
    super(message, 'AB_ERR_TASK_FAILED');
    this.name = 'TaskFailed';
  }
}

/** The task was stopped with `stop()`: its `whenDone()` Deferreds errback with this. */
export class TaskStopped extends TaskFinished {
  constructor(message = 'The task was stopped') {
    super(message, 'AB_ERR_TASK_STOPPED');
    this.name = 'TaskStopped';
  }
}

/** The task's Cooperator was stopped: its `whenDone()` Deferreds errback with this. */
export class SchedulerStopped extends AsyncBatchingError {
  constructor(message = 'The Cooperator was stopped') {
    super(message, 'AB_ERR_SCHEDULER_STOPPED');
    this.name = 'SchedulerStopped';
  }
}

/** `resume()` was called more times than `pause()`. */
export class NotPaused extends AsyncBatchingError {
  constructor(message = 'resume() was called on a task that is not paused') {
    super(message, 'AB_ERR_NOT_PAUSED');
    this.name = 'NotPaused';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// getPage

/** What every {@link GetPageError} is built from: the URL it concerns and, where there is one, the underlying error. */
export interface GetPageErrorOptions {
  /** The URL that was being fetched when the failure happened (after redirects, the redirect target). */
  url: string;
  /** The error underneath (from undici, the socket or the resolver), when there is one. */
  cause?: unknown;
}

/**
 * The base class of every failure `getPage` delivers. Each subclass has its own `name` and a stable `code`; a
 * failure that fits none of them arrives as a plain `GetPageError` with code `AB_ERR_GET_PAGE` and the original in
 * `cause`.
 */
export class GetPageError extends AsyncBatchingError {
  /** The URL that was being fetched when the failure happened. */
  readonly url: string;

  constructor(message: string, options: GetPageErrorOptions, code = 'AB_ERR_GET_PAGE') {
    super(message, code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GetPageError';
    this.url = options.url;
  }
}

/** Headers as undici reports them: lower-case names, repeated headers as arrays. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** The reason phrase HTTP/1.1 uses for `status` (`Not Found` for 404), or `Unknown Status`. */
export function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Unknown Status';
}

/**
 * The server answered with an error status (400 and up), or with a 3xx that was not followed (redirects switched off,
 * or no usable `Location`). Like Twisted's `twisted.web.error.Error`, its message is the status line: `404 Not Found`.
 */
export class HttpError extends GetPageError {
  /** The HTTP status code. */
  readonly status: number;
  /** The standard reason phrase for `status`. */
  readonly statusText: string;
  /** The response headers. */
  readonly headers: ResponseHeaders;
  /** The first KiB of the response body, decoded as text (it may end in the middle of a character). */
  readonly body: string;

  constructor(status: number, headers: ResponseHeaders, body: string, options: GetPageErrorOptions) {
    const text = statusText(status);
    super(`${status} ${text}`, options, 'AB_ERR_HTTP');
    this.name = 'HttpError';
    this.status = status;
    this.statusText = text;
    this.headers = headers;
    this.body = body;
  }
}

/** The host name could not be resolved (`ENOTFOUND`, `EAI_AGAIN`): `DNS lookup failed: address 'x.invalid' not found`. */
export class DNSLookupError extends GetPageError {
  /** The host name that did not resolve. */
  readonly hostname: string;

  constructor(hostname: string, options: GetPageErrorOptions) {
    super(`DNS lookup failed: address '${hostname}' not found`, options, 'AB_ERR_DNS_LOOKUP');
    this.name = 'DNSLookupError';
    this.hostname = hostname;
  }
}

/** Nobody listens at the address (`ECONNREFUSED`). */
export class ConnectionRefusedError extends GetPageError {
  constructor(options: GetPageErrorOptions) {
    super('Connection was refused by other side', options, 'AB_ERR_CONNECTION_REFUSED');
    this.name = 'ConnectionRefusedError';
  }
}

/** The connection was reset or closed before the response was complete (`ECONNRESET`, a socket closed mid-body). */
export class ConnectionLostError extends GetPageError {
  constructor(options: GetPageErrorOptions) {
    super('Connection to the other side was lost in a non-clean fashion', options, 'AB_ERR_CONNECTION_LOST');
    this.name = 'ConnectionLostError';
  }
}

/** The exchange took longer than the `timeout` option allows (undici's header and body timeouts arrive here too). */
export class TimeoutError extends GetPageError {
  /** The limit that was passed, in milliseconds, when known. */
  readonly timeout: number | undefined;

  constructor(timeout: number | undefined, options: GetPageErrorOptions) {
    super(
      timeout === undefined
        ? 'User timeout caused connection failure'
        : `User timeout caused connection failure: no complete response within ${timeout} ms`,
      options,
      'AB_ERR_TIMEOUT',
    );
    this.name = 'TimeoutError';
    this.timeout = timeout;
  }
}

/** The body is larger than the `maxBytes` option allows; the transfer was cut off. */
export class ResponseTooLargeError extends GetPageError {
  /** The limit, in bytes. */
  readonly maxBytes: number;

  constructor(maxBytes: number, options: GetPageErrorOptions) {
    super(
      `Response body is larger than the limit of ${maxBytes} bytes`,
      options,
      'AB_ERR_RESPONSE_TOO_LARGE',
    );
    this.name = 'ResponseTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/** A redirect chain went past the `maxRedirects` option. */
export class TooManyRedirectsError extends GetPageError {
  /** The limit that was exceeded. */
  readonly maxRedirects: number;

  constructor(maxRedirects: number, options: GetPageErrorOptions) {
    super(`Too many redirects: more than ${maxRedirects}`, options, 'AB_ERR_TOO_MANY_REDIRECTS');
    this.name = 'TooManyRedirectsError';
    this.maxRedirects = maxRedirects;
  }
}

/** The URL (given, or from a redirect's `Location`) does not parse, or its scheme is not `http:` or `https:`. */
export class InvalidURLError extends GetPageError {
  constructor(reason: string, options: GetPageErrorOptions) {
    super(`Invalid URL ${JSON.stringify(options.url)}: ${reason}`, options, 'AB_ERR_INVALID_URL');
    this.name = 'InvalidURLError';
  }
}

/**
 * The response is not valid HTTP, or not what it says it is: a malformed status line, header or chunk (undici's
 * `HTTPParserError`), headers larger than undici accepts, or a compressed body that does not decompress.
 */
export class BadResponseError extends GetPageError {
  constructor(options: GetPageErrorOptions) {
    super('The response was not valid HTTP', options, 'AB_ERR_BAD_RESPONSE');
    this.name = 'BadResponseError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Across machines (async-batching/bullmq)

/** `redis-server` could not be started, or did not answer in time. */
export class RedisServerError extends AsyncBatchingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'AB_ERR_REDIS_SERVER', options);
    this.name = 'RedisServerError';
  }
}

/**
 * A job of a distributed batch failed on a worker. A worker sends back only the error's message (BullMQ's
 * `failedReason`), so this carries it, with the job's id and how many attempts were made.
 */
export class DistributedJobError extends AsyncBatchingError {
  /** The BullMQ job id. */
  readonly jobId: string;
  /** The attempts made, retries included. */
  readonly attemptsMade: number;

  constructor(reason: string, jobId: string, attemptsMade: number) {
    super(reason, 'AB_ERR_DISTRIBUTED_JOB');
    this.name = 'DistributedJobError';
    this.jobId = jobId;
    this.attemptsMade = attemptsMade;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Polite batching (batcher)

/** A batcher's bulk function answered with a different number of results than it was given keys. */
export class BatchResultCountError extends AsyncBatchingError {
  /** How many keys the bulk call was given. */
  readonly expected: number;
  /** How many results it answered with (or -1 when the answer was not an array). */
  readonly received: number;

  constructor(expected: number, received: number) {
    super(
      received < 0
        ? `Expected the bulk function to answer with an array of ${expected} results, got something that is not an array`
        : `Expected the bulk function to answer with ${expected} result${expected === 1 ? '' : 's'}, one per key in order, got ${received}`,
      'AB_ERR_BATCH_RESULT_COUNT',
    );
    this.name = 'BatchResultCountError';
    this.expected = expected;
    this.received = received;
  }
}
