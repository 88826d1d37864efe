import { TooManyReleasesError } from '../core/errors.js';
import { ConcurrencyPrimitive } from './primitive.js';

export { ConcurrencyPrimitive, type WaitingQueue } from './primitive.js';

function checkTokens(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`Expected \`${name}\` to be a whole number >= 1, got ${String(value)}`);
  }
  return value;
}

/**
 * A semaphore whose `acquire()` returns a {@link Deferred} — Twisted's `DeferredSemaphore`: at most {@link limit}
 * holders at once, the others wait in a first-in first-out queue. See {@link ConcurrencyPrimitive} for `acquire()`,
 * `release()`, `run()`, cancellation and `using`.
 *
 * Beyond Twisted, {@link limit} can be changed while jobs run, and {@link held} counts the tokens held.
 */
export class DeferredSemaphore extends ConcurrencyPrimitive {
  /** @param tokens how many holders may hold the semaphore at once: a whole number >= 1. */
  constructor(tokens: number) {
    super(checkTokens(tokens, 'tokens'));
  }

  /**
   * How many holders are allowed at once. Setting it (a whole number >= 1) takes effect at once: raising it starts
   * waiters, lowering it lets current holders finish and starts nobody new until fewer than the new limit hold a token.
   */
  override get limit(): number {
    return this._limit;
  }

  override set limit(value: number) {
    this._limit = checkTokens(value, 'limit');
    this._drain();
  }
}

/**
 * A mutual-exclusion lock whose `acquire()` returns a {@link Deferred} — Twisted's `DeferredLock`: one holder at a
 * time, with the same `acquire()`, `release()`, `run()`, cancellation, first-in first-out order and `using` as a
 * {@link DeferredSemaphore}.
 *
 * It is not a subclass of DeferredSemaphore (nor is it in Twisted): a semaphore promises a settable `limit`, which a
 * lock cannot honour, so a lock could not stand wherever a semaphore is expected. Both are
 * {@link ConcurrencyPrimitive}s: type a parameter with that to accept either.
 */
export class DeferredLock extends ConcurrencyPrimitive {
  constructor() {
    super(1);
  }

  /** True while someone holds the lock. */
  get locked(): boolean {
    return this._acquired + this._running > 0;
  }

  /**
   * Unlocks a lock taken with `acquire()`, handing it to the oldest waiter if there is one.
   * @throws {TooManyReleasesError} when the lock is not held through `acquire()`.
   */
  override release(): void {
    if (this._acquired === 0) {
      throw new TooManyReleasesError(
        this._running === 0
          ? 'release() was called on a DeferredLock that is not locked'
          : 'release() was called on a DeferredLock locked by a run() job, which unlocks it when its result fires',
      );
    }
    super.release();
  }
}
