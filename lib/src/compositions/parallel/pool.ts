import { isThenable } from '../../core/args.js';
import { reportUnhandled } from '../../core/chain.js';
import { CancelledError, Deferred } from '../../core/deferred.js';
import { channels } from '../../core/diagnostics.js';
import { Failure } from '../../core/failure.js';
import { CooperatorLanes } from './cooperator-lanes.js';
import { type LanePool, type Lanes, PULLING } from './lanes.js';
import {
  type AnyIterator,
  iteratorOf,
  type ParallelMapper,
  type ParallelOptions,
  parallelSkip,
} from './options.js';
import { WorkerLanes } from './worker-lanes.js';

function ignore(): void {}

/**
 * Counts the failure at the end of `d`'s chain as handled, exactly as `await d` does, without changing what `d`'s
 * later callbacks see: the pool has recorded it as an outcome (or cancelled the job itself), so reporting it again
 * when `d` is collected would be a false alarm. Only on the failure path, so a successful job costs nothing more.
 */
function observe(d: Deferred<unknown> | null): void {
  if (d !== null) d.asPromise().then(undefined, ignore);
}

/**
 * Hands `failure` to the reporter of unhandled failures, as the Deferred core does for a failure nobody handled: for
 * errors that have no caller to go to, such as a canceller that throws.
 */
function report(failure: Failure): void {
  try {
    reportUnhandled(failure);
  } catch {
    // A reporter that throws must not stop the batch from settling.
  }
}

/**
 * An array's Promises already run, and one that rejects before the pool pulls it would be an unhandled rejection,
 * which ends a Node process. A handler on each now keeps that from happening; the pool still receives the rejection
 * when it awaits the item, as that item's failure.
 */
function handleRejections(items: readonly unknown[]): void {
  for (const item of items) {
    if (item instanceof Promise) {
      try {
        item.then(undefined, ignore);
      } catch {
        // A Promise subclass whose `then` throws: the pool meets the same throw when it awaits the item.
      }
    }
  }
}

function abortError(signal: AbortSignal): Failure {
  return new Failure(new CancelledError('The operation was aborted', { cause: signal.reason }));
}

/**
 * A worker's place in the pool, reused job after job, so that settling a job needs no closure of its own. A job is
 * the item's own settling (when the item is a Promise or Deferred), then `fn`'s call and the settling of its result.
 * @internal
 */
export class Slot<T, R> {
  readonly pool: Pool<T, R>;
  /** The slot's position in {@link Pool.slots}. */
  readonly id: number;
  /** The job's index in the input, unique per job, so a late call can tell its job from the slot's next one. */
  index = 0;
  item: T | undefined = undefined;
  busy = false;
  /** The Deferred the job waits on (the item's, then the one `fn` returned), cancelled on abort. */
  d: Deferred<unknown> | null = null;
  /** The next free slot while this one is free. */
  nextFree: Slot<T, R> | null = null;
  /** The Promise `.then(ok, err)` returned for a Promise job: it resolves with what {@link Pool.outcome} returns. */
  p: Promise<unknown> | null = null;

  constructor(pool: Pool<T, R>, id: number) {
    this.pool = pool;
    this.id = id;
  }

  /** What the Promise that `ok`/`err` settle resolves with: {@link Pool.outcome}'s return value. */
  ok = (value: unknown): unknown => this.pool.settle(this, true, value);
  err = (e: unknown): unknown => this.pool.settle(this, false, new Failure(e));
  // The links on a job's Deferred pass its result through: the Deferred may be shared, or cached, by its maker.
  dOk = (value: unknown): unknown => {
    this.pool.settle(this, true, value);
    return value;
  };
  dErr = (failure: Failure): Failure => {
    const d = this.d;
    this.pool.settle(this, false, failure);
    observe(d);
    return failure;
  };
  /** The item was a Promise or thenable and has settled. */
  itemOk = (value: unknown): void => {
    if (this.busy && !this.pool.finished) this.pool.run(this, value);
  };
  itemErr = (e: unknown): void => {
    this.pool.settle(this, false, new Failure(e));
  };
  /** The item was a Deferred and has fired: its result passes through, as a job's does. */
  itemDOk = (value: unknown): unknown => {
    this.d = null;
    if (this.busy && !this.pool.finished) this.pool.run(this, value);
    return value;
  };
  itemDErr = this.dErr;
}

/**
 * The lazy worker pool behind {@link parallel} and {@link parallelStream}: up to `concurrency` jobs in flight, each
 * input pulled from the shared iterator only when its {@link Lanes} allow one more.
 * @internal
 */
export abstract class Pool<T, R> implements LanePool {
  readonly it: AnyIterator<T>;
  readonly isAsync: boolean;
  readonly fn: ParallelMapper<unknown, R>;
  readonly concurrency: number;
  readonly signal: AbortSignal | undefined;
  readonly stopOnError: boolean;
  readonly lanes: Lanes;
  readonly slots: Slot<T, R>[] = [];
  /** The free slots, a stack linked through {@link Slot.nextFree}. */
  free: Slot<T, R> | null = null;
  inFlight = 0;
  nextIndex = 0;
  pulling = false;
  sourceDone = false;
  finished = false;

  constructor(
    items: Iterable<T> | AsyncIterable<T>,
    concurrency: number,
    fn: ParallelMapper<unknown, R>,
    o: ParallelOptions,
  ) {
    if (Array.isArray(items)) handleRejections(items);
    const { it, isAsync } = iteratorOf(items);
    this.it = it;
    this.isAsync = isAsync;
    this.fn = fn;
    this.concurrency = concurrency;
    this.signal = o.signal;
    this.stopOnError = o.stopOnError === true;
    this.lanes = o.cooperator === undefined ? new WorkerLanes(this) : new CooperatorLanes(this, o.cooperator);
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
  /** Records that the job at `index` returned {@link parallelSkip}. */
  abstract skip(index: number): void;
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
    this.lanes.start();
  }

  onAbort = (): void => {
    this.abort(abortError(this.signal as AbortSignal));
  };

  /** Whether one more input may be pulled now. */
  mayPull(): boolean {
    return (
      !this.finished &&
      !this.sourceDone &&
      !this.pulling &&
      this.inFlight < this.concurrency &&
      this.canStart()
    );
  }

  maybeEnd(): void {
    if (this.sourceDone && this.inFlight === 0 && !this.pulling && !this.finished) {
      this.finish(null, false, false);
    }
  }

  /**
   * Pulls one input and starts its job. Returns the job's slot while the job runs; {@link PULLING} while an async
   * source's `next()` is pending ({@link Lanes.pulled} follows); null otherwise (the job settled at once, the source
   * ended or failed).
   */
  pull(): Slot<T, R> | null | typeof PULLING {
    let r: unknown;
    try {
      r = this.it.next();
      if (this.isAsync && isThenable(r)) {
        Promise.resolve(r).then(this.onPulled, this.onPullFailed);
        this.pulling = true;
        return PULLING;
      }
    } catch (e) {
      this.fail(new Failure(e));
      return null;
    }
    return this.accept(r);
  }

  onPulled = (r: unknown): void => {
    this.pulling = false;
    this.lanes.pulled(this.finished ? null : this.accept(r));
  };

  onPullFailed = (e: unknown): void => {
    this.pulling = false;
    this.fail(new Failure(e));
    this.lanes.pulled(null);
  };

  /** Starts the job of one iterator result, or notes the end of the source. */
  accept(r: unknown): Slot<T, R> | null {
    let done: unknown;
    let item: unknown;
    try {
      if (r === null || typeof r !== 'object')
        throw new TypeError(`Iterator result ${String(r)} is not an object`);
      done = (r as IteratorResult<T>).done;
      if (!done) item = (r as IteratorResult<T>).value;
    } catch (e) {
      // A result whose `done` or `value` getter throws is the source's failure, as it would be for `for...of`.
      this.fail(new Failure(e));
      return null;
    }
    if (done) {
      this.sourceDone = true;
      this.maybeEnd();
      return null;
    }
    return this.startJob(item as T);
  }

  startJob(item: T): Slot<T, R> | null {
    let slot = this.free;
    if (slot === null) slot = this.newSlot();
    else this.free = slot.nextFree;
    const index = this.nextIndex++;
    slot.busy = true;
    slot.index = index;
    slot.item = item;
    this.inFlight++;
    if (channels.jobStart.hasSubscribers) {
      channels.jobStart.publish({ kind: 'pool', source: this, index });
    }
    if (item !== null && (typeof item === 'object' || typeof item === 'function')) {
      // An item that is a Deferred or a Promise is awaited in its slot before `fn` sees it, as p-map does.
      try {
        if (item instanceof Deferred) {
          slot.d = item;
          item.addCallbacks(slot.itemDOk, slot.itemDErr);
          return this.running(slot, index);
        }
        if (isThenable(item)) {
          Promise.resolve(item).then(slot.itemOk, slot.itemErr);
          return slot;
        }
      } catch (e) {
        // A hostile item (a `then` getter that throws, a revoked Proxy) fails that item only.
        this.failJob(slot, index, e);
        return null;
      }
    }
    this.run(slot, item);
    return this.running(slot, index);
  }

  /** `slot` while it still runs the job at `index`, else null. */
  running(slot: Slot<T, R>, index: number): Slot<T, R> | null {
    return slot.busy && slot.index === index ? slot : null;
  }

  failJob(slot: Slot<T, R>, index: number, e: unknown): void {
    if (this.running(slot, index) !== null) this.settle(slot, false, new Failure(e));
  }

  /** Calls `fn` for the job in `slot` and follows what it returns: whatever it returns or throws is the outcome. */
  run(slot: Slot<T, R>, value: unknown): void {
    const index = slot.index;
    let out: unknown;
    try {
      out = this.fn(value, index);
      // The common case first: a native Promise is one prototype away, a Deferred two.
      if (out instanceof Promise && out.constructor === Promise) {
        slot.p = out.then(slot.ok, slot.err);
        return;
      }
      if (out instanceof Deferred) {
        slot.d = out;
        out.addCallbacks(slot.dOk, slot.dErr);
        return;
      }
      if (isThenable(out)) {
        // A foreign thenable (or Promise subclass) might call back twice or throw; a Promise adopting it does neither.
        slot.p = Promise.resolve(out).then(slot.ok, slot.err);
        return;
      }
    } catch (e) {
      // Also what a `then` getter or a revoked Proxy throws while the result is looked at.
      this.failJob(slot, index, e);
      return;
    }
    this.settle(slot, true, out);
  }

  newSlot(): Slot<T, R> {
    const slot = new Slot(this, this.slots.length);
    this.slots.push(slot);
    return slot;
  }

  /** A job's outcome is known: returns what the job's Promise subscription (if any) resolves with. */
  settle(slot: Slot<T, R>, ok: boolean, value: unknown): unknown {
    if (!slot.busy) return undefined;
    if (channels.jobEnd.hasSubscribers) {
      channels.jobEnd.publish({
        kind: 'pool',
        source: this,
        index: slot.index,
        ok,
        ...(ok ? {} : { error: (value as Failure).value }),
      });
    }
    slot.busy = false;
    slot.d = null;
    const { index, item, p } = slot;
    slot.item = undefined;
    slot.p = null;
    slot.nextFree = this.free;
    this.free = slot;
    this.inFlight--;
    if (this.finished) return undefined;
    let result: unknown;
    if (ok) {
      if (value === parallelSkip) this.skip(index);
      else result = this.outcome(index, item as T, true, value, p);
    } else if (this.stopOnError) {
      this.finish(value as Failure, true, false);
      return undefined;
    } else {
      result = this.outcome(index, item as T, false, value, p);
    }
    this.lanes.jobDone(slot);
    return result;
  }

  /** The source failed (or the Cooperator stopped): stop, cancel what runs, and end with `failure`. */
  fail(failure: Failure): void {
    this.finish(failure, false, false);
  }

  /** Stopped from outside (signal, cancel, `break`): also closes the source, as `for...of` would. */
  abort(failure: Failure | null): void {
    this.finish(failure, true, true);
  }

  finish(failure: Failure | null, close: boolean, dropOutcomes: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.lanes.stop();
    if (close) this.closeSource();
    if (this.inFlight > 0) this.cancelInFlight();
    this.end(failure, dropOutcomes);
  }

  closeSource(): void {
    try {
      const out = this.it.return?.();
      if (isThenable(out)) out.then(undefined, ignore);
    } catch {
      // A generator that is running (the abort came from inside it) cannot be closed; it is not stepped again anyway.
    }
  }

  /**
   * Cancels every Deferred in flight. A canceller that throws is reported as an unhandled failure would be, and
   * never stops the others from being cancelled nor the pool from ending (Twisted logs it and carries on).
   */
  cancelInFlight(): void {
    for (const slot of this.slots) {
      const d = slot.d;
      if (!slot.busy || d === null) continue;
      try {
        d.cancel();
      } catch (e) {
        report(e instanceof Failure ? e : new Failure(e));
      }
    }
  }
}
