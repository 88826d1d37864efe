import type { Failure } from '../../core/failure.js';
import {
  checkArgs,
  type ParallelMapper,
  type ParallelOutcome,
  type ParallelSkip,
  type ParallelStreamOptions,
} from './options.js';
import { keyedParallelStreamFor, ratedMapper } from './polite-options.js';
import { Pool } from './pool.js';

type StreamResult<T, R> = IteratorResult<ParallelOutcome<T, R>, undefined>;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * A first-in first-out queue on a ring buffer whose length is a power of two.
 * @internal
 */
class Queue<V> {
  buf: (V | undefined)[] = new Array(16);
  head = 0;
  size = 0;

  push(v: V): void {
    const buf = this.buf;
    if (this.size === buf.length) {
      this.grow();
      this.buf[this.size++] = v;
      return;
    }
    buf[(this.head + this.size) & (buf.length - 1)] = v;
    this.size++;
  }

  shift(): V | undefined {
    if (this.size === 0) return undefined;
    const buf = this.buf;
    const head = this.head;
    const v = buf[head];
    buf[head] = undefined;
    this.head = (head + 1) & (buf.length - 1);
    this.size--;
    return v;
  }

  /** Doubles the buffer, its entries moved to the front in order. */
  grow(): void {
    const old = this.buf;
    const mask = old.length - 1;
    const buf: (V | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.size; i++) buf[i] = old[(this.head + i) & mask];
    this.buf = buf;
    this.head = 0;
  }

  clear(): void {
    this.buf = new Array(16);
    this.head = 0;
    this.size = 0;
  }
}

/** A consumer's `next()` that found nothing to hand over. */
class Waiter<T, R> {
  readonly resolve: (r: StreamResult<T, R>) => void;
  readonly reject: (e: unknown) => void;

  constructor(resolve: (r: StreamResult<T, R>) => void, reject: (e: unknown) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** {@link parallelStream}'s pool, and the async iterator it returns. @internal */
class StreamPool<T, R> extends Pool<T, R> implements AsyncIterableIterator<ParallelOutcome<T, R>, undefined> {
  readonly backpressure: number;
  /**
   * Finished outcomes, each as the settled Promise `next()` hands out: for a Promise job, the one its own
   * `.then(ok, err)` returned, so that handing an outcome over allocates no Promise of its own.
   */
  readonly buffer = new Queue<Promise<StreamResult<T, R>>>();
  readonly waiters = new Queue<Waiter<T, R>>();
  started = false;
  /** How the iteration ends once the buffer is drained: null while running or after a clean end. */
  error: Failure | null = null;

  constructor(
    items: Iterable<T> | AsyncIterable<T>,
    concurrency: number,
    fn: ParallelMapper<unknown, R>,
    o: ParallelStreamOptions,
  ) {
    super(items, concurrency, fn, o);
    this.backpressure = o.backpressure ?? concurrency;
  }

  canStart(): boolean {
    return this.buffer.size < this.backpressure;
  }

  outcome(
    index: number,
    item: T,
    ok: boolean,
    value: unknown,
    settled: Promise<unknown> | null,
  ): StreamResult<T, R> {
    const r: StreamResult<T, R> = {
      done: false,
      value: ok
        ? { index, item, ok: true, value: value as R }
        : { index, item, ok: false, failure: value as Failure },
    };
    const w = this.waiters.shift();
    if (w !== undefined) w.resolve(r);
    else this.buffer.push((settled as Promise<StreamResult<T, R>> | null) ?? Promise.resolve(r));
    return r;
  }

  skip(): void {}

  end(failure: Failure | null, dropOutcomes: boolean): void {
    if (dropOutcomes) this.buffer.clear();
    this.error = failure;
    // Waiters exist only while the buffer is empty.
    for (let w = this.waiters.shift(); w !== undefined; w = this.waiters.shift()) {
      if (this.error !== null) {
        w.reject(this.error.value);
        this.error = null;
      } else {
        w.resolve(DONE);
      }
    }
  }

  next(): Promise<StreamResult<T, R>> {
    if (!this.started) {
      this.started = true;
      this.begin();
    }
    const size = this.buffer.size;
    if (size > 0) {
      const r = this.buffer.shift() as Promise<StreamResult<T, R>>;
      // Only a full buffer holds new jobs back, and taking one outcome frees room only when it was exactly full;
      // otherwise settling jobs keep the pool going by themselves.
      if (size === this.backpressure && !this.finished) this.lanes.wake();
      return r;
    }
    if (this.finished) {
      const error = this.error;
      if (error !== null) {
        this.error = null;
        return Promise.reject(error.value);
      }
      return Promise.resolve(DONE);
    }
    return new Promise((resolve, reject) => {
      this.waiters.push(new Waiter(resolve, reject));
    });
  }

  return(): Promise<StreamResult<T, R>> {
    this.started = true;
    this.abort(null);
    this.buffer.clear();
    this.error = null;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * The same work as {@link parallel}, as an async iterable of outcomes in completion order:
 * `{ index, item, ok: true, value }` or `{ index, item, ok: false, failure }`. Memory stays O(concurrency) whatever the
 * number of items: the next item is pulled as soon as a slot frees, at most `concurrency` run at once, and at most
 * `options.backpressure` finished outcomes wait for a slow consumer before new items stop starting.
 *
 * Outcomes are objects, not {@link parallel}'s `[ok, value]` tuples, because they arrive in completion order: each must
 * say which item it belongs to (`index`, and `item` as the source gave it), and `ok` narrows the type in TypeScript.
 *
 * Nothing starts until the first `next()`. Finished outcomes are buffered as settled Promises — for a job that returned
 * a Promise, the very one its subscription made, so handing an outcome over allocates no Promise of its own; only a
 * consumer that has to wait gets a new one. Items that are Promises or Deferreds are awaited before `fn`, a job whose
 * result is {@link parallelSkip} yields nothing, and `concurrency` (and `backpressure`) may be `Infinity`, as for
 * {@link parallel}. It runs on a plain worker pool unless `options.cooperator` is given.
 *
 * Leaving a `for await` early (`return()`) stops pulling, closes the source iterator and cancels the Deferreds in
 * flight; a canceller that throws is reported to the unhandled-failure reporter and the others are still cancelled.
 * Aborting `options.signal` does the same and makes the iteration throw {@link CancelledError} (outcomes not yet
 * taken are dropped). If the source throws — or, with `options.stopOnError`, a job fails — the outcomes already
 * finished are delivered, then the iteration throws that error.
 *
 * @throws {RangeError} when `concurrency` is not a whole number >= 1 or Infinity.
 * @throws {TypeError} when `items` is not iterable, `fn` not a function, or an option of the wrong type.
 */
export function parallelStream<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: ParallelMapper<Awaited<T>, R>,
  options: ParallelStreamOptions = {},
): AsyncIterableIterator<ParallelOutcome<T, Exclude<Awaited<R>, ParallelSkip>>, undefined> {
  checkArgs(items, concurrency, fn, options);
  type V = Exclude<Awaited<R>, ParallelSkip>;
  const keyed = keyedParallelStreamFor(items, concurrency, fn, options);
  if (keyed !== null) return keyed as AsyncIterableIterator<ParallelOutcome<T, V>, undefined>;
  return new StreamPool<T, V>(
    items,
    concurrency,
    ratedMapper(fn, options) as ParallelMapper<unknown, V>,
    options,
  );
}
