import { CancelledError, Deferred } from '../../core/deferred.js';
import { Failure } from '../../core/failure.js';
import type { DeferredListEntry } from '../deferred-list.js';
import { checkArgs, type ParallelMapper, type ParallelOptions, type ParallelSkip } from './options.js';
import { keyedParallelFor, ratedMapper } from './polite-options.js';
import { Pool } from './pool.js';

/** The place of a skipped item in the entries until the end, when the entries are compacted. */
const SKIPPED = [true, undefined] as unknown as DeferredListEntry<never>;

/** {@link parallel}'s pool: every outcome kept by index, the returned Deferred fired at the end. @internal */
class ListPool<T, R> extends Pool<T, R> {
  readonly results: DeferredListEntry<R>[] = [];
  readonly deferred: Deferred<DeferredListEntry<R>[]>;
  skipped = 0;

  constructor(
    items: Iterable<T> | AsyncIterable<T>,
    concurrency: number,
    fn: ParallelMapper<unknown, R>,
    o: ParallelOptions,
  ) {
    super(items, concurrency, fn, o);
    this.deferred = new Deferred<DeferredListEntry<R>[]>(() => {
      this.abort(new Failure(new CancelledError()));
    });
  }

  canStart(): boolean {
    return true;
  }

  outcome(index: number, _item: T, ok: boolean, value: unknown): undefined {
    this.results[index] = ok ? [true, value as R] : [false, value as Failure];
    return undefined;
  }

  skip(index: number): void {
    this.results[index] = SKIPPED;
    this.skipped++;
  }

  end(failure: Failure | null): void {
    if (this.deferred.called) return;
    if (failure !== null) this.deferred.errback(failure);
    else if (this.skipped === 0) this.deferred.callback(this.results);
    else this.deferred.callback(this.results.filter((e) => e !== SKIPPED));
  }
}

/**
 * Calls `fn(item, index)` for every item with at most `concurrency` calls in flight, and fires with every outcome in
 * input order: `[true, value]` or `[false, failure]`, as a {@link DeferredList} does. Items are pulled lazily — the next
 * one only when a slot is free — so a generator of any length, or an async iterable, can feed it. An item that is a
 * Promise or Deferred is awaited in its slot first, and `fn` gets its value; a rejected or failed item is that item's
 * failure. A job whose result is {@link parallelSkip} has no entry.
 *
 * The entries are `DeferredListEntry` tuples, the same as `DeferredList`'s and Twisted's `(success, value)` pairs:
 * their position says which item they belong to, so they need no index nor item, and they stay small when every
 * outcome of a large batch is kept. {@link parallelStream}, whose outcomes come in completion order, carries both.
 *
 * It runs on a plain worker pool (`concurrency` workers pulling from one shared iterator), starting synchronously, unless
 * `options.cooperator` is given: then it runs as that many cooperative tasks sharing the iterator, in time slices.
 * `concurrency` may be `Infinity` (without a Cooperator): every item starts as soon as it is pulled.
 *
 * By default a failed job is one entry and the others go on, as in a `DeferredList`. With `options.stopOnError`, the
 * first failure stops pulling, closes the source, cancels the Deferreds in flight and errbacks with that failure.
 *
 * Aborting `options.signal`, or cancelling the returned Deferred, stops pulling, closes the source iterator, cancels
 * the Deferreds in flight and errbacks with {@link CancelledError}. If the source itself throws, the Deferreds in
 * flight are cancelled and the returned Deferred errbacks with that error. A canceller that throws is reported to the
 * unhandled-failure reporter ({@link setUnhandledFailureReporter}); the other Deferreds are still cancelled and the
 * returned Deferred still fires.
 *
 * The links it adds to a Deferred that `fn` returns (or to a Deferred item) pass the result through unchanged, so a
 * Deferred shared with other code, or cached, gives them the same result; a failure there counts as handled, as
 * `await` would count it.
 *
 * @throws {RangeError} when `concurrency` is not a whole number >= 1 or Infinity.
 * @throws {TypeError} when `items` is not iterable, `fn` not a function, or an option of the wrong type.
 */
export function parallel<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: ParallelMapper<Awaited<T>, R>,
  options: ParallelOptions = {},
): Deferred<DeferredListEntry<Exclude<Awaited<R>, ParallelSkip>>[]> {
  checkArgs(items, concurrency, fn, options);
  type V = Exclude<Awaited<R>, ParallelSkip>;
  const keyed = keyedParallelFor(items, concurrency, fn, options);
  if (keyed !== null) return keyed as Deferred<DeferredListEntry<V>[]>;
  const pool = new ListPool<T, V>(
    items,
    concurrency,
    ratedMapper(fn, options) as ParallelMapper<unknown, V>,
    options,
  );
  pool.begin();
  return pool.deferred;
}
