import { checkObject, checkWhole, isThenable } from '../core/args.js';
import { Deferred, fail, succeed } from '../core/deferred.js';
import { QueueClosed, QueueOverflow, QueueUnderflow } from '../core/errors.js';
import type { Failure } from '../core/failure.js';
import { Fifo } from './fifo.js';

export { QueueClosed, QueueOverflow, QueueUnderflow };

/** Options of {@link DeferredQueue}. */
export interface DeferredQueueOptions {
  /**
   * The most items the queue holds while no `get()` waits for them: a whole number >= 0, or `Infinity` (the default).
   * A `put()` beyond it throws {@link QueueOverflow}.
   */
  size?: number;
  /**
   * The most `get()`s that may wait at once on an empty queue: a whole number >= 0, or `Infinity` (the default). A
   * `get()` beyond it throws {@link QueueUnderflow}.
   */
  backlog?: number;
}

function checkLimit(value: unknown, name: string): number {
  return value === undefined ? Number.POSITIVE_INFINITY : checkWhole(value, name, 0, true);
}

/**
 * A first-in first-out queue whose `get()` returns a {@link Deferred} — Twisted's `DeferredQueue`: a producer puts
 * items in, consumers get them out, and a consumer that asks before an item is there waits.
 *
 * - `put(item)` hands the item to the oldest waiting `get()` at once (its callbacks run synchronously), or keeps it.
 * - `get()` fires at once with the oldest item kept, or waits for the next `put()`. Waiting gets are served first in,
 *   first out; cancelling one that waits removes it from the line (it fails with `CancelledError`).
 * - `size` bounds the items kept ({@link QueueOverflow} from `put()`), `backlog` the gets waiting
 *   ({@link QueueUnderflow} from `get()`); both are thrown synchronously, as in Twisted.
 * - `for await (const item of queue)` gets items one after another until the queue is closed and empty; leaving the
 *   loop early cancels the get it was waiting on, if any.
 * - `close()` ends it (beyond Twisted): no more `put()`s ({@link QueueClosed}), items already kept are still handed
 *   out, and gets that can never be served — waiting when it closes, or asked of a closed, empty queue — fail with
 *   {@link QueueClosed}.
 *
 @remarks
 * ```ts
 * import { DeferredQueue } from 'async-batching';
 *
 * const queue = new DeferredQueue<string>(); // options: { size, backlog }, both Infinity by default
 * const workers = [1, 2, 3].map(async () => {
 *   for await (const url of queue) await getPage(url); // ends once the queue is closed and empty
 * });
 * for (const url of urls) queue.put(url);
 * queue.close();
 * await Promise.all(workers);
 * ```
 *
 * Twisted's producer/consumer queue. `put(item)` hands the item to the oldest waiting `get()` at once, or keeps it;
 * `get()` gives a `Deferred` of the oldest item, or waits for the next `put()` — waiting gets are served first in, first
 * out, and cancelling one takes it out of line. Past `size` kept items `put()` throws `QueueOverflow`, past `backlog`
 * waiting gets `get()` throws `QueueUnderflow` (synchronously, as in Twisted). Beyond Twisted, `close()` ends the queue:
 * `put()` then throws `QueueClosed`, kept items are still handed out, and gets that can never be served fail with
 * `QueueClosed`; `for await (const item of queue)` stops there, and leaving the loop early cancels the get it waits on.
 * `pending` and `waiting` count kept items and waiting gets. A bad `size`/`backlog` is a `RangeError` or `TypeError`
 * naming it; putting a Deferred or Promise is a `TypeError` (a Deferred cannot fire with one: put its result).
 */
export class DeferredQueue<T> implements AsyncIterable<T> {
  /** The most items kept while nobody waits for them (`Infinity`: no limit). */
  readonly size: number;
  /** The most gets that may wait at once (`Infinity`: no limit). */
  readonly backlog: number;
  readonly #items = new Fifo<T>();
  // Cancelled gets stay in this line, already fired, until they reach its head or the line is compacted.
  readonly #getters = new Fifo<Deferred<T>>();
  #waiting = 0;
  #cancelledInLine = 0;
  #closed = false;
  readonly #cancelGet = (cancelled: Deferred<T>): void => {
    this.#waiting--;
    this.#cancelledInLine++;
    if (this.#cancelledInLine > 64 && this.#cancelledInLine > this.#waiting) {
      // `cancelled` fires only after its canceller returns, so it is not yet `called`.
      this.#getters.retain((d) => d !== cancelled && !d.called);
      this.#cancelledInLine = 0;
    }
  };

  constructor(options: DeferredQueueOptions = {}) {
    checkObject(options, 'options');
    this.size = checkLimit(options.size, 'size');
    this.backlog = checkLimit(options.backlog, 'backlog');
  }

  /** How many items are kept, waiting for a `get()`. */
  get pending(): number {
    return this.#items.length;
  }

  /** How many `get()`s wait for an item (cancelled ones are not counted). */
  get waiting(): number {
    return this.#waiting;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds an item: the oldest waiting `get()` fires with it at once, or the queue keeps it.
   * @throws {QueueOverflow} when nobody waits and the queue already keeps `size` items.
   * @throws {QueueClosed} when the queue is closed.
   * @throws {TypeError} when `item` is a Deferred or Promise (a Deferred cannot fire with one; put its result instead).
   */
  put(item: T): void {
    if (this.#closed) throw new QueueClosed('put() was called on a closed queue');
    if (isThenable(item)) {
      throw new TypeError(
        'Expected `item` not to be a Deferred or Promise; put its result instead, once it has one',
      );
    }
    const getter = this.#nextGetter();
    if (getter !== null) {
      getter.callback(item);
    } else if (this.#items.length < this.size) {
      this.#items.push(item);
    } else {
      throw new QueueOverflow(this.size);
    }
  }

  /**
   * Takes the oldest item out. The Deferred fires with it at once when the queue keeps one; otherwise it waits for
   * the next `put()`, after every get that was waiting before it. Cancelling it while it waits takes it out of line.
   * @throws {QueueUnderflow} when the queue is empty and `backlog` gets already wait.
   */
  get(): Deferred<T> {
    if (this.#items.length > 0) return succeed(this.#items.shift());
    if (this.#closed) return fail(new QueueClosed('get() was called on a closed, empty queue'));
    if (this.#waiting >= this.backlog) throw new QueueUnderflow(this.backlog);
    const d = new Deferred<T>(this.#cancelGet);
    this.#getters.push(d);
    this.#waiting++;
    return d;
  }

  /**
   * Closes the queue: `put()` throws {@link QueueClosed} from now on, the items it keeps are still handed out, and
   * the gets waiting now fail with QueueClosed (nothing can serve them). Closing twice does nothing.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const getters = this.#getters.drain();
    this.#waiting = 0;
    this.#cancelledInLine = 0;
    for (const d of getters) {
      if (!d.called) d.errback(new QueueClosed('The queue was closed while get() waited'));
    }
  }

  /** Gets items one after another until the queue is closed and empty. */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return new QueueIterator(this);
  }

  /** The oldest get still waiting, taken out of line; null when none waits. */
  #nextGetter(): Deferred<T> | null {
    while (this.#getters.length > 0) {
      const d = this.#getters.shift();
      if (!d.called) {
        this.#waiting--;
        return d;
      }
      this.#cancelledInLine--;
    }
    return null;
  }
}

/** A `for await` consumer of a {@link DeferredQueue}: each `next()` is one `get()`. */
class QueueIterator<T> implements AsyncIterator<T, undefined> {
  readonly #queue: DeferredQueue<T>;
  /** The gets asked for and not yet fired, so that `return()` can cancel them. */
  readonly #outstanding = new Set<Deferred<T>>();
  #finished = false;

  constructor(queue: DeferredQueue<T>) {
    this.#queue = queue;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#finished || (this.#queue.closed && this.#queue.pending === 0)) {
      this.#finished = true;
      return Promise.resolve({ done: true, value: undefined });
    }
    let d: Deferred<T>;
    try {
      d = this.#queue.get();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.#outstanding.add(d);
      d.addCallbacks(
        (value: T) => {
          this.#outstanding.delete(d);
          resolve({ done: false, value });
        },
        (failure: Failure) => {
          this.#outstanding.delete(d);
          // A get cancelled by return(), or failed because the queue closed, ends the iteration.
          if (this.#finished || failure.check(QueueClosed) !== null) {
            this.#finished = true;
            resolve({ done: true, value: undefined });
          } else {
            reject(failure.value);
          }
          return null;
        },
      );
    });
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.#finished = true;
    for (const d of [...this.#outstanding]) d.cancel();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
