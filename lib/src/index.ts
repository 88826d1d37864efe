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
export {
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
} from './errors.js';
export { Failure } from './failure.js';
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
export { VERSION } from './version.js';
