import { AsyncResource } from 'node:async_hooks';
import { Deferred } from './core/deferred.js';
import { TooManyReleasesError } from './core/errors.js';
import { Failure } from './core/failure.js';

type Job = (...args: never[]) => unknown;

function checkTokens(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`Expected \`${name}\` to be a whole number >= 1, got ${String(value)}`);
  }
  return value;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/** A queued `acquire()`: the job slot of a ticket that waits for a token but has no job to run. */
function ACQUIRE(): void {}
/** The job slot of a ticket whose job holds a token and has not finished. */
function RUNNING(): void {}

/** A queued job that was given arguments: the one case that costs an object more than the ticket. */
class JobWithArgs {
  readonly fn: Job;
  readonly args: readonly unknown[];
  constructor(fn: Job, args: readonly unknown[]) {
    this.fn = fn;
    this.args = args;
  }
}

/**
 * A place in a semaphore's queue: the Deferred `acquire()` or `run()` returned. For `run()` it also carries the job,
 * so that waiting costs one object and no closure. Its two slots change meaning with its state, so that the 200,000
 * tickets of a big batch stay small:
 *
 * - waiting in the queue: `_job` is the job (a function, a {@link JobWithArgs}, or ACQUIRE for `acquire()`), `_ctx`
 *   the caller's AsyncResource or null;
 * - starting in the caller's context: `_job` is RUNNING, `_ctx` the job;
 * - job running: `_job` is RUNNING, `_ctx` the Runner waiting for the job's outcome (which holds the Deferred the job
 *   returned, if it did) or null;
 * - otherwise (fired at once, finished, or cancelled while waiting): both are null.
 * @internal
 */
class Ticket<T> extends Deferred<T> {
  // Declared, and set in the constructor: faster than field initializers (see Deferred).
  declare _job: Job | JobWithArgs | null;
  declare _ctx: AsyncResource | Runner | Job | JobWithArgs | null;
  /** The ticket queued after this one. */
  declare _qnext: Ticket<unknown> | null;

  constructor(canceller: (d: Deferred<T>) => void, job: Job | JobWithArgs | null) {
    super(canceller);
    this._job = job;
    this._ctx = null;
    this._qnext = null;
  }
}

/**
 * Receives the outcome of a job that returned a Promise or Deferred. There are only as many runners as jobs running at
 * once, and each is reused, so a job needs no closures of its own to be told its outcome.
 * @internal
 */
class Runner {
  readonly sem: DeferredSemaphore;
  ticket: Ticket<unknown> | null = null;
  /** The Deferred the job returned, cancelled when the ticket is cancelled while the job runs. */
  inner: Deferred<unknown> | null = null;

  constructor(sem: DeferredSemaphore) {
    this.sem = sem;
  }

  ok = (value: unknown): void => {
    this.sem._settled(this, value);
  };
  err = (e: unknown): void => {
    this.sem._settled(this, new Failure(e));
  };
  dOk = (value: unknown): undefined => {
    this.sem._settled(this, value);
    return undefined;
  };
  // The job's outcome moves on to the ticket's chain, so the job's own Deferred continues with null (as Twisted does
  // when one Deferred waits on another).
  dErr = (failure: Failure): null => {
    this.sem._settled(this, failure);
    return null;
  };
}

/** A live, read-only view of the acquires waiting for a token, oldest first. Reading `length` is O(1). */
export interface WaitingQueue<T> extends Iterable<Deferred<T>> {
  /** How many acquires (or `run()` calls) wait for a token; cancelled ones are not counted. */
  readonly length: number;
}

class WaitingView<T> implements WaitingQueue<T> {
  readonly #sem: DeferredSemaphore;
  constructor(sem: DeferredSemaphore) {
    this.#sem = sem;
  }
  get length(): number {
    return this.#sem._waitingCount;
  }
  *[Symbol.iterator](): Iterator<Deferred<T>> {
    let t = this.#sem._head;
    while (t !== null) {
      // Read before yielding: the ticket may leave the queue while the caller looks at it.
      const next = t._qnext;
      if (t._job !== null) yield t as unknown as Deferred<T>;
      t = next;
    }
  }
}

/**
 * A semaphore whose `acquire()` returns a {@link Deferred} — Twisted's `DeferredSemaphore`. At most {@link limit}
 * holders at once; the others wait in a first-in first-out queue.
 *
 * - `acquire()` fires (synchronously when a token is free) with the semaphore; the holder must call `release()`.
 * - `run(fn, ...args)` acquires, calls `fn(...args)`, releases once the outcome of `fn` is known (a value, a throw, or
 *   the settlement of a returned Promise or Deferred), then fires with that outcome.
 * - Cancelling a waiting acquire (or `run()` Deferred) takes it out of the queue; cancelling a `run()` Deferred while
 *   its job runs cancels the Deferred the job returned, if it returned one.
 * - A `run()` job that has to wait runs in the AsyncLocalStorage context of whoever called `run()`.
 * - Handing tokens to waiters is a loop, not a recursion: any number of waiters whose jobs finish synchronously is safe.
 *
 * Beyond Twisted, {@link limit} can be changed while jobs run.
 */
export class DeferredSemaphore {
  /** @internal */ _limit: number;
  /** @internal */ _held = 0;
  // The queue is a list linked through the tickets: no buffer of 200,000 slots to grow and copy, and no pointers from
  // an old buffer to young tickets for the garbage collector to track.
  /** @internal The oldest queued ticket (cancelled ones stay until they reach the head or the queue is compacted). */
  _head: Ticket<unknown> | null = null;
  /** @internal The newest queued ticket. */
  _tail: Ticket<unknown> | null = null;
  /** @internal */ _waitingCount = 0;
  /** @internal */ _cancelledInQueue = 0;
  /** @internal */ _draining = false;
  /** @internal Free runners, reused job after job. */ _runners: Runner[] = [];
  /** @internal The canceller of every ticket of this semaphore: one closure per semaphore, none per ticket. */
  _cancel = (d: Deferred<unknown>): void => {
    const t = d as Ticket<unknown>;
    const job = t._job;
    if (job === RUNNING) {
      // Just before the job starts `_ctx` is the job; while it runs, the runner waiting for a returned Deferred.
      const r = t._ctx;
      if (r instanceof Runner && r.inner !== null) r.inner.cancel();
    } else if (job !== null) {
      t._job = null;
      t._ctx = null;
      this._dropCancelled();
    }
  };
  readonly #waiting: WaitingQueue<this>;

  /** @param tokens how many holders may hold the semaphore at once: a whole number >= 1. */
  constructor(tokens: number) {
    this._limit = checkTokens(tokens, 'tokens');
    this.#waiting = new WaitingView<this>(this);
  }

  /**
   * How many holders are allowed at once. Setting it (a whole number >= 1) takes effect at once: raising it starts
   * waiters, lowering it lets current holders finish and starts nobody new until fewer than the new limit hold a token.
   */
  get limit(): number {
    return this._limit;
  }

  set limit(value: number) {
    this._limit = checkTokens(value, 'limit');
    this._drain();
  }

  /** How many tokens are free now. */
  get tokens(): number {
    return this._held < this._limit ? this._limit - this._held : 0;
  }

  /** The acquires waiting for a token, oldest first (a live view: `waiting.length` is cheap). */
  get waiting(): WaitingQueue<this> {
    return this.#waiting;
  }

  /**
   * Takes a token. The Deferred fires with this semaphore — at once when a token is free, otherwise when one is
   * released and every earlier waiter has been served. Cancelling it while it waits removes it from the queue.
   */
  acquire(): Deferred<this> {
    const t = new Ticket<this>(this._cancel as (d: Deferred<this>) => void, null);
    if (this._held < this._limit && this._waitingCount === 0) {
      this._held++;
      t.callback(this);
    } else {
      t._job = ACQUIRE;
      this._enqueue(t as unknown as Ticket<unknown>);
    }
    return t;
  }

  /**
   * Gives a token back, and hands it to the oldest waiter if there is one.
   * @throws {TooManyReleasesError} when no token is held.
   */
  release(): void {
    if (this._held === 0) {
      throw new TooManyReleasesError();
    }
    this._held--;
    this._drain();
  }

  /**
   * Acquires a token, calls `fn(...args)`, releases the token when `fn`'s outcome is known (success or failure), and
   * fires with that outcome. `fn` may return a value or a Promise or Deferred, or throw.
   */
  run<R, A extends unknown[]>(fn: (...args: A) => R | PromiseLike<R>, ...args: A): Deferred<Awaited<R>> {
    if (typeof fn !== 'function') throw new TypeError(`Expected \`fn\` to be a function, got ${typeof fn}`);
    // A copy, so that the rest array never escapes and V8 need not allocate it for the usual call without arguments.
    const a = args.length === 0 ? null : args.slice();
    if (this._held < this._limit && this._waitingCount === 0) {
      const t = new Ticket<Awaited<R>>(this._cancel as (d: Deferred<Awaited<R>>) => void, RUNNING);
      this._held++;
      this._startJob(t as Ticket<unknown>, fn as Job, a);
      return t;
    }
    const t = new Ticket<Awaited<R>>(
      this._cancel as (d: Deferred<Awaited<R>>) => void,
      a === null ? (fn as Job) : new JobWithArgs(fn as Job, a),
    );
    // Only a job that waits pays for capturing its caller's async context. An AsyncResource is what
    // AsyncLocalStorage.snapshot() captures too, without the bound function snapshot() builds around it (20x dearer).
    t._ctx = new AsyncResource('DeferredSemaphore.run');
    this._enqueue(t as Ticket<unknown>);
    return t;
  }

  /** @internal */
  _enqueue(t: Ticket<unknown>): void {
    if (this._tail === null) this._head = t;
    else this._tail._qnext = t;
    this._tail = t;
    this._waitingCount++;
  }

  /** @internal A queued ticket was cancelled: count it, and compact the queue when it is mostly dead entries. */
  _dropCancelled(): void {
    this._waitingCount--;
    this._cancelledInQueue++;
    if (this._cancelledInQueue > 64 && this._cancelledInQueue > this._waitingCount) {
      this._compact();
      this._cancelledInQueue = 0;
    }
  }

  /** @internal Unlinks the cancelled tickets from the queue. */
  _compact(): void {
    let prev: Ticket<unknown> | null = null;
    let t = this._head;
    while (t !== null) {
      const next: Ticket<unknown> | null = t._qnext;
      if (t._job === null) {
        t._qnext = null;
        if (prev === null) this._head = next;
        else prev._qnext = next;
      } else {
        prev = t;
      }
      t = next;
    }
    this._tail = prev;
  }

  /** @internal Hands free tokens to waiters. Re-entrant calls return at once: the outer loop picks up their work. */
  _drain(): void {
    if (this._draining) return;
    this._draining = true;
    try {
      while (this._held < this._limit && this._waitingCount > 0) {
        const t = this._head as Ticket<unknown>;
        this._head = t._qnext;
        if (this._head === null) this._tail = null;
        t._qnext = null;
        const job = t._job;
        if (job === null) {
          // Cancelled while it waited.
          this._cancelledInQueue--;
          continue;
        }
        this._waitingCount--;
        this._held++;
        if (job === ACQUIRE) {
          t._job = null;
          t.callback(this);
        } else {
          const context = t._ctx as AsyncResource | null;
          t._job = RUNNING;
          if (context === null) {
            if (typeof job === 'function') this._startJob(t, job, null);
            else this._startJob(t, job.fn, job.args);
          } else {
            // The job waits in `_ctx`, so that runInAsyncScope gets one argument, not four.
            t._ctx = job;
            context.runInAsyncScope(startInContext, this, t);
          }
        }
      }
    } finally {
      this._draining = false;
    }
  }

  /** @internal Runs the job of a ticket that holds a token (its `_job` is already RUNNING). */
  _startJob(t: Ticket<unknown>, fn: Job, args: readonly unknown[] | null): void {
    let out: unknown;
    try {
      out = args === null ? (fn as () => unknown)() : fn(...(args as never[]));
    } catch (e) {
      this._finish(t, new Failure(e));
      return;
    }
    if (out instanceof Deferred) {
      const r = this._runner(t);
      r.inner = out;
      out.addCallbacks(r.dOk, r.dErr);
    } else if (out instanceof Promise) {
      const r = this._runner(t);
      out.then(r.ok, r.err);
    } else if (isThenable(out)) {
      // A foreign thenable might call back twice or throw; a Promise adopting it does neither.
      const r = this._runner(t);
      Promise.resolve(out).then(r.ok, r.err);
    } else {
      this._finish(t, out);
    }
  }

  /** @internal */
  _runner(t: Ticket<unknown>): Runner {
    if (t._ctx !== null) return t._ctx as Runner;
    const r = this._runners.pop() ?? new Runner(this);
    r.ticket = t;
    t._ctx = r;
    return r;
  }

  /** @internal A runner's job settled: the runner is free for the next job. */
  _settled(r: Runner, outcome: unknown): void {
    const t = r.ticket;
    if (t === null) return;
    r.ticket = null;
    r.inner = null;
    t._ctx = null;
    this._runners.push(r);
    this._finish(t, outcome);
  }

  /** @internal The job's outcome is known: give the token back, then fire the ticket (unless it was cancelled). */
  _finish(t: Ticket<unknown>, outcome: unknown): void {
    if (t._job !== RUNNING) return;
    t._job = null;
    this._held--;
    this._drain();
    if (!t.called) t._start(outcome);
  }
}

function startInContext(this: DeferredSemaphore, t: Ticket<unknown>): void {
  const job = t._ctx as Job | JobWithArgs;
  t._ctx = null;
  if (typeof job === 'function') this._startJob(t, job, null);
  else this._startJob(t, job.fn, job.args);
}

/**
 * A mutual-exclusion lock whose `acquire()` returns a {@link Deferred} — Twisted's `DeferredLock`: a
 * {@link DeferredSemaphore} of one token, with the same `run()`, cancellation and first-in first-out order.
 */
export class DeferredLock extends DeferredSemaphore {
  constructor() {
    super(1);
  }

  /** True while someone holds the lock. */
  get locked(): boolean {
    return this._held > 0;
  }

  /** Always 1: a lock's limit cannot be changed. */
  override get limit(): number {
    return 1;
  }

  override set limit(value: number) {
    throw new TypeError(`A DeferredLock's limit is always 1, cannot set it to ${String(value)}`);
  }

  /**
   * Unlocks, handing the lock to the oldest waiter if there is one.
   * @throws {Error} when the lock is not held.
   */
  override release(): void {
    if (this._held === 0)
      throw new TooManyReleasesError('release() was called on a DeferredLock that is not locked');
    super.release();
  }
}
