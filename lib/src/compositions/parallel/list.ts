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
 *
 @remarks
 * ```ts
 * import { parallel, parallelSkip, parallelStream } from 'async-batching';
 *
 * const entries = await parallel(urls, 10, (url) => getPage(url)); // [ok, value | Failure] per item, in input order
 *
 * for await (const o of parallelStream(hugeGenerator(), 10, fetchOne)) {
 *   if (o.ok) console.log(o.index, o.value);
 *   else console.error(o.index, o.failure.getErrorMessage());
 * }
 * ```
 *
 * Both pull items lazily from any iterable or async iterable, keep at most `concurrency` jobs running, and by default
 * never stop on a failed job: each failure is one outcome. `parallel` returns a `Deferred` of `DeferredList`-style entries
 * in input order. `parallelStream` yields outcomes as they finish and holds at most `concurrency + backpressure` of them,
 * so memory stays flat for any number of items; leaving the loop early (`break`) stops pulling, closes the source and
 * cancels the jobs in flight. A throwing source iterator fails the whole call with its error (the stream first delivers
 * what had finished); a bad `concurrency` is a `RangeError`, a non-iterable `items`, non-function `fn` or an option of the
 * wrong type a `TypeError`.
 *
 * | option / export | what it does | example |
 * | --- | --- | --- |
 * | `signal` | an `AbortSignal`: stops pulling, cancels what is in flight, fails with `CancelledError` | `parallel(urls, 10, getPage, { signal: AbortSignal.timeout(60_000) })` |
 * | `cooperator` | run the jobs as `concurrency` cooperative tasks on a `Cooperator`, the walkthrough's recipe | `parallel(urls, 3, getPage, { cooperator: new Cooperator() })` |
 * | `backpressure` | stream only: finished outcomes that may wait for the consumer (default `concurrency`, may be `Infinity`) | `parallelStream(ids, 50, load, { backpressure: 200 })` |
 * | `ordered` | stream only: outcomes in input order, not completion order; an early one waits for the earlier ones, and no item starts while `concurrency + backpressure` started items have not been yielded, so a slow item stalls the stream at that bound (not with `key`) | `parallelStream(files, 4, parse, { ordered: true })` |
 * | `stopOnError` | the first failure stops pulling, closes the source, cancels what is in flight and fails the call with that failure (default `false`) | `await parallel(files, 4, upload, { stopOnError: true })` |
 * | `concurrency: Infinity` | every item starts as soon as it is pulled (not with `cooperator`, which needs one task per lane) | `parallel(ids, Infinity, lookup)` |
 * | awaited items | an item that is a Promise or Deferred is awaited in its slot before `fn` gets its value; a rejected item is that item's failure | `parallel([getPage(a), getPage(b)], 2, parse)` |
 * | `parallelSkip` | a job that returns it (or a Promise/Deferred of it) has no entry and no outcome | `parallel(urls, 10, (u) => (seen.has(u) ? parallelSkip : getPage(u)))` |
 *
 * Why `stopOnError` is off by default: like Twisted's `DeferredList`, a batch is a set of independent jobs whose every
 * outcome is worth having (one dead URL should not cost the 9,999 pages that loaded); p-map stops by default because it
 * mirrors `Promise.all`. Ask for `stopOnError` when one failure makes the rest pointless.
 *
 * Why the two shapes differ: `parallel`'s entries are `DeferredList` entries, `[true, value]` / `[false, failure]`,
 * exactly what `DeferredList` and Twisted give: their position is the item's index, so they need neither index nor item,
 * and they stay small when a large batch keeps every outcome. `parallelStream`'s outcomes arrive in completion order, so
 * each has to carry its `index` and `item` (the input as the source gave it); an object with an `ok` field says so by
 * name and narrows the type in TypeScript (`o.ok ? o.value : o.failure`). One shape for both would either make every
 * `parallel` entry carry fields its position already gives, or make stream consumers match tuples by position.
 *
 * The links `parallel` adds to a Deferred that `fn` returns pass its result through unchanged: a Deferred shared by
 * several jobs, or kept in a cache, gives every job and every later callback the same result. A failure there counts as
 * handled once it is recorded as an outcome, as `await d` would count it.
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
