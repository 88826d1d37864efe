import { type CooperativeTask, Cooperator } from './cooperator.js';
import { CancelledError, Deferred } from './core/deferred.js';
import { Failure } from './core/failure.js';
import type { DeferredListEntry } from './deferred-list.js';

/** What {@link parallel} and {@link parallelStream} call for each item: its result may be a value, Promise or Deferred. */
export type ParallelMapper<T, R> = (item: T, index: number) => R | PromiseLike<R>;

/** One item's outcome from {@link parallelStream}. */
export type ParallelOutcome<T, R> =
  | { index: number; item: T; ok: true; value: R }
  | { index: number; item: T; ok: false; failure: Failure };

/** Options of {@link parallel}. */
export interface ParallelOptions {
  /** Aborting it stops pulling items, cancels the Deferreds in flight and fails with {@link CancelledError}. */
  signal?: AbortSignal;
  /**
   * Run the work as cooperative tasks on this {@link Cooperator} (the walkthrough's recipe: `concurrency` tasks sharing
   * one iterator), so it takes turns, in time slices, with everything else on that Cooperator. Without it the work runs
   * on a plain worker pool, which is faster.
   */
  cooperator?: Cooperator;
}

/** Options of {@link parallelStream}. */
export interface ParallelStreamOptions extends ParallelOptions {
  /**
   * How many finished outcomes may wait for the consumer before no new item is started. Default: `concurrency`.
   * Memory is bounded by `concurrency + backpressure` items, however many there are.
   */
  backpressure?: number;
}

type AnyIterator<T> = Iterator<T> | AsyncIterator<T>;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

function checkArgs(items: unknown, concurrency: unknown, fn: unknown, options: unknown): void {
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`Expected \`concurrency\` to be a whole number >= 1, got ${String(concurrency)}`);
  }
  if (
    items === null ||
    typeof items !== 'object' ||
    (typeof (items as Iterable<unknown>)[Symbol.iterator] !== 'function' &&
      typeof (items as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function')
  ) {
    if (typeof items !== 'string') {
      throw new TypeError('Expected `items` to be an iterable or an async iterable');
    }
  }
  if (typeof fn !== 'function') throw new TypeError(`Expected \`fn\` to be a function, got ${typeof fn}`);
  if (options === null || typeof options !== 'object')
    throw new TypeError('Expected `options` to be an object');
  const { signal, cooperator, backpressure } = options as ParallelStreamOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError('Expected `options.signal` to be an AbortSignal');
  }
  if (cooperator !== undefined && !(cooperator instanceof Cooperator)) {
    throw new TypeError('Expected `options.cooperator` to be a Cooperator');
  }
  if (
    backpressure !== undefined &&
    (typeof backpressure !== 'number' || !Number.isInteger(backpressure) || backpressure < 1)
  ) {
    throw new RangeError(
      `Expected \`options.backpressure\` to be a whole number >= 1, got ${String(backpressure)}`,
    );
  }
}

function iteratorOf<T>(items: Iterable<T> | AsyncIterable<T>): { it: AnyIterator<T>; isAsync: boolean } {
  const sync = (items as Iterable<T>)[Symbol.iterator];
  if (typeof sync === 'function') return { it: sync.call(items), isAsync: false };
  return { it: (items as AsyncIterable<T>)[Symbol.asyncIterator](), isAsync: true };
}

function abortError(signal: AbortSignal): Failure {
  return new Failure(new CancelledError('The operation was aborted', { cause: signal.reason }));
}

/**
 * A worker's place in the pool, reused job after job, so that settling a job needs no closure of its own.
 * @internal
 */
class Slot<T, R> {
  readonly pool: Pool<T, R>;
  index = 0;
  item: T | undefined = undefined;
  busy = false;
  /** The Deferred the job returned, cancelled on abort. */
  d: Deferred<unknown> | null = null;
  /** In cooperator mode: fires when the job settles, so the task that started it may take the next item. */
  wake: Deferred<undefined> | null = null;
  /** The next free slot while this one is free. */
  nextFree: Slot<T, R> | null = null;
  /** The Promise `.then(ok, err)` returned for a Promise job: it resolves with what {@link Pool.outcome} returns. */
  p: Promise<unknown> | null = null;

  constructor(pool: Pool<T, R>) {
    this.pool = pool;
  }

  /** What the Promise that `ok`/`err` settle resolves with: {@link Pool.outcome}'s return value. */
  ok = (value: unknown): unknown => this.pool._settle(this, true, value);
  err = (e: unknown): unknown => this.pool._settle(this, false, new Failure(e));
  dOk = (value: unknown): undefined => {
    this.pool._settle(this, true, value);
    return undefined;
  };
  // The failure has been recorded as an outcome: the job's own chain continues with null, so it is not reported.
  dErr = (failure: Failure): null => {
    this.pool._settle(this, false, failure);
    return null;
  };
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

/**
 * The lazy worker pool behind {@link parallel} and {@link parallelStream}: up to `concurrency` jobs in flight, each
 * input pulled from the shared iterator only when a slot is free.
 * @internal
 */
abstract class Pool<T, R> {
  /** Objects kept alive for their layouts: see the end of this module. */
  static readonly layouts: object[] = [];
  readonly it: AnyIterator<T>;
  readonly isAsync: boolean;
  readonly fn: ParallelMapper<T, R>;
  readonly concurrency: number;
  readonly signal: AbortSignal | undefined;
  readonly cooperator: Cooperator | undefined;
  readonly slots: Slot<T, R>[] = [];
  /** The free slots, a stack linked through {@link Slot.nextFree}. */
  free: Slot<T, R> | null = null;
  inFlight = 0;
  nextIndex = 0;
  pulling = false;
  sourceDone = false;
  finished = false;
  pumping = false;
  /** Cooperator mode: the tasks, and the Deferreds that tasks with nothing to do now wait on. */
  tasks: CooperativeTask[] = [];
  wakers: Deferred<undefined>[] = [];

  constructor(
    items: Iterable<T> | AsyncIterable<T>,
    concurrency: number,
    fn: ParallelMapper<T, R>,
    o: ParallelOptions,
  ) {
    const { it, isAsync } = iteratorOf(items);
    this.it = it;
    this.isAsync = isAsync;
    this.fn = fn;
    this.concurrency = concurrency;
    this.signal = o.signal;
    this.cooperator = o.cooperator;
  }

  /** Whether a new item may start as far as the consumer is concerned. */
  abstract canStart(): boolean;
  /**
   * Records one outcome. `settled`, when not null, is the Promise that will resolve with the return value as soon as
   * the call returns (the job's own `.then(ok, err)`), for a subclass that wants to hand that Promise out.
   */
  abstract outcome(
    index: number,
    item: T,
    ok: boolean,
    value: unknown,
    settled: Promise<unknown> | null,
  ): unknown;
  /** The work ended: `failure` is null when every item ran. `dropOutcomes` when it was aborted. */
  abstract end(failure: Failure | null, dropOutcomes: boolean): void;

  begin(): void {
    const signal = this.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.abort(abortError(signal));
        return;
      }
      signal.addEventListener('abort', this.onAbort);
    }
    if (this.cooperator === undefined) {
      this.pump();
    } else {
      // The walkthrough's recipe: `concurrency` tasks sharing one iterator of jobs.
      const lane: Iterator<Deferred<undefined> | undefined> = { next: this.laneStep };
      for (let i = 0; i < this.concurrency; i++) {
        const task = this.cooperator.cooperate(lane);
        task.whenDone().addErrback(this.onTaskFailed);
        this.tasks.push(task as CooperativeTask);
      }
    }
  }

  onAbort = (): void => {
    this.abort(abortError(this.signal as AbortSignal));
  };

  onTaskFailed = (failure: Failure): null => {
    this.fail(failure, false);
    return null;
  };

  /** Starts jobs while slots are free (plain pool mode). A loop, so jobs finishing synchronously never recurse. */
  pump(): void {
    if (this.cooperator !== undefined) {
      this.wakeTasks();
      return;
    }
    if (this.pumping || this.finished) return;
    // No try/finally: nothing in the loop throws (the source's and fn's errors are caught where they are called).
    this.pumping = true;
    while (
      !this.finished &&
      !this.sourceDone &&
      !this.pulling &&
      this.inFlight < this.concurrency &&
      this.canStart()
    ) {
      this.pullOne();
    }
    this.pumping = false;
    this.maybeEnd();
  }

  maybeEnd(): void {
    if (this.sourceDone && this.inFlight === 0 && !this.pulling && !this.finished) {
      this.finished = true;
      this.cleanup();
      this.end(null, false);
    }
  }

  /** Pulls one input and starts it; for an async source, the job starts when the pull settles. */
  pullOne(): void {
    let r: unknown;
    try {
      r = this.it.next();
    } catch (e) {
      this.fail(new Failure(e), false);
      return;
    }
    if (this.isAsync && isThenable(r)) {
      this.pulling = true;
      Promise.resolve(r).then(this.onPulled, this.onPullFailed);
    } else {
      this.accept(r);
    }
  }

  onPulled = (r: unknown): void => {
    this.pulling = false;
    if (this.finished) return;
    this.accept(r);
    this.pump();
  };

  onPullFailed = (e: unknown): void => {
    this.pulling = false;
    this.fail(new Failure(e), false);
  };

  accept(r: unknown): void {
    if (r === null || typeof r !== 'object') {
      this.fail(new Failure(new TypeError(`Iterator result ${String(r)} is not an object`)), false);
    } else if ((r as IteratorResult<T>).done) {
      this.sourceDone = true;
    } else {
      this.startJob((r as IteratorYieldResult<T>).value);
    }
  }

  startJob(item: T): Slot<T, R> {
    let slot = this.free;
    if (slot === null) slot = this.newSlot();
    else this.free = slot.nextFree;
    slot.busy = true;
    slot.index = this.nextIndex++;
    slot.item = item;
    this.inFlight++;
    let out: unknown;
    try {
      out = this.fn(item, slot.index);
    } catch (e) {
      this._settle(slot, false, new Failure(e));
      return slot;
    }
    // The common case first: a native Promise is one prototype away, a Deferred two.
    if (out instanceof Promise && out.constructor === Promise) {
      slot.p = out.then(slot.ok, slot.err);
    } else if (out instanceof Deferred) {
      slot.d = out;
      out.addCallbacks(slot.dOk, slot.dErr);
    } else if (isThenable(out)) {
      // A foreign thenable (or Promise subclass) might call back twice or throw; a Promise adopting it does neither.
      slot.p = Promise.resolve(out).then(slot.ok, slot.err);
    } else {
      this._settle(slot, true, out);
    }
    return slot;
  }

  newSlot(): Slot<T, R> {
    const slot = new Slot(this);
    this.slots.push(slot);
    return slot;
  }

  /** @internal A job's outcome is known: returns what the job's Promise subscription (if any) resolves with. */
  _settle(slot: Slot<T, R>, ok: boolean, value: unknown): unknown {
    if (!slot.busy) return undefined;
    slot.busy = false;
    slot.d = null;
    const { index, item, p } = slot;
    slot.item = undefined;
    slot.p = null;
    slot.nextFree = this.free;
    this.free = slot;
    this.inFlight--;
    if (this.finished) return undefined;
    const result = this.outcome(index, item as T, ok, value, p);
    const wake = slot.wake;
    if (wake !== null) {
      slot.wake = null;
      wake.callback(undefined);
    }
    // Pump only when a new item may start: a stream whose consumer lags settles most jobs into a full buffer.
    if (this.cooperator === undefined && this.inFlight < this.concurrency && this.canStart()) this.pump();
    else this.maybeEnd();
    return result;
  }

  /** Cooperator mode: one step of a task — start one job and wait for it, or wait until starting one is allowed. */
  laneStep = (): IteratorResult<Deferred<undefined> | undefined> => {
    if (this.finished || this.sourceDone) {
      this.maybeEnd();
      return DONE;
    }
    if (this.pulling || !this.canStart()) {
      const waker = new Deferred<undefined>();
      this.wakers.push(waker);
      return { done: false, value: waker };
    }
    let r: unknown;
    try {
      r = this.it.next();
    } catch (e) {
      this.fail(new Failure(e), false);
      return DONE;
    }
    if (this.isAsync && isThenable(r)) {
      this.pulling = true;
      const wait = new Deferred<undefined>();
      Promise.resolve(r).then(
        (result) => {
          this.pulling = false;
          if (!this.finished) {
            const slot = this.acceptInLane(result);
            if (slot?.busy) {
              slot.wake = wait;
              this.wakeTasks();
              return;
            }
          }
          wait.callback(undefined);
          this.wakeTasks();
        },
        (e) => {
          this.pulling = false;
          this.fail(new Failure(e), false);
          wait.callback(undefined);
        },
      );
      return { done: false, value: wait };
    }
    const slot = this.acceptInLane(r);
    if (slot === null || !slot.busy) return { done: false, value: undefined };
    slot.wake = new Deferred<undefined>();
    return { done: false, value: slot.wake };
  };

  acceptInLane(r: unknown): Slot<T, R> | null {
    if (r === null || typeof r !== 'object') {
      this.fail(new Failure(new TypeError(`Iterator result ${String(r)} is not an object`)), false);
      return null;
    }
    if ((r as IteratorResult<T>).done) {
      this.sourceDone = true;
      this.maybeEnd();
      return null;
    }
    return this.startJob((r as IteratorYieldResult<T>).value);
  }

  wakeTasks(): void {
    const wakers = this.wakers;
    if (wakers.length === 0) return;
    this.wakers = [];
    for (const w of wakers) w.callback(undefined);
  }

  /** The source failed (or the Cooperator stopped): stop, cancel what runs, and end with `failure`. */
  fail(failure: Failure, dropOutcomes: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.cleanup();
    this.cancelInFlight();
    this.end(failure, dropOutcomes);
  }

  /** Stopped from outside (signal, cancel, `break`): also closes the source, as `for...of` would. */
  abort(failure: Failure | null): void {
    if (this.finished) return;
    this.finished = true;
    this.cleanup();
    this.closeSource();
    this.cancelInFlight();
    this.end(failure, true);
  }

  cleanup(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const task of this.tasks) if (task.running) task.stop();
    this.tasks = [];
    this.wakers = [];
  }

  closeSource(): void {
    try {
      const out = this.it.return?.();
      if (isThenable(out)) out.then(undefined, () => {});
    } catch {
      // A generator that is running (the abort came from inside it) cannot be closed; it is not stepped again anyway.
    }
  }

  cancelInFlight(): void {
    for (const slot of this.slots) {
      if (slot.busy && slot.d !== null) slot.d.cancel();
    }
  }
}

class ListPool<T, R> extends Pool<T, R> {
  readonly results: DeferredListEntry<R>[] = [];
  readonly deferred: Deferred<DeferredListEntry<R>[]>;

  constructor(
    items: Iterable<T> | AsyncIterable<T>,
    concurrency: number,
    fn: ParallelMapper<T, R>,
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

  end(failure: Failure | null): void {
    if (this.deferred.called) return;
    if (failure === null) this.deferred.callback(this.results);
    else this.deferred.errback(failure);
  }
}

/**
 * Calls `fn(item, index)` for every item with at most `concurrency` calls in flight, and fires with every outcome in
 * input order: `[true, value]` or `[false, failure]`, as a {@link DeferredList} does. Items are pulled lazily — the next
 * one only when a slot is free — so a generator of any length, or an async iterable, can feed it.
 *
 * It runs on a plain worker pool (`concurrency` workers pulling from one shared iterator), starting synchronously, unless
 * `options.cooperator` is given: then it runs as that many cooperative tasks sharing the iterator, in time slices.
 *
 * Aborting `options.signal`, or cancelling the returned Deferred, stops pulling, closes the source iterator, cancels
 * the Deferreds in flight and errbacks with {@link CancelledError}. If the source itself throws, the Deferreds in
 * flight are cancelled and the returned Deferred errbacks with that error.
 *
 * @throws {RangeError} when `concurrency` is not a whole number >= 1.
 * @throws {TypeError} when `items` is not iterable or `fn` not a function.
 */
export function parallel<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: ParallelMapper<T, R>,
  options: ParallelOptions = {},
): Deferred<DeferredListEntry<Awaited<R>>[]> {
  checkArgs(items, concurrency, fn, options);
  const pool = new ListPool<T, Awaited<R>>(items, concurrency, fn as ParallelMapper<T, Awaited<R>>, options);
  pool.begin();
  return pool.deferred;
}

type StreamResult<T, R> = IteratorResult<ParallelOutcome<T, R>, undefined>;

/** A consumer's `next()` that found nothing to hand over. A class: see the end of this module. */
class Waiter<T, R> {
  readonly resolve: (r: StreamResult<T, R>) => void;
  readonly reject: (e: unknown) => void;

  constructor(resolve: (r: StreamResult<T, R>) => void, reject: (e: unknown) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
}

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
    fn: ParallelMapper<T, R>,
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
    // Through `.call`: a plain call would teach the optimizing compiler this run's resolver, a closure that dies with it,
    // and the next run after a GC would throw the compiled code away (a stream usually parks once, on its first next()).
    if (w !== undefined) w.resolve.call(undefined, r);
    else this.buffer.push((settled as Promise<StreamResult<T, R>> | null) ?? Promise.resolve(r));
    return r;
  }

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
      if (size === this.backpressure && !this.finished) this.pump();
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

  return(): Promise<IteratorResult<ParallelOutcome<T, R>, undefined>> {
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
 * Nothing starts until the first `next()`. Finished outcomes are buffered as settled Promises — for a job that returned
 * a Promise, the very one its subscription made, so handing an outcome over allocates no Promise of its own; only a
 * consumer that has to wait gets a new one. It runs on a plain worker pool unless `options.cooperator` is given
 * (see {@link parallel}).
 *
 * Leaving a `for await` early (`return()`) stops pulling, closes the source iterator and cancels the Deferreds in
 * flight. Aborting `options.signal` does the same and makes the iteration throw {@link CancelledError} (outcomes not yet
 * taken are dropped). If the source throws, the outcomes already finished are delivered, then the iteration throws
 * that error.
 *
 * @throws {RangeError} when `concurrency` is not a whole number >= 1.
 * @throws {TypeError} when `items` is not iterable or `fn` not a function.
 */
export function parallelStream<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: ParallelMapper<T, R>,
  options: ParallelStreamOptions = {},
): AsyncIterableIterator<ParallelOutcome<T, Awaited<R>>, undefined> {
  checkArgs(items, concurrency, fn, options);
  return new StreamPool<T, Awaited<R>>(items, concurrency, fn as ParallelMapper<T, Awaited<R>>, options);
}

/**
 * V8 keeps the layout (hidden class) of these classes' objects only while some object uses it: a full GC that finds
 * no pool alive frees it, and with it throws away all the optimized code built for it, so the next batch after an
 * idle GC would run unoptimized for a while (a third slower for a short batch). One idle object of each, held by a
 * static field (a module variable no function reads would not survive the module's evaluation), keeps them.
 */
{
  const stream = new StreamPool<unknown, unknown>([], 1, identity, {});
  const list = new ListPool<unknown, unknown>([], 1, identity, {});
  Pool.layouts.push(stream, list, new Slot(stream), new Waiter(identity, identity));
}

function identity(x: unknown): unknown {
  return x;
}
