import {
  type AlreadyCalledError,
  AsyncBatchingError,
  type BatchResultCountError,
  type CancelledError,
  type CircularChainError,
  type DeferredTimeoutError,
  type FailureGroup,
  type FirstError,
  type NotPaused,
  type QueueClosed,
  type QueueOverflow,
  type QueueUnderflow,
  type SchedulerStopped,
  type TaskDone,
  type TaskFailed,
  type TaskFinished,
  type TaskStopped,
  type TooManyReleasesError,
} from '../core/errors.js';
import type { DistributedJobError, RedisServerError } from './bullmq/errors.js';
import type {
  BadResponseError,
  ConnectionLostError,
  ConnectionRefusedError,
  DNSLookupError,
  GetPageError,
  HttpError,
  InvalidURLError,
  ResponseTooLargeError,
  TimeoutError,
  TooManyRedirectsError,
} from './get-page/errors.js';

/**
 * Every error class of the package as one union, so that `switch (error.code)` narrows to the class (as undici's
 * `types/errors.d.ts` allows): after `case 'AB_ERR_HTTP':` the error is an {@link HttpError} with its `status`. The
 * family roots appear with their own code only (`TaskFinished` as `AB_ERR_TASK_FINISHED`, `GetPageError` as
 * `AB_ERR_GET_PAGE`), since their subclasses are listed apart. {@link isAsyncBatchingError} gives this type.
 *
 * ```ts
 * if (isAsyncBatchingError(e)) {
 *   switch (e.code) {
 *     case 'AB_ERR_HTTP': console.log(e.status); break;
 *     case 'AB_ERR_TIMEOUT': console.log(e.timeout); break;
 *   }
 * }
 * ```
 */
export type AnyAsyncBatchingError =
  | (AsyncBatchingError & {
      /** The code of an error made with the root class itself. */
      readonly code: 'AB_ERR';
    })
  | AlreadyCalledError
  | CancelledError
  | CircularChainError
  | FirstError
  | DeferredTimeoutError
  | FailureGroup
  | TooManyReleasesError
  | QueueOverflow
  | QueueUnderflow
  | QueueClosed
  | (TaskFinished & {
      /** The code of a `TaskFinished` that is none of its subclasses. */
      readonly code: 'AB_ERR_TASK_FINISHED';
    })
  | TaskDone
  | TaskFailed
  | TaskStopped
  | SchedulerStopped
  | NotPaused
  | BatchResultCountError
  | (GetPageError & {
      /** The code of a `GetPageError` that is none of its subclasses. */
      readonly code: 'AB_ERR_GET_PAGE';
    })
  | HttpError
  | DNSLookupError
  | ConnectionRefusedError
  | ConnectionLostError
  | TimeoutError
  | ResponseTooLargeError
  | TooManyRedirectsError
  | InvalidURLError
  | BadResponseError
  | RedisServerError
  | DistributedJobError;

/** Whether `value` is one of the package's errors (from this copy of the package or another), typed for narrowing. */
export function isAsyncBatchingError(value: unknown): value is AnyAsyncBatchingError {
  return value instanceof AsyncBatchingError;
}
