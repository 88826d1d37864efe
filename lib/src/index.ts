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
  AlreadyCalledError,
  CancelledError,
  Deferred,
  deferLater,
  fail,
  maybeDeferred,
  setUnhandledFailureReporter,
  succeed,
  type UnhandledFailureReporter,
} from './core/deferred.js';
export {
  AsyncBatchingError,
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
  TooManyReleasesError,
} from './core/errors.js';
export { Failure } from './core/failure.js';
export {
  DeferredList,
  type DeferredListEntry,
  type DeferredListOptions,
  FirstError,
  gatherResults,
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
  type PageResponse,
} from './get-page.js';
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
export { DeferredLock, DeferredSemaphore, type WaitingQueue } from './semaphore.js';
export {
  Timeline,
  type TimelineBar,
  type TimelineJobOptions,
  type TimelineOptions,
  type TimelineSVGOptions,
} from './timeline.js';
export { VERSION } from './version.js';
