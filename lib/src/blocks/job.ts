import { isThenable } from '../core/args.js';
import { Deferred, fail, maybeDeferred, succeed } from '../core/deferred.js';
import type { Failure } from '../core/failure.js';

/**
 * @internal Calls `fn(...args)` and makes `out` fire with its outcome (value, throw, Promise or Deferred), unless
 * `out` has fired already — cancelled while the job ran. Returns the Deferred of the job's outcome, so that a
 * canceller can cancel the work itself.
 */
export function runInto<R>(
  fn: (...args: never[]) => unknown,
  args: readonly unknown[],
  out: Deferred<R>,
): Deferred<unknown> {
  const inner = maybeDeferred(fn as (...a: unknown[]) => unknown, ...args);
  runIntoFrom(inner, out);
  return inner;
}

/** @internal Makes `out` fire with `inner`'s outcome unless it has fired already; `inner` continues with null. */
function runIntoFrom<R>(inner: Deferred<unknown>, out: Deferred<R>): void {
  inner.addCallbacks(
    (value: unknown) => {
      if (!out.called) out.callback(value as R);
      return undefined;
    },
    (failure: Failure) => {
      if (!out.called) out.errback(failure);
      return null;
    },
  );
}

/**
 * @internal Calls `fn(...args)` now and gives its outcome as a Deferred of the caller's own: for a Promise, the one
 * `Deferred.fromPromise` makes; for a returned Deferred, a new one that follows it (so two callers never share a
 * chain), whose cancelling cancels the job's.
 *
 * The arguments come spread, not as an array: a caller that forwards its own rest parameter (`startJob(fn, ...args)`)
 * then makes no array per job, as V8 passes forwarded arguments straight through (bench row `limiter`).
 */
export function startJob(fn: (...args: never[]) => unknown, ...args: unknown[]): Deferred<unknown> {
  let out: unknown;
  try {
    out = (fn as (...a: unknown[]) => unknown)(...args);
    if (out instanceof Deferred) {
      const inner = out;
      const relay = new Deferred<unknown>(() => inner.cancel());
      runIntoFrom(inner, relay);
      return relay;
    }
    // Inside the try: a `then` getter that throws, or a revoked Proxy, is the job's failure, never a throw from here.
    if (isThenable(out)) return Deferred.fromPromise(out);
  } catch (e) {
    return fail(e);
  }
  return succeed(out);
}
