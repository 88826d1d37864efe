export {
  type CooperativeIterator,
  CooperativeTask,
  Cooperator,
  type CooperatorOptions,
  coiterate,
  cooperate,
  defaultScheduler,
  defaultTerminationPredicateFactory,
  NotPaused,
  type ScheduledCall,
  type Scheduler,
  SchedulerStopped,
  TaskDone,
  TaskFailed,
  TaskFinished,
  TaskStopped,
  type TerminationPredicateFactory,
} from './blocks/cooperator.js';
export {
  DeferredQueue,
  type DeferredQueueOptions,
  QueueClosed,
  QueueOverflow,
  QueueUnderflow,
} from './blocks/queue.js';
export { RateLimiter, type RateLimiterOptions, type RateWindow } from './blocks/rate-limiter.js';
export { attemptsOf, type RetryEvent, type RetryOptions, retry } from './blocks/retry.js';
export {
  ConcurrencyPrimitive,
  DeferredLock,
  DeferredSemaphore,
  type DeferredSemaphoreOptions,
  type WaitingQueue,
} from './blocks/semaphore/index.js';
export { KeyedSemaphore } from './blocks/semaphore/keyed-semaphore.js';
export { type Batcher, type BatcherOptions, type BulkFunction, batcher } from './compositions/batcher.js';
export {
  DeferredList,
  type DeferredListEntry,
  type DeferredListOptions,
  FirstError,
  gatherResults,
  race,
} from './compositions/deferred-list.js';
export {
  inBatches,
  type ParallelMapper,
  type ParallelOptions,
  type ParallelOutcome,
  type ParallelSkip,
  type ParallelStreamOptions,
  parallel,
  parallelSkip,
  parallelStream,
} from './compositions/parallel/index.js';
export {
  DEFAULT_LOOK_AHEAD,
  type KeyedParallelOptions,
  type KeyedParallelStreamOptions,
  keyedParallel,
  keyedParallelStream,
} from './compositions/parallel/keyed.js';
export {
  Timeline,
  type TimelineBar,
  type TimelineJobOptions,
  type TimelineOptions,
  type TimelineSVGOptions,
} from './compositions/timeline.js';
export { type Clock, ManualClock, systemClock } from './core/clock.js';
export {
  type AddTimeoutOptions,
  AlreadyCalledError,
  CancelledError,
  Deferred,
  deferLater,
  ensureDeferred,
  fail,
  maybeDeferred,
  setUnhandledFailureReporter,
  succeed,
  type UnhandledFailureReporter,
} from './core/deferred.js';
export {
  type BatchMessage,
  type BullmqAddedMessage,
  type BullmqSettledMessage,
  CHANNEL_NAMES,
  type JobEndMessage,
  type JobQueuedMessage,
  type JobSource,
  type JobStartMessage,
  type RateWaitMessage,
  type RetryMessage,
} from './core/diagnostics.js';
export {
  AsyncBatchingError,
  type AsyncBatchingErrorCode,
  BatchResultCountError,
  CircularChainError,
  DeferredTimeoutError,
  FailureGroup,
  type GetPageErrorCode,
  type TaskFinishedCode,
  TooManyReleasesError,
} from './core/errors.js';
export { Failure } from './core/failure.js';
export { type AnyAsyncBatchingError, isAsyncBatchingError } from './io/errors.js';
export {
  BadResponseError,
  ConnectionLostError,
  ConnectionRefusedError,
  DNSLookupError,
  GetPageError,
  type GetPageErrorOptions,
  HttpError,
  InvalidURLError,
  type ResponseHeaders,
  ResponseTooLargeError,
  TimeoutError,
  TooManyRedirectsError,
} from './io/get-page/errors.js';
export {
  closeDefaultAgent,
  DEFAULT_CONNECTIONS,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_TIMEOUT,
  type GetPageOptions,
  getPage,
  getPageBytes,
  getResponse,
  type PageResponse,
  SAFE_CROSS_ORIGIN_HEADERS,
} from './io/get-page/index.js';
export {
  type HttpRetryOptions,
  IDEMPOTENT_METHODS,
  parseRetryAfter,
  RETRY_CODES,
  RETRY_STATUSES,
  retrying,
} from './io/get-page/retry-policy.js';
export { VERSION } from './io/version.js';
