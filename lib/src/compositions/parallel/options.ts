import { Cooperator } from '../../blocks/cooperator.js';
import type { RateLimiter } from '../../blocks/rate-limiter.js';
import {
  checkFn,
  checkIterable,
  checkObject,
  checkOptionalBoolean,
  checkSignal,
  checkWhole,
  describe,
} from '../../core/args.js';
import type { Failure } from '../../core/failure.js';

/**
 * What a mapper returns to drop its item's result, as p-map's `pMapSkip`: {@link parallel} leaves the item out of its
 * entries (the others keep their input order) and {@link parallelStream} yields nothing for it. Returned directly, or
 * as the value of the Promise or Deferred the mapper returns.
 *
 * ```ts
 * const pages = await parallel(urls, 10, (url) => (seen.has(url) ? parallelSkip : getPage(url)));
 * ```
 */
export const parallelSkip: unique symbol = Symbol('parallelSkip');

/** The type of {@link parallelSkip}. */
export type ParallelSkip = typeof parallelSkip;

/**
 * What {@link parallel} and {@link parallelStream} call for each item (once the item itself has settled, when it is a
 * Promise or Deferred): its result may be a value, Promise or Deferred, or {@link parallelSkip}.
 */
export type ParallelMapper<T, R> = (
  item: T,
  index: number,
) => R | ParallelSkip | PromiseLike<R | ParallelSkip>;

/**
 * One item's outcome from {@link parallelStream}: `item` is the input as the source gave it (the Promise or Deferred
 * itself, for such items). An object rather than {@link parallel}'s `[ok, value]` tuple because outcomes come in
 * completion order and must say which item they belong to; see {@link parallel}'s remarks.
 */
export type ParallelOutcome<T, R> =
  | {
      /** The item's position in the input. */
      index: number;
      /** The item itself. */
      item: T;
      /** True: the job succeeded. */
      ok: true;
      /** What the job gave. */
      value: R;
    }
  | {
      /** The item's position in the input. */
      index: number;
      /** The item itself. */
      item: T;
      /** False: the job failed. */
      ok: false;
      /** How it failed. */
      failure: Failure;
    };

/** Options of {@link parallel}. */
export interface ParallelOptions {
  /** Aborting it stops pulling items, cancels the Deferreds in flight and fails with {@link CancelledError}. */
  signal?: AbortSignal;
  /**
   * Run the work as cooperative tasks on this {@link Cooperator} (the walkthrough's recipe: `concurrency` tasks sharing
   * one iterator), so it takes turns, in time slices, with everything else on that Cooperator. Without it the work runs
   * on a plain worker pool, which is faster. Needs a finite `concurrency` (one task per lane).
   */
  cooperator?: Cooperator;
  /**
   * Default `false`: every item runs and each failure is one outcome, as in Twisted's `DeferredList`, so one bad item
   * never costs the others' results. `true`: the first failure stops pulling, cancels the Deferreds in flight, and
   * fails the whole call with that failure (p-map's default).
   */
  stopOnError?: boolean;
  /**
   * With `perKey`: the key of an item (for a crawl, its host). At most `perKey` jobs of one key run at once, and an
   * item whose key is saturated waits in a look-ahead buffer while other keys' items start (see `keyedParallel`, which
   * then does the work: items are not awaited, and `cooperator`, `stopOnError` and an infinite `concurrency` are not
   * available together with a key).
   */
  key?: (item: never, index: number) => string;
  /** With `key`: how many jobs of one key may run at once, a whole number >= 1. */
  perKey?: number;
  /** With `key`: how many pulled items may wait for their key at once. Default 1,000. */
  lookAhead?: number;
  /** Every job starts through this rate limiter too (holding its slot while it waits for the rate). */
  rate?: RateLimiter;
}

/** Options of {@link parallelStream}. */
export interface ParallelStreamOptions extends ParallelOptions {
  /**
   * How many finished outcomes may wait for the consumer before no new item is started. Default: `concurrency`.
   * Memory is bounded by `concurrency + backpressure` items, however many there are. May be `Infinity`.
   */
  backpressure?: number;
  /**
   * Yield outcomes in input order rather than completion order (p-map's `pMapIterable`). Default `false`. An outcome
   * that finished early waits for the earlier ones; no new item starts while `concurrency + backpressure` started
   * items have not been yielded, so one slow item stalls the stream instead of growing its memory. Not with `key`.
   */
  ordered?: boolean;
}

/** @internal */
export type AnyIterator<T> = Iterator<T> | AsyncIterator<T>;

/** @internal Validates the arguments of {@link parallel} and {@link parallelStream}, naming the bad one. */
export function checkArgs(items: unknown, concurrency: unknown, fn: unknown, options: unknown): void {
  checkWhole(concurrency, 'concurrency', 1, true);
  checkIterable(items, 'items');
  checkFn(fn, 'fn');
  checkObject(options, 'options');
  const { signal, cooperator, backpressure, stopOnError, ordered } = options as ParallelStreamOptions;
  checkSignal(signal, 'options.signal');
  if (cooperator !== undefined && !(cooperator instanceof Cooperator)) {
    throw new TypeError(`Expected \`options.cooperator\` to be a Cooperator, got ${describe(cooperator)}`);
  }
  if (cooperator !== undefined && concurrency === Number.POSITIVE_INFINITY) {
    throw new RangeError(
      'Expected `concurrency` to be a whole number >= 1 with `options.cooperator` (one task per lane), got Infinity',
    );
  }
  if (backpressure !== undefined) checkWhole(backpressure, 'options.backpressure', 1, true);
  checkOptionalBoolean(stopOnError, 'options.stopOnError');
  checkOptionalBoolean(ordered, 'options.ordered');
}

/** @internal */
export function iteratorOf<T>(items: Iterable<T> | AsyncIterable<T>): {
  it: AnyIterator<T>;
  isAsync: boolean;
} {
  const sync = (items as Iterable<T>)[Symbol.iterator];
  if (typeof sync === 'function') return { it: sync.call(items), isAsync: false };
  return { it: (items as AsyncIterable<T>)[Symbol.asyncIterator](), isAsync: true };
}
