import type { Failure } from './failure.js';

/**
 * The root of every error this package throws or fails with, and the errors of the layers below I/O (the getPage
 * errors are in `io/get-page/errors.ts`, the BullMQ ones in `io/bullmq/errors.ts`): `catch (e) { if (e instanceof
 * AsyncBatchingError) ... }` catches all of ours. Each class has a `name` and its own literal `code` (`AB_ERR_*`: never
 * one of Node's `ERR_*` codes, so a code tells whose error it is); Twisted's names are kept.
 *
 * As undici's errors do, each class carries a `Symbol.for('async-batching.error.<code>')` brand on its prototype and
 * answers `instanceof` by it, so two installed copies of the package (two versions in one tree, or a bundle and a
 * dependency) agree that a `CancelledError` from one is a `CancelledError` of the other.
 */

/** Where a class keeps its brand (an own static property, so a subclass without a brand of its own has none). */
const BRAND: unique symbol = Symbol('brand');

/** @internal Gives `cls` the brand of `code`: instances (of it and of its subclasses) carry it, and `instanceof` reads it. */
export function brand(cls: abstract new (...args: never[]) => Error, code: string): void {
  const symbol = Symbol.for(`async-batching.error.${code}`);
  Object.defineProperty(cls, BRAND, { value: symbol });
  Object.defineProperty(cls.prototype, symbol, { value: true });
}

/** The code of every error class of the package. */
export type AsyncBatchingErrorCode =
  | 'AB_ERR'
  | 'AB_ERR_ALREADY_CALLED'
  | 'AB_ERR_CANCELLED'
  | 'AB_ERR_CIRCULAR_CHAIN'
  | 'AB_ERR_FIRST_ERROR'
  | 'AB_ERR_DEFERRED_TIMEOUT'
  | 'AB_ERR_FAILURE_GROUP'
  | 'AB_ERR_TOO_MANY_RELEASES'
  | 'AB_ERR_QUEUE_OVERFLOW'
  | 'AB_ERR_QUEUE_UNDERFLOW'
  | 'AB_ERR_QUEUE_CLOSED'
  | TaskFinishedCode
  | 'AB_ERR_SCHEDULER_STOPPED'
  | 'AB_ERR_NOT_PAUSED'
  | 'AB_ERR_BATCH_RESULT_COUNT'
  | GetPageErrorCode
  | 'AB_ERR_REDIS_SERVER'
  | 'AB_ERR_DISTRIBUTED_JOB';

/** The codes of {@link TaskFinished} and its subclasses. */
export type TaskFinishedCode =
  | 'AB_ERR_TASK_FINISHED'
  | 'AB_ERR_TASK_DONE'
  | 'AB_ERR_TASK_FAILED'
  | 'AB_ERR_TASK_STOPPED';

/** The codes of `GetPageError` and its subclasses. */
export type GetPageErrorCode =
  | 'AB_ERR_GET_PAGE'
  | 'AB_ERR_HTTP'
  | 'AB_ERR_DNS_LOOKUP'
  | 'AB_ERR_CONNECTION_REFUSED'
  | 'AB_ERR_CONNECTION_LOST'
  | 'AB_ERR_TIMEOUT'
  | 'AB_ERR_RESPONSE_TOO_LARGE'
  | 'AB_ERR_TOO_MANY_REDIRECTS'
  | 'AB_ERR_INVALID_URL'
  | 'AB_ERR_BAD_RESPONSE';

/**
 * The root of every error this package defines. `code` is stable across versions; match on it, not on messages (to
 * narrow on it, use the union type `AnyAsyncBatchingError`).
 */
export class AsyncBatchingError extends Error {
  /** A stable identifier of the kind of error, `AB_ERR_*`; each subclass has its own. */
  readonly code: AsyncBatchingErrorCode = 'AB_ERR';

  static {
    brand(AsyncBatchingError, 'AB_ERR');
  }

  /**
   * `value instanceof C`, for this class and each subclass: whether `value` carries C's brand, whichever copy of the
   * package made it. A subclass of yours without a brand gets the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: instanceof asks the class on its right, often a subclass.
    const own = Object.getOwnPropertyDescriptor(this, BRAND)?.value as symbol | undefined;
    // biome-ignore lint/complexity/noThisInStatic: a class of the user's, without a brand: the ordinary check.
    if (own === undefined) return Function.prototype[Symbol.hasInstance].call(this, value);
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
    return (value as Record<symbol, unknown>)[own] === true;
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AsyncBatchingError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The chain (Deferred, DeferredList)

/** Thrown by `callback()`/`errback()` on a Deferred that has already fired (Twisted's `AlreadyCalledError`). */
export class AlreadyCalledError extends AsyncBatchingError {
  override readonly code = 'AB_ERR_ALREADY_CALLED' as const;

  static {
    brand(AlreadyCalledError, 'AB_ERR_ALREADY_CALLED');
  }

  constructor(message = 'This Deferred has already been fired') {
    super(message);
    this.name = 'AlreadyCalledError';
  }
}

/**
 * The failure of a chain whose callback returned the very Deferred it was added to, which would wait on itself forever
 * (Twisted's circular-chain check: "Callback returned the Deferred it was attached to").
 */
export class CircularChainError extends AsyncBatchingError {
  override readonly code = 'AB_ERR_CIRCULAR_CHAIN' as const;

  static {
    brand(CircularChainError, 'AB_ERR_CIRCULAR_CHAIN');
  }

  constructor(message = 'Callback returned the Deferred it was attached to: a chain cannot wait on itself') {
    super(message);
    this.name = 'CircularChainError';
  }
}

/** The failure a Deferred fires with when it is cancelled before it had a result (Twisted's `CancelledError`). */
export class CancelledError extends AsyncBatchingError {
  override readonly code = 'AB_ERR_CANCELLED' as const;

  static {
    brand(CancelledError, 'AB_ERR_CANCELLED');
  }

  constructor(message = 'The Deferred was cancelled', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CancelledError';
  }
}

/** The failure of a {@link DeferredList} with `fireOnOneErrback`, or of `gatherResults`: which input failed first. */
export class FirstError extends AsyncBatchingError {
  override readonly code = 'AB_ERR_FIRST_ERROR' as const;

  static {
    brand(FirstError, 'AB_ERR_FIRST_ERROR');
  }

  /** The failure of the input that failed first. */
  readonly subFailure: Failure;
  /** That input's position in the list. */
  readonly index: number;

  constructor(subFailure: Failure, index: number) {
    super(`FirstError[#${index}, ${subFailure.toString()}]`, {
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
  override readonly code = 'AB_ERR_DEFERRED_TIMEOUT' as const;

  static {
    brand(DeferredTimeoutError, 'AB_ERR_DEFERRED_TIMEOUT');
  }

  /** The limit that was passed to `addTimeout`, in milliseconds. */
  readonly timeout: number;

  constructor(timeout: number, options?: { cause?: unknown }) {
    super(`The Deferred timed out after ${timeout} ms`, options);
    this.name = 'DeferredTimeoutError';
    this.timeout = timeout;
  }
}

/** The failure of `race()` when every input failed (Twisted's `FailureGroup`): their failures, in input order. */
export class FailureGroup extends AsyncBatchingError {
  override readonly code = 'AB_ERR_FAILURE_GROUP' as const;

  static {
    brand(FailureGroup, 'AB_ERR_FAILURE_GROUP');
  }

  /** Each input's failure, in input order. */
  readonly failures: readonly Failure[];

  constructor(failures: readonly Failure[]) {
    super(`Every one of the ${failures.length} raced Deferreds failed`);
    this.name = 'FailureGroup';
    this.failures = failures;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Semaphore and lock

/** `release()` was called when no token (or lock) was held. */
export class TooManyReleasesError extends AsyncBatchingError {
  override readonly code = 'AB_ERR_TOO_MANY_RELEASES' as const;

  static {
    brand(TooManyReleasesError, 'AB_ERR_TOO_MANY_RELEASES');
  }

  constructor(message = 'release() was called more times than acquire(): no token is held') {
    super(message);
    this.name = 'TooManyReleasesError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// DeferredQueue

/** `put()` on a `DeferredQueue` that already holds `size` items and has no waiting `get()` (Twisted's name). */
export class QueueOverflow extends AsyncBatchingError {
  override readonly code = 'AB_ERR_QUEUE_OVERFLOW' as const;

  static {
    brand(QueueOverflow, 'AB_ERR_QUEUE_OVERFLOW');
  }

  /** The queue's `size` limit. */
  readonly size: number;

  constructor(size: number) {
    super(`put() would hold more than the queue's size of ${size} items`);
    this.name = 'QueueOverflow';
    this.size = size;
  }
}

/** `get()` on an empty `DeferredQueue` that already has `backlog` gets waiting (Twisted's name). */
export class QueueUnderflow extends AsyncBatchingError {
  override readonly code = 'AB_ERR_QUEUE_UNDERFLOW' as const;

  static {
    brand(QueueUnderflow, 'AB_ERR_QUEUE_UNDERFLOW');
  }

  /** The queue's `backlog` limit. */
  readonly backlog: number;

  constructor(backlog: number) {
    super(`get() would have more than the queue's backlog of ${backlog} gets waiting`);
    this.name = 'QueueUnderflow';
    this.backlog = backlog;
  }
}

/** `put()` on a closed `DeferredQueue`, or a `get()` that can never be served because the queue closed empty. */
export class QueueClosed extends AsyncBatchingError {
  override readonly code = 'AB_ERR_QUEUE_CLOSED' as const;

  static {
    brand(QueueClosed, 'AB_ERR_QUEUE_CLOSED');
  }

  constructor(message = 'The queue is closed') {
    super(message);
    this.name = 'QueueClosed';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cooperator

/** The base class of the reasons a `CooperativeTask` ended, as Twisted's `TaskFinished`. */
export class TaskFinished extends AsyncBatchingError {
  override readonly code: TaskFinishedCode = 'AB_ERR_TASK_FINISHED';

  static {
    brand(TaskFinished, 'AB_ERR_TASK_FINISHED');
  }

  constructor(message = 'The task has already finished') {
    super(message);
    this.name = 'TaskFinished';
  }
}

/** The task ran its iterator to the end. Thrown by `pause()`/`stop()` on such a task. */
export class TaskDone extends TaskFinished {
  override readonly code = 'AB_ERR_TASK_DONE' as const;

  static {
    brand(TaskDone, 'AB_ERR_TASK_DONE');
  }

  constructor(message = 'The task has already completed') {
    super(message);
    this.name = 'TaskDone';
  }
}

/** The task's iterator threw, or a Deferred or Promise it yielded failed. Thrown by `pause()`/`stop()` on it. */
export class TaskFailed extends TaskFinished {
  override readonly code = 'AB_ERR_TASK_FAILED' as const;

  static {
    brand(TaskFailed, 'AB_ERR_TASK_FAILED');
  }

  constructor(message = 'The task has already failed') {
    super(message);
    this.name = 'TaskFailed';
  }
}

/** The task was stopped with `stop()`: its `whenDone()` Deferreds errback with this. */
export class TaskStopped extends TaskFinished {
  override readonly code = 'AB_ERR_TASK_STOPPED' as const;

  static {
    brand(TaskStopped, 'AB_ERR_TASK_STOPPED');
  }

  constructor(message = 'The task was stopped') {
    super(message);
    this.name = 'TaskStopped';
  }
}

/** The task's Cooperator was stopped: its `whenDone()` Deferreds errback with this. */
export class SchedulerStopped extends AsyncBatchingError {
  override readonly code = 'AB_ERR_SCHEDULER_STOPPED' as const;

  static {
    brand(SchedulerStopped, 'AB_ERR_SCHEDULER_STOPPED');
  }

  constructor(message = 'The Cooperator was stopped') {
    super(message);
    this.name = 'SchedulerStopped';
  }
}

/** `resume()` was called more times than `pause()`. */
export class NotPaused extends AsyncBatchingError {
  override readonly code = 'AB_ERR_NOT_PAUSED' as const;

  static {
    brand(NotPaused, 'AB_ERR_NOT_PAUSED');
  }

  constructor(message = 'resume() was called on a task that is not paused') {
    super(message);
    this.name = 'NotPaused';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Polite batching (batcher)

/** A batcher's bulk function answered with a different number of results than it was given keys. */
export class BatchResultCountError extends AsyncBatchingError {
  override readonly code = 'AB_ERR_BATCH_RESULT_COUNT' as const;

  static {
    brand(BatchResultCountError, 'AB_ERR_BATCH_RESULT_COUNT');
  }

  /** How many keys the bulk call was given. */
  readonly expected: number;
  /** How many results it answered with (or -1 when the answer was not an array). */
  readonly received: number;

  constructor(expected: number, received: number) {
    super(
      received < 0
        ? `Expected the bulk function to answer with an array of ${expected} results, got something that is not an array`
        : `Expected the bulk function to answer with ${expected} result${expected === 1 ? '' : 's'}, one per key in order, got ${received}`,
    );
    this.name = 'BatchResultCountError';
    this.expected = expected;
    this.received = received;
  }
}
