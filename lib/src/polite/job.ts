import { type Deferred, maybeDeferred } from '../core/deferred.js';
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
  return inner;
}
