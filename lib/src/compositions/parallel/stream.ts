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

/** One finished item: its value, or its failure. */
function outcomeOf<T, R>(index: number, item: T, ok: boolean, value: unknown): ParallelOutcome<T, R> {
  return ok
    ? { index, item, ok: true, value: value as R }
    : { index, item, ok: false, failure: value as Failure };
}

/** The iterator result that hands one finished item to the consumer. */
function streamResult<T, R>(index: number, item: T, ok: boolean, value: unknown): StreamResult<T, R> {
  return { done: false, value: outcomeOf<T, R>(index, item, ok, value) };
}

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
  readonly resolve: (r: StreamResult<T, R> | PromiseLike<StreamResult<T, R>>) => void;
  readonly reject: (e: unknown) => void;

  constructor(
    resolve: (r: StreamResult<T, R> | PromiseLike<StreamResult<T, R>>) => void,
    reject: (e: unknown) => void,
  ) {
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
  /**
   * Once {@link nextBatch} has been called, finished outcomes go here instead of {@link buffer}, as bare outcomes:
   * a batch needs neither an iterator result nor a Promise per outcome (bench/scenarios/lazy.ts, row "parallelStream,
   * inBatches").
   */
  values: Queue<ParallelOutcome<T, R>> | null = null;
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

  /** How many finished outcomes wait for the consumer. */
  ready(): number {
    return this.values === null ? this.buffer.size : this.values.size;
  }

  canStart(): boolean {
    return this.ready() < this.backpressure;
  }

  outcome(
    index: number,
    item: T,
    ok: boolean,
    value: unknown,
    settled: Promise<unknown> | null,
  ): StreamResult<T, R> | undefined {
    const values = this.values;
    if (values !== null && this.waiters.size === 0) {
      values.push(outcomeOf<T, R>(index, item, ok, value));
      return undefined;
    }
    const r = streamResult<T, R>(index, item, ok, value);
    const w = this.waiters.shift();
    if (w !== undefined) w.resolve(r);
    else this.buffer.push((settled as Promise<StreamResult<T, R>> | null) ?? Promise.resolve(r));
    return r;
  }

  skip(_index: number): void {}

  end(failure: Failure | null, dropOutcomes: boolean): void {
    if (dropOutcomes) {
      this.buffer.clear();
      this.values?.clear();
    }
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
    const size = this.ready();
    if (size > 0) {
      const r =
        this.values === null
          ? (this.buffer.shift() as Promise<StreamResult<T, R>>)
          : Promise.resolve({ done: false as const, value: this.values.shift() as ParallelOutcome<T, R> });
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

  /**
   * Every finished outcome not yet taken, at once (waiting for the next one when there is none): one `await` for a
   * batch instead of one per outcome. `done` once the stream has ended and every outcome has been taken.
   */
  nextBatch(): Promise<IteratorResult<ParallelOutcome<T, R>[], undefined>> {
    if (this.values === null) {
      // From now on outcomes are kept as values; those buffered so far are only reachable as Promises.
      this.values = new Queue();
      if (this.buffer.size > 0) {
        return Promise.all(this.takeAll()).then((rs) => ({
          done: false,
          value: rs.map((r) => r.value as never),
        }));
      }
    }
    const values = this.values;
    if (values.size > 0) {
      const size = values.size;
      const batch: ParallelOutcome<T, R>[] = new Array(size);
      for (let i = 0; i < size; i++) batch[i] = values.shift() as ParallelOutcome<T, R>;
      // Jobs that were running when the buffer filled may have overfilled it: any size from full up held them back.
      if (size >= this.backpressure && !this.finished) this.lanes.wake();
      return Promise.resolve({ done: false, value: batch });
    }
    return this.next().then((r) => (r.done ? DONE : { done: false, value: [r.value] }));
  }

  /** Takes every buffered outcome's Promise. */
  takeAll(): Promise<StreamResult<T, R>>[] {
    const size = this.buffer.size;
    const out: Promise<StreamResult<T, R>>[] = [];
    for (let i = 0; i < size; i++) out.push(this.buffer.shift() as Promise<StreamResult<T, R>>);
    if (size >= this.backpressure && !this.finished) this.lanes.wake();
    return out;
  }

  return(): Promise<StreamResult<T, R>> {
    this.started = true;
    this.abort(null);
    this.buffer.clear();
    this.values?.clear();
    this.error = null;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** What {@link OrderedStreamPool} holds for an index whose job returned {@link parallelSkip}. */
const SKIPPED = null;

/**
 * {@link parallelStream}'s pool with `ordered: true`: outcomes are handed out in input order. One that finishes before
 * an earlier item's waits in {@link held} until every earlier one was handed out; new items start only while fewer
 * than `concurrency + backpressure` started items have not been handed out, the bound the unordered stream keeps.
 * @internal
 */
class OrderedStreamPool<T, R> extends StreamPool<T, R> {
  /** Finished outcomes waiting for an earlier item's, by index; {@link SKIPPED} for a skipped item. */
  readonly held = new Map<number, Promise<StreamResult<T, R>> | typeof SKIPPED>();
  /** The index of the next outcome to hand out. */
  nextOut = 0;
  /** How many items were handed out to the consumer or skipped. */
  taken = 0;

  override canStart(): boolean {
    return this.nextIndex - this.taken < this.concurrency + this.backpressure;
  }

  override outcome(
    index: number,
    item: T,
    ok: boolean,
    value: unknown,
    settled: Promise<unknown> | null,
  ): StreamResult<T, R> {
    const r = streamResult<T, R>(index, item, ok, value);
    const p = (settled as Promise<StreamResult<T, R>> | null) ?? Promise.resolve(r);
    if (index !== this.nextOut) {
      this.held.set(index, p);
      return r;
    }
    this.nextOut++;
    this.deliver(p);
    this.release();
    return r;
  }

  override skip(index: number): void {
    if (index !== this.nextOut) {
      this.held.set(index, SKIPPED);
      return;
    }
    this.nextOut++;
    this.taken++;
    this.release();
  }

  /** Hands the outcomes that are next in input order out. */
  release(): void {
    const held = this.held;
    while (held.size > 0 && held.has(this.nextOut)) {
      const p = held.get(this.nextOut);
      held.delete(this.nextOut);
      this.nextOut++;
      if (p === SKIPPED) this.taken++;
      else this.deliver(p as Promise<StreamResult<T, R>>);
    }
  }

  /** To the oldest waiting `next()`, or into the buffer. */
  deliver(p: Promise<StreamResult<T, R>>): void {
    const w = this.waiters.shift();
    if (w === undefined) {
      this.buffer.push(p);
      return;
    }
    this.taken++;
    w.resolve(p);
  }

  override end(failure: Failure | null, dropOutcomes: boolean): void {
    // Stopped early (a source error, stopOnError): what finished is still delivered, in input order, past the gaps
    // the cancelled items leave.
    const indexes = dropOutcomes ? [] : [...this.held.keys()].sort((a, b) => a - b);
    for (const index of indexes) {
      const p = this.held.get(index);
      if (p !== SKIPPED && p !== undefined) this.deliver(p);
    }
    this.held.clear();
    super.end(failure, dropOutcomes);
  }

  /** Its buffer holds outcomes as Promises only (they arrive out of order): one outcome per batch. */
  override nextBatch(): Promise<IteratorResult<ParallelOutcome<T, R>[], undefined>> {
    return this.next().then((r) => (r.done ? DONE : { done: false, value: [r.value] }));
  }

  override next(): Promise<StreamResult<T, R>> {
    if (this.buffer.size === 0) return super.next();
    const full = !this.canStart();
    this.taken++;
    const r = super.next();
    if (full && !this.finished) this.lanes.wake();
    return r;
  }
}

/**
 * The outcomes of a {@link parallelStream} taken a batch at a time: each step gives every outcome finished since the
 * last one (at least one; it waits when there is none), so a consumer pays one `await` per batch instead of one per
 * outcome. `for await (const batch of inBatches(stream)) for (const outcome of batch) ...`. Leaving the loop early
 * stops the stream as leaving a `for await` over it does. Any other async iterable is taken one item per batch.
 */
export function inBatches<T, R>(
  stream: AsyncIterable<ParallelOutcome<T, R>>,
): AsyncIterableIterator<ParallelOutcome<T, R>[], undefined> {
  if (stream instanceof StreamPool) {
    const pool = stream as StreamPool<T, R>;
    return {
      next: () => pool.nextBatch(),
      return: () => pool.return().then(() => DONE),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
  return (async function* one() {
    for await (const outcome of stream) yield [outcome];
    return undefined;
  })();
}

/**
 * The same work as {@link parallel}, as an async iterable of outcomes in completion order:
 * `{ index, item, ok: true, value }` or `{ index, item, ok: false, failure }`. Memory stays O(concurrency) whatever the
 * number of items: the next item is pulled as soon as a slot frees, at most `concurrency` run at once, and at most
 * `options.backpressure` finished outcomes wait for a slow consumer before new items stop starting.
 *
 * With `options.ordered` the outcomes come in input order instead (p-map's `pMapIterable`): an outcome that finished
 * early waits for the earlier ones, and no new item starts while `concurrency + backpressure` started items have not
 * been handed out, so a slow item holds the stream back rather than letting memory grow.
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
  return new (options.ordered === true ? OrderedStreamPool : StreamPool)<T, V>(
    items,
    concurrency,
    ratedMapper(fn, options) as ParallelMapper<unknown, V>,
    options,
  );
}
