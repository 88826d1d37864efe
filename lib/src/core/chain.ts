/**
 * The chain's internal API: what the rest of this package (DeferredList, the semaphore's tickets, pools) may do to a
 * Deferred beyond its public methods. A Deferred's fields, its link markers and its flags are private to `core/`;
 * outside it, only these functions touch them. None of them is exported from the package.
 *
 * - {@link settledValue}`(d)`: the result of a Deferred that has succeeded and has nothing left to run (no link
 *   pending, not paused, no callback running), or {@link UNSETTLED}; also UNSETTLED for a result a link would pause
 *   on (a Deferred or thenable) or cannot inspect. Reading it is what a pass-through callback would see, without
 *   adding a link.
 * - {@link listenIndexed}`(d, listener, index)`: adds one link that calls `listener._onIndexed(result, index,
 *   failed)`; what that returns (or throws) becomes `d`'s result, as for a callback. No closure nor array per link.
 * - {@link settle}`(d, outcome)`: fires `d` with `outcome`, a result or a {@link Failure} (which takes the errback
 *   path), running its chain now; as `callback()`/`errback()`, but without the check that refuses a thenable result
 *   and without wrapping. Throws AlreadyCalledError as they do.
 * - {@link settleNext}`(d, outcome)`: the same, for an {@link IndexedListener} to call from `_onIndexed`: `d`'s chain
 *   then runs right after the listener returns, on the loop that called it, instead of inside the listener. That keeps
 *   a DeferredList nested in a DeferredList (to any depth) off the call stack. Anywhere else it is {@link settle}.
 *   A listener that calls it must do nothing after it that relies on `d`'s callbacks having run.
 * - {@link reportUnhandled}`(failure)`: hands a failure to the unhandled-failure reporter, as if a chain had dropped
 *   it (for errors that have nowhere else to go, such as a canceller that throws).
 */
export {
  type IndexedListener,
  listenIndexed,
  reportUnhandled,
  settle,
  settledValue,
  settleNext,
  UNSETTLED,
} from './deferred.js';
