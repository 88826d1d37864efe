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
} from './deferred.js';
export {
  DeferredList,
  type DeferredListEntry,
  type DeferredListOptions,
  FirstError,
  gatherResults,
} from './deferred-list.js';
export { Failure } from './failure.js';
