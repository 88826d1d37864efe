/**
 * An adaptive batch window: many `load(key)` calls grouped into few `bulkFn(keys)` calls. A batch leaves when it is
 * full (`maxSize`), when its oldest call has waited `maxWait`, or as soon as it holds `minSize` calls and a bulk slot
 * is free (`concurrency` bulk calls at most in flight). So light load gets small, fast batches — a lone call goes out
 * at the end of the current tick — and heavy load, with every slot busy, fills batches up to `maxSize` while it waits.
 *
 * DataLoader batches by event-loop tick only: a batch is whatever arrived in one tick, however many bulk calls are in
 * flight; it has no minimum size, no maximum wait and no bound on concurrent bulk calls.
 */

import { runInto } from '../blocks/job.js';
import { checkFn, checkMs, checkObject, checkWhole } from '../core/args.js';
import { type Clock, checkClock, systemClock } from '../core/clock.js';
import { Deferred } from '../core/deferred.js';
import { channels } from '../core/diagnostics.js';
import { BatchResultCountError } from '../core/errors.js';
import type { Failure } from '../core/failure.js';

/** Options of {@link batcher}. */
export interface BatcherOptions {
  /** The most keys in one bulk call: a whole number >= 1. Default 100. */
  maxSize?: number;
  /** A batch leaves early, when a slot is free, only once it has this many keys (1 to maxSize). Default 1. */
  minSize?: number;
  /** The longest a call waits for its batch to leave, in milliseconds (then it leaves even below minSize). Default 10. */
  maxWait?: number;
  /** How many bulk calls may be in flight at once: a whole number >= 1. Default 1. */
  concurrency?: number;
  /** The time source for `maxWait`. Default: the real clock. */
  clock?: Clock;
}

/** What {@link batcher} returns. */
export interface Batcher<K, V> {
  /**
   * Queues `key` for a bulk call and fires with its result, or fails with its error (an `Error` in its place of the
   * results), the bulk call's failure, or a {@link BatchResultCountError}. Cancelling it before its batch leaves takes
   * the key out of the batch; afterwards the bulk call goes on and this key's result is dropped (when every key of a
   * batch is cancelled, the bulk call's own Deferred is cancelled too, if it returned one).
   */
  load(key: K): Deferred<V>;
  /** Sends the open batch now, if it has keys (waiting for a free slot if none is). */
  flush(): void;
  /** Keys waiting for their batch to leave. */
  readonly pending: number;
  /** Bulk calls in flight. */
  readonly inFlight: number;
  /** Bulk calls made so far. */
  readonly calls: number;
}

/** The result a bulk function gives: one value (or an `Error` for a key that failed) per key, in the keys' order. */
export type BulkFunction<K, V> = (
  keys: K[],
) => ReadonlyArray<V | Error> | PromiseLike<ReadonlyArray<V | Error>>;

class Load<K, V> extends Deferred<V> {
  // Declared, and set in the constructor: faster than field initializers for an object made per load (see Deferred).
  declare readonly key: K;
  declare batch: Batch<K, V> | null;

  constructor(canceller: (d: Deferred<V>) => void, key: K, batch: Batch<K, V>) {
    super(canceller);
    this.key = key;
    this.batch = batch;
  }
}

class Batch<K, V> {
  loads: Load<K, V>[] = [];
  /** Loads not cancelled. */
  live = 0;
  timer: unknown = null;
  /** Set once the batch left: no more loads join it, cancelling one drops only its own result. */
  sent = false;
  bulk: Deferred<unknown> | null = null;
}

/**
 * Groups `load(key)` calls into `bulkFn(keys)` calls (see {@link BatcherOptions} for when a batch leaves). `bulkFn` may
 * return an array, a Promise or a Deferred of one; it must hold one result per key, in order — a shorter or longer
 * answer fails the whole batch with a {@link BatchResultCountError}. Keys are not de-duplicated: each `load` gets its
 * own place.
 *
 @remarks
 * **`batcher(bulkFn, { maxSize, minSize, maxWait, concurrency })`** — an adaptive batch window.
 *
 * ```ts
 * import { batcher } from 'async-batching';
 *
 * const users = batcher(async (ids: string[]) => fetchUsersInBulk(ids), { maxSize: 100, minSize: 1, maxWait: 10, concurrency: 2 });
 * const [a, b] = await Promise.all([users.load('a'), users.load('b')]); // one bulk call for both
 * ```
 *
 * A batch leaves when it is full, when its oldest load has waited `maxWait` ms, or — at the end of the tick — once it has
 * `minSize` loads and one of `concurrency` bulk calls is free. `bulkFn` returns one result per key, in order (an array,
 * Promise or Deferred); an `Error` in a key's place fails that load only, a failed bulk call fails all its loads, and a
 * wrong number of results fails them with `BatchResultCountError`. Cancelling a load before its batch leaves removes it;
 * when every load of a sent batch is cancelled, the bulk call's Deferred is cancelled. Defaults: `maxSize` 100, `minSize`
 * 1, `maxWait` 10, `concurrency` 1. Keys are not de-duplicated and nothing is cached (DataLoader does both).
 */
export function batcher<K, V>(bulkFn: BulkFunction<K, V>, options: BatcherOptions = {}): Batcher<K, V> {
  checkFn(bulkFn, 'bulkFn');
  checkObject(options, 'options');
  const maxSize = checkWhole(options.maxSize ?? 100, 'maxSize', 1);
  const minSize = checkWhole(options.minSize ?? 1, 'minSize', 1);
  if (minSize > maxSize) {
    throw new RangeError(`Expected \`minSize\` to be at most \`maxSize\` (${maxSize}), got ${minSize}`);
  }
  const maxWait = checkMs(options.maxWait ?? 10, 'maxWait');
  const concurrency = checkWhole(options.concurrency ?? 1, 'concurrency', 1);
  const clock = options.clock === undefined ? systemClock : checkClock(options.clock, 'clock');

  let open: Batch<K, V> | null = null;
  /** Batches that left (full or timed out) and wait for a slot, oldest first. */
  const ready: Batch<K, V>[] = [];
  let inFlight = 0;
  let calls = 0;
  let pendingKeys = 0;
  let checkQueued = false;

  const cancelLoad = (d: Deferred<V>): void => {
    const load = d as Load<K, V>;
    const batch = load.batch;
    if (batch === null) return;
    load.batch = null;
    batch.live--;
    if (!batch.sent) {
      pendingKeys--;
      if (batch.live === 0) {
        if (batch.timer !== null) clock.clearTimeout(batch.timer);
        batch.timer = null;
        if (open === batch) open = null;
        else {
          const i = ready.indexOf(batch);
          if (i >= 0) ready.splice(i, 1);
        }
      }
    } else if (batch.live === 0 && batch.bulk !== null) {
      batch.bulk.cancel();
    }
  };

  /** The batch takes no more keys: its timer stops, and it is no longer the open one. */
  const detach = (batch: Batch<K, V>): void => {
    if (batch.timer !== null) {
      clock.clearTimeout(batch.timer);
      batch.timer = null;
    }
    if (open === batch) open = null;
  };

  /** The batch leaves as soon as a slot is free. */
  const close = (batch: Batch<K, V>): void => {
    detach(batch);
    ready.push(batch);
  };

  const deliver = (batch: Batch<K, V>, results: unknown): void => {
    const n = batch.loads.length;
    if (!Array.isArray(results) || results.length !== n) {
      const error = new BatchResultCountError(n, Array.isArray(results) ? results.length : -1);
      for (const load of batch.loads) {
        if (load.batch === batch && !load.called) {
          load.batch = null;
          load.errback(error);
        }
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const load = batch.loads[i] as Load<K, V>;
      if (load.batch !== batch || load.called) continue;
      load.batch = null;
      const r = results[i];
      if (r instanceof Error) load.errback(r);
      else load.callback(r as V);
    }
  };

  const send = (batch: Batch<K, V>): void => {
    batch.sent = true;
    // Cancelled loads leave no hole: the bulk call sees only live keys.
    if (batch.live !== batch.loads.length) batch.loads = batch.loads.filter((l) => l.batch === batch);
    pendingKeys -= batch.live;
    inFlight++;
    calls++;
    const keys = batch.loads.map((l) => l.key);
    if (channels.batch.hasSubscribers) channels.batch.publish({ batcher: self, keys });
    const outcome = new Deferred<unknown>();
    outcome.addCallbacks(
      (results: unknown) => {
        batch.bulk = null;
        inFlight--;
        deliver(batch, results);
        pump();
        return undefined;
      },
      (failure: Failure) => {
        batch.bulk = null;
        inFlight--;
        for (const load of batch.loads) {
          if (load.batch === batch && !load.called) {
            load.batch = null;
            load.errback(failure.value);
          }
        }
        pump();
        return null;
      },
    );
    batch.bulk = runInto(bulkFn as (...a: never[]) => unknown, [keys], outcome);
  };

  /** Sends what may leave while slots are free: closed batches first, then the open one if it has minSize keys. */
  const pump = (): void => {
    while (inFlight < concurrency) {
      const next = ready.shift();
      if (next !== undefined) {
        send(next);
        continue;
      }
      if (open !== null && open.live >= minSize) {
        const b = open;
        detach(b);
        send(b);
        continue;
      }
      break;
    }
  };

  const check = (): void => {
    checkQueued = false;
    pump();
  };

  const self: Batcher<K, V> = {
    load(key: K): Deferred<V> {
      let batch = open;
      if (batch === null) {
        batch = new Batch<K, V>();
        open = batch;
        const b = batch;
        b.timer = clock.setTimeout(() => {
          b.timer = null;
          if (open === b) {
            close(b);
            pump();
          }
        }, maxWait);
      }
      const load = new Load<K, V>(cancelLoad, key, batch);
      batch.loads.push(load);
      batch.live++;
      pendingKeys++;
      if (batch.live >= maxSize) {
        close(batch);
        pump();
      } else if (!checkQueued) {
        // Calls made in the same tick join the batch before it may leave early.
        checkQueued = true;
        queueMicrotask(check);
      }
      return load;
    },
    flush(): void {
      if (open !== null && open.live > 0) {
        close(open);
        pump();
      }
    },
    get pending() {
      return pendingKeys;
    },
    get inFlight() {
      return inFlight;
    },
    get calls() {
      return calls;
    },
  };
  return self;
}
