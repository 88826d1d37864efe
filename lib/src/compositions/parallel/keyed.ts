/**
 * `parallel` with a limit per key and no head-of-line blocking. A plain lazy pool pulls items in order; when the next
 * item belongs to a host that already has its `perKey` requests in flight, the pool either waits (and every other host
 * waits with it) or holds a slot while the item waits. Here such an item moves to a bounded look-ahead buffer and the
 * pool keeps pulling for other keys; when a key's job finishes, that key's oldest buffered item goes first. Once the
 * buffer is full the pool stops pulling until a buffered item starts, so memory stays O(concurrency + lookAhead)
 * whatever the number of items.
 *
 * Bottleneck's groups do the per-key part but queue every job eagerly (the whole input in memory at once).
 */

import { Fifo } from '../../blocks/fifo.js';
import { RateLimiter } from '../../blocks/rate-limiter.js';
import { checkFn, checkIterable, checkSignal, checkWhole, describe } from '../../core/args.js';
import { CancelledError, Deferred, maybeDeferred } from '../../core/deferred.js';
import { Failure } from '../../core/failure.js';
import type { DeferredListEntry } from '../deferred-list.js';
import { type ParallelMapper, type ParallelOutcome, parallelSkip } from './options.js';

/** The default look-ahead of {@link keyedParallel}: items held while their key is saturated. */
export const DEFAULT_LOOK_AHEAD = 1_000;

/** Options of {@link keyedParallel}. */
export interface KeyedParallelOptions<T> {
  /** The key of an item (for a crawl, its host). Called once per item. */
  key: (item: T, index: number) => string;
  /** How many jobs of one key may run at once: a whole number >= 1. */
  perKey: number;
  /**
   * How many pulled items may wait for their key at once (a whole number >= 1). Default {@link DEFAULT_LOOK_AHEAD}.
   * When it is full, no more items are pulled until one of them starts.
   */
  lookAhead?: number;
  /** Every job starts through this limiter too (it holds its pool slot while it waits for the rate). */
  rate?: RateLimiter;
  /** Aborting it stops pulling items, cancels the Deferreds in flight and fails with {@link CancelledError}. */
  signal?: AbortSignal;
}

/** Options of {@link keyedParallelStream}. */
export interface KeyedParallelStreamOptions<T> extends KeyedParallelOptions<T> {
  /** How many finished outcomes may wait for the consumer before no new job is started. Default: `concurrency`. */
  backpressure?: number;
}

/**
 * What a keyed pool and its face hold at a moment, for tests that check memory stays bounded without measuring it:
 * `keys` with state (each key running or buffering), and `slots`, the array slots of its queues, taken ones included.
 * @internal
 */
interface KeyedStreamHeld {
  keys: number;
  slots: number;
}

/** What the pool tells its face about each item. */
type Sink<T, R> = (index: number, item: T, ok: boolean, value: R | Failure) => void;

interface KeyState<T> {
  running: number;
  /** Items of this key waiting for room, oldest first, with their indexes. */
  items: T[];
  indexes: number[];
  head: number;
}

function checkKeyedArgs(items: unknown, concurrency: unknown, fn: unknown, options: unknown): void {
  checkWhole(concurrency, 'concurrency', 1);
  checkIterable(items, 'items');
  checkFn(fn, 'fn');
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`Expected \`options\` to be an object with key and perKey, got ${describe(options)}`);
  }
  const o = options as KeyedParallelStreamOptions<unknown>;
  checkFn(o.key, 'options.key');
  checkWhole(o.perKey, 'options.perKey', 1);
  if (o.lookAhead !== undefined) checkWhole(o.lookAhead, 'options.lookAhead', 1);
  if (o.backpressure !== undefined) checkWhole(o.backpressure, 'options.backpressure', 1);
  checkSignal(o.signal, 'options.signal');
  if (o.rate !== undefined && !(o.rate instanceof RateLimiter)) {
    throw new TypeError(`Expected \`options.rate\` to be a RateLimiter, got ${describe(o.rate)}`);
  }
}

/** @internal The pool both faces share. */
class KeyedPool<T, R> {
  readonly #it: Iterator<T> | AsyncIterator<T>;
  readonly #isAsync: boolean;
  readonly #concurrency: number;
  readonly #fn: ParallelMapper<T, R>;
  readonly #key: (item: T, index: number) => string;
  readonly #perKey: number;
  readonly #lookAhead: number;
  readonly #rate: RateLimiter | undefined;
  readonly #sink: Sink<T, R>;
  readonly #onEnd: (failure: Failure | null) => void;
  readonly #keys = new Map<string, KeyState<T>>();
  /** Keys that have a buffered item and a free place, once per free place, oldest first. */
  readonly #ready = new Fifo<string>();
  readonly #inFlight = new Set<Deferred<unknown>>();
  #running = 0;
  #buffered = 0;
  #pulled = 0;
  #pulling = false;
  #exhausted = false;
  #ended = false;
  #pumping = false;
  /** Whether a new job may start now (the stream face says no while its consumer lags). */
  canStart: () => boolean = () => true;

  constructor(
    items: Iterable<T> | AsyncIterable<T>,
    concurrency: number,
    fn: ParallelMapper<T, R>,
    o: KeyedParallelOptions<T>,
    sink: Sink<T, R>,
    onEnd: (failure: Failure | null) => void,
  ) {
    const sync = (items as Iterable<T>)[Symbol.iterator];
    this.#isAsync = typeof sync !== 'function';
    this.#it = this.#isAsync
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (sync as () => Iterator<T>).call(items);
    this.#concurrency = concurrency;
    this.#fn = fn;
    this.#key = o.key;
    this.#perKey = o.perKey;
    this.#lookAhead = o.lookAhead ?? DEFAULT_LOOK_AHEAD;
    this.#rate = o.rate;
    this.#sink = sink;
    this.#onEnd = onEnd;
  }

  /** Items pulled and not yet started. */
  get buffered(): number {
    return this.#buffered;
  }

  /** What the pool holds: keys with state, and array slots of its queues (slots already taken included). */
  held(): KeyedStreamHeld {
    let slots = this.#ready.slots;
    for (const state of this.#keys.values()) slots += state.items.length + state.indexes.length;
    return { keys: this.#keys.size, slots };
  }

  /** Starts what may start: buffered items whose key has room first, then new items, while slots are free. */
  pump(): void {
    if (this.#pumping || this.#ended) return;
    this.#pumping = true;
    try {
      while (!this.#ended && this.#running < this.#concurrency && this.canStart()) {
        if (this.#ready.length > 0) {
          this.#startBuffered(this.#ready.shift());
          continue;
        }
        if (this.#exhausted || this.#pulling || this.#buffered >= this.#lookAhead) break;
        if (this.#isAsync) {
          this.#pullAsync();
          break;
        }
        let step: IteratorResult<T>;
        try {
          step = (this.#it as Iterator<T>).next();
        } catch (e) {
          this.#fail(new Failure(e));
          return;
        }
        if (step.done === true) {
          this.#exhausted = true;
          break;
        }
        this.#take(step.value);
      }
      this.#checkEnd();
    } finally {
      this.#pumping = false;
    }
  }

  #pullAsync(): void {
    this.#pulling = true;
    let p: Promise<IteratorResult<T>>;
    try {
      p = Promise.resolve((this.#it as AsyncIterator<T>).next());
    } catch (e) {
      this.#pulling = false;
      this.#fail(new Failure(e));
      return;
    }
    p.then(
      (step) => {
        this.#pulling = false;
        if (this.#ended) return;
        if (step.done === true) this.#exhausted = true;
        else this.#take(step.value);
        this.pump();
      },
      (e: unknown) => {
        this.#pulling = false;
        this.#fail(new Failure(e));
      },
    );
  }

  /** A new item: start it if its key has room, else buffer it. */
  #take(item: T): void {
    const index = this.#pulled++;
    let key: string;
    try {
      key = this.#key(item, index);
      if (typeof key !== 'string') {
        throw new TypeError(
          `Expected \`options.key\` to return a string, got ${describe(key)} for item ${index}`,
        );
      }
    } catch (e) {
      this.#fail(new Failure(e));
      return;
    }
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = { running: 0, items: [], indexes: [], head: 0 };
      this.#keys.set(key, state);
    }
    if (state.running < this.#perKey && state.head === state.items.length) {
      this.#start(key, state, item, index);
    } else {
      state.items.push(item);
      state.indexes.push(index);
      this.#buffered++;
    }
  }

  #startBuffered(key: string): void {
    const state = this.#keys.get(key);
    if (state === undefined || state.head === state.items.length || state.running >= this.#perKey) return;
    const item = state.items[state.head] as T;
    const index = state.indexes[state.head] as number;
    state.items[state.head] = undefined as T;
    state.head++;
    if (state.head === state.items.length) {
      state.items.length = 0;
      state.indexes.length = 0;
      state.head = 0;
    } else if (state.head > 64 && state.head * 2 > state.items.length) {
      state.items.splice(0, state.head);
      state.indexes.splice(0, state.head);
      state.head = 0;
    }
    this.#buffered--;
    this.#start(key, state, item, index);
  }

  #start(key: string, state: KeyState<T>, item: T, index: number): void {
    state.running++;
    this.#running++;
    const d =
      this.#rate === undefined ? maybeDeferred(this.#fn, item, index) : this.#rate.run(this.#fn, item, index);
    this.#inFlight.add(d);
    d.addCallbacks(
      (value) => {
        this.#settled(d, key, state, index, item, true, value as R);
        return undefined;
      },
      (failure: Failure) => {
        this.#settled(d, key, state, index, item, false, failure);
        return null;
      },
    );
  }

  #settled(
    d: Deferred<unknown>,
    key: string,
    state: KeyState<T>,
    index: number,
    item: T,
    ok: boolean,
    value: R | Failure,
  ): void {
    if (this.#ended) return;
    this.#inFlight.delete(d);
    state.running--;
    this.#running--;
    if (state.head < state.items.length) this.#ready.push(key);
    else if (state.running === 0) this.#keys.delete(key);
    this.#sink(index, item, ok, value);
    this.pump();
  }

  #checkEnd(): void {
    if (!this.#ended && this.#exhausted && this.#running === 0 && this.#buffered === 0) {
      this.#ended = true;
      this.#onEnd(null);
    }
  }

  #fail(failure: Failure): void {
    if (this.#ended) return;
    this.stop();
    this.#onEnd(failure);
  }

  /** Stops pulling, closes the source, cancels the jobs in flight and drops the buffer. Idempotent. */
  stop(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#keys.clear();
    this.#ready.clear();
    this.#buffered = 0;
    if (!this.#exhausted) {
      this.#exhausted = true;
      try {
        const r = this.#it.return?.();
        if (r instanceof Promise) r.catch(() => undefined);
      } catch {
        // The source failed while closing; the pool ends either way.
      }
    }
    const inFlight = [...this.#inFlight];
    this.#inFlight.clear();
    for (const d of inFlight) d.cancel();
  }

  /** How an abort ends the pool. */
  abort(reason: unknown): void {
    this.#fail(new Failure(new CancelledError('The operation was aborted', { cause: reason })));
  }
}

function watchSignal(
  signal: AbortSignal | undefined,
  pool: KeyedPool<unknown, unknown>,
): (() => void) | null {
  if (signal === undefined) return null;
  if (signal.aborted) {
    pool.abort(signal.reason);
    return null;
  }
  const onAbort = () => pool.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/**
 * Like `parallel`, with at most `options.perKey` jobs per key (`options.key(item, index)`) among the `concurrency`
 * jobs in flight. Fires with every outcome in input order (`[true, value]` or `[false, failure]`).
 *
 * Items are pulled lazily; an item whose key is saturated waits in a look-ahead buffer of at most `options.lookAhead`
 * items while the pool pulls items of other keys, and starts as soon as its key has room (a key's items start in
 * input order). Cancelling the returned Deferred, or aborting `options.signal`, stops pulling, closes the source,
 * cancels the jobs in flight and errbacks with {@link CancelledError}; a throwing source or `key` does the same with
 * its error.
 *
 @remarks
 * **`KeyedSemaphore(perKey)`, `keyedParallel` and `keyedParallelStream`** — a limit per key (per host, say) inside the
 * global one, without head-of-line blocking.
 *
 * ```ts
 * import { KeyedSemaphore, keyedParallel, keyedParallelStream } from 'async-batching';
 *
 * const host = (url: string) => new URL(url).host;
 * const entries = await keyedParallel(urls, 10, (url) => getPage(url), { key: host, perKey: 2, lookAhead: 1_000 });
 * for await (const o of keyedParallelStream(hugeGenerator(), 10, getPage, { key: host, perKey: 2, rate: limiter })) {
 *   if (!o.ok) console.error(o.item, o.failure.getErrorMessage());
 * }
 * const keyed = new KeyedSemaphore(2); // a DeferredSemaphore per key, dropped when idle
 * await keyed.run(host(url), getPage, url);
 * ```
 *
 * `keyed.running(key)` counts the key's holders (more than `perKey` for a while after `perKey` was lowered below them),
 * `keyed.waiting(key)` its queue, `keyed.size` the keys in use.
 *
 * A plain lazy pool whose jobs wait for their key in a `KeyedSemaphore` keeps the per-key limit, but each waiting job holds
 * a pool slot, so one slow host soon holds them all. `keyedParallel` moves an item whose key is saturated to a look-ahead
 * buffer of at most `lookAhead` items (default 1,000) and keeps pulling items for other keys; when a key's job finishes,
 * its oldest buffered item goes next. The pool's memory stays O(concurrency + lookAhead) for any number of items (the
 * stream adds at most `backpressure` waiting outcomes; `keyedParallel` keeps every outcome, as `parallel` does), and a
 * key's state is dropped as soon as it has nothing running or buffered. Property tests check that no key ever runs more
 * than `perKey`, the pool never more than `concurrency`, the buffer never more than `lookAhead`, and every item runs
 * exactly once; other tests check that a stream's queues and per-key state stay bounded over 100,000 items (a key per
 * item included) and are empty when it ends. Outcomes and options are those of `parallel`/`parallelStream`
 * (`signal`, `backpressure` for the stream), plus `rate` (a `RateLimiter` every job starts through).
 *
 * The same options work on `parallel` and `parallelStream` themselves, which then hand the work to these functions:
 * `parallel(urls, 10, getPage, { key: host, perKey: 2, lookAhead: 1_000, rate: limiter })`. With a key, items are not
 * awaited and `cooperator`, `stopOnError` and an infinite `concurrency` are refused (`TypeError`/`RangeError`); `rate`
 * without a key works with every other option: each job of the usual pool starts through the limiter.
 */
export function keyedParallel<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: ParallelMapper<T, R>,
  options: KeyedParallelOptions<T>,
): Deferred<DeferredListEntry<Awaited<R>>[]> {
  checkKeyedArgs(items, concurrency, fn, options);
  const results: DeferredListEntry<Awaited<R>>[] = [];
  let skipped = false;
  let unwatch: (() => void) | null = null;
  const out = new Deferred<DeferredListEntry<Awaited<R>>[]>(() => pool.stop());
  const pool: KeyedPool<T, Awaited<R>> = new KeyedPool<T, Awaited<R>>(
    items,
    concurrency,
    fn as ParallelMapper<T, Awaited<R>>,
    options,
    (index, _item, ok, value) => {
      if (ok && value === parallelSkip) {
        skipped = true;
        return;
      }
      results[index] = ok ? [true, value as Awaited<R>] : [false, value as Failure];
    },
    (failure) => {
      unwatch?.();
      if (out.called) return;
      // A skipped item leaves a hole; the others keep their input order.
      if (failure === null) out.callback(skipped ? results.filter(() => true) : results);
      else out.errback(failure);
    },
  );
  unwatch = watchSignal(options.signal, pool as KeyedPool<unknown, unknown>);
  pool.pump();
  return out;
}

/**
 * The streaming face of {@link keyedParallel}: an async iterable of outcomes in completion order,
 * `{ index, item, ok, value | failure }`, as `parallelStream` gives them. Nothing starts until the first `next()`;
 * at most `options.backpressure` finished outcomes wait for a slow consumer before no new job starts, so memory stays
 * O(concurrency + lookAhead + backpressure). Leaving the loop early, or aborting `options.signal`, stops the pool.
 */
export function keyedParallelStream<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: ParallelMapper<T, R>,
  options: KeyedParallelStreamOptions<T>,
): AsyncIterableIterator<ParallelOutcome<T, Awaited<R>>, undefined> {
  checkKeyedArgs(items, concurrency, fn, options);
  const backpressure = options.backpressure ?? concurrency;
  // A queue that compacts: with outcomes arriving while the consumer takes them, it is seldom empty, and a plain
  // array emptied only when drained kept a slot per outcome (1,000,000 items: a million-slot array and its copies).
  const done = new Fifo<ParallelOutcome<T, Awaited<R>>>();
  // next() calls that found no outcome, oldest first: a consumer may call next() again before the last one settled.
  const waiters = new Fifo<{
    resolve: (r: IteratorResult<ParallelOutcome<T, Awaited<R>>, undefined>) => void;
    reject: (e: unknown) => void;
  }>();
  let ended = false;
  let error: Failure | null = null;
  let started = false;
  let unwatch: (() => void) | null = null;
  const pool = new KeyedPool<T, Awaited<R>>(
    items,
    concurrency,
    fn as ParallelMapper<T, Awaited<R>>,
    options,
    (index, item, ok, value) => {
      if (ok && value === parallelSkip) return;
      const outcome: ParallelOutcome<T, Awaited<R>> = ok
        ? { index, item, ok: true, value: value as Awaited<R> }
        : { index, item, ok: false, failure: value as Failure };
      if (waiters.length > 0) waiters.shift().resolve({ done: false, value: outcome });
      else done.push(outcome);
    },
    (failure) => {
      unwatch?.();
      ended = true;
      error = failure;
      // Waiters exist only while no outcome waits: the first gets the error, the others the end.
      while (waiters.length > 0) {
        const w = waiters.shift();
        if (error === null) w.resolve({ done: true, value: undefined });
        else {
          w.reject(error.value);
          error = null;
        }
      }
    },
  );
  pool.canStart = () => done.length < backpressure;
  const iterator: AsyncIterableIterator<ParallelOutcome<T, Awaited<R>>, undefined> & {
    _held(): KeyedStreamHeld;
  } = {
    [Symbol.asyncIterator]() {
      return iterator;
    },
    /** @internal For tests: what the pool and the outcomes waiting for the consumer hold now. */
    _held() {
      const held = pool.held();
      return { keys: held.keys, slots: held.slots + done.slots };
    },
    next() {
      if (!started) {
        started = true;
        unwatch = watchSignal(options.signal, pool as KeyedPool<unknown, unknown>);
      }
      if (done.length > 0) {
        const value = done.shift();
        pool.pump();
        return Promise.resolve({ done: false, value });
      }
      if (ended) {
        const e = error;
        error = null;
        return e === null ? Promise.resolve({ done: true, value: undefined }) : Promise.reject(e.value);
      }
      return new Promise((resolve, reject) => {
        waiters.push({ resolve, reject });
        pool.pump();
      });
    },
    return() {
      pool.stop();
      ended = true;
      error = null;
      done.clear();
      unwatch?.();
      // The next() calls still waiting (made without awaiting the one before) end too.
      for (const w of waiters.drain()) w.resolve({ done: true, value: undefined });
      return Promise.resolve({ done: true, value: undefined });
    },
  };
  return iterator;
}
