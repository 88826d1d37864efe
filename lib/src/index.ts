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
} from './cooperator.js';
export {
  type AddTimeoutOptions,
  AlreadyCalledError,
  CancelledError,
  Deferred,
  deferLater,
  fail,
  maybeDeferred,
  setUnhandledFailureReporter,
  succeed,
  type TimeoutClock,
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
  BadResponseError,
  BatchResultCountError,
  ConnectionLostError,
  ConnectionRefusedError,
  DeferredTimeoutError,
  DNSLookupError,
  FailureGroup,
  GetPageError,
  type GetPageErrorOptions,
  HttpError,
  InvalidURLError,
  type ResponseHeaders,
  ResponseTooLargeError,
  TimeoutError,
  TooManyRedirectsError,
  TooManyReleasesError,
} from './core/errors.js';
export { Failure } from './core/failure.js';
export {
  DeferredList,
  type DeferredListEntry,
  type DeferredListOptions,
  FirstError,
  gatherResults,
  race,
} from './deferred-list.js';
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
  MAX_TIMEOUT,
  type PageResponse,
  SAFE_CROSS_ORIGIN_HEADERS,
} from './get-page/index.js';
export {
  type ParallelMapper,
  type ParallelOptions,
  type ParallelOutcome,
  type ParallelSkip,
  type ParallelStreamOptions,
  parallel,
  parallelSkip,
  parallelStream,
} from './parallel/index.js';
export { type Batcher, type BatcherOptions, type BulkFunction, batcher } from './polite/batcher.js';
export { type Clock, ManualClock, systemClock } from './polite/clock.js';
export {
  DEFAULT_LOOK_AHEAD,
  type KeyedParallelOptions,
  type KeyedParallelStreamOptions,
  keyedParallel,
  keyedParallelStream,
} from './polite/keyed-parallel.js';
export { KeyedSemaphore } from './polite/keyed-semaphore.js';
export { RateLimiter, type RateLimiterOptions, type RateWindow } from './polite/rate-limiter.js';
export {
  attemptsOf,
  type HttpRetryOptions,
  IDEMPOTENT_METHODS,
  parseRetryAfter,
  RETRY_CODES,
  RETRY_STATUSES,
  type RetryEvent,
  type RetryOptions,
  retry,
  retrying,
} from './polite/retry.js';
export {
  DeferredQueue,
  type DeferredQueueOptions,
  QueueClosed,
  QueueOverflow,
  QueueUnderflow,
} from './queue.js';
export {
  ConcurrencyPrimitive,
  DeferredLock,
  DeferredSemaphore,
  type DeferredSemaphoreOptions,
  type WaitingQueue,
} from './semaphore/index.js';
export {
  Timeline,
  type TimelineBar,
  type TimelineJobOptions,
  type TimelineOptions,
  type TimelineSVGOptions,
} from './timeline.js';
export { VERSION } from './version.js';
