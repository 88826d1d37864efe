import { checkFn } from '../../core/args.js';
import { CallerContextResource } from '../../core/async-context.js';
import { Deferred } from '../../core/deferred.js';
import { channels, type JobSource } from '../../core/diagnostics.js';
import { CancelledError, TooManyReleasesError } from '../../core/errors.js';
import { Failure } from '../../core/failure.js';
import { DONE, type Job, JobArgs, NO_ARGS, RUNNING, Runner, Ticket, WAITING } from './ticket.js';

const nativeThen = Promise.prototype.then;

/**
 * Waits for a foreign thenable through a Promise: the thenable might call back twice, or throw, and a Promise adopting
 * it does neither. A function of its own, so that `_startJob` has no closure over its locals, which would make V8
 * allocate a context for them on every job (in CPU profiles of the "DeferredSemaphore.run" bench row, `_startJob`'s
 * self time fell from 12% to 7.5% of the row).
 */
function adoptThenable(thenable: unknown, then: Function, r: Runner): void {
  new Promise((resolve, reject) => {
    then.call(thenable, resolve, reject);
  }).then(r.onValue, r.onReason);
}

/** A live, read-only view of the acquires waiting for a token, oldest first. Reading `length` is O(1). */
export interface WaitingQueue<T> extends Iterable<Deferred<T>> {
  /** How many acquires (or `run()` calls) wait for a token; cancelled ones are not counted. */
  readonly length: number;
}

class WaitingView<T> implements WaitingQueue<T> {
  readonly #owner: ConcurrencyPrimitive;
  constructor(owner: ConcurrencyPrimitive) {
    this.#owner = owner;
  }
  get length(): number {
    return this.#owner._waitingCount;
  }
  *[Symbol.iterator](): Iterator<Deferred<T>> {
    let t = this.#owner._head;
    while (t !== null) {
      // Read before yielding: the ticket may leave the queue while the caller looks at it.
      const next = t.behind;
      if (t.phase === WAITING) yield t as unknown as Deferred<T>;
      t = next;
    }
  }
}

/** Fires a finished job's ticket with its outcome: a {@link Failure} takes the errback path. */
function fire(t: Ticket<unknown>, outcome: unknown): void {
  if (outcome instanceof Failure) {
    t.errback(outcome);
    return;
  }
  try {
    t.callback(outcome);
  } catch (e) {
    // callback() refuses a value that looks like a Deferred or Promise when it looks again: that is the outcome.
    if (!t.called) t.errback(new Failure(e));
  }
}

/**
 * What {@link DeferredSemaphore} and {@link DeferredLock} share (Twisted's `_ConcurrencyPrimitive`): a first-in
 * first-out queue of Deferreds waiting for one of `limit` tokens, `run()`, and release at the end of a `using` block.
 * Type a parameter with it to accept either.
 *
 * - `acquire()` fires (synchronously when a token is free) with the primitive; the holder gives the token back with
 *   `release()`, or by disposing the primitive: `await using _ = await sem.acquire()` holds a token until the block
 *   ends, like Twisted's `async with sem:`.
 * - `run(fn, ...args)` acquires, calls `fn(...args)`, releases when the job's result fires (a value, a throw, the
 *   settlement of a returned Promise or Deferred — whatever the job returns or throws is its outcome), then fires
 *   with that outcome. Its token is the run's own: a bare `release()` cannot give it back.
 * - Cancelling a waiting acquire (or `run()` Deferred) takes it out of the queue. Cancelling a `run()` Deferred while
 *   its job runs cancels the job's result, as Twisted does: the token is released when that result fires — at once
 *   for a Promise or a Deferred without a canceller (their work goes on, outside the limit, and its eventual outcome
 *   is dropped).
 * - A `run()` job that has to wait runs in the AsyncLocalStorage context of whoever called `run()`.
 * - Handing tokens to waiters is a loop, not a recursion: any number of waiters whose jobs finish synchronously is safe.
 */
export abstract class ConcurrencyPrimitive {
  /** @internal */ _limit: number;
  /** @internal Tokens taken by acquire(): the only ones a bare release() may give back. */ _acquired = 0;
  /** @internal Tokens held by run() jobs whose result has not fired. */ _running = 0;
  // The queue is a list linked through the tickets: no buffer of 200,000 slots to grow and copy.
  /** @internal The oldest queued ticket (cancelled ones stay until they reach the head or the queue is compacted). */
  _head: Ticket<unknown> | null = null;
  /** @internal The newest queued ticket. */
  _tail: Ticket<unknown> | null = null;
  /** @internal Tickets in the queue still waiting. */ _waitingCount = 0;
  /** @internal Cancelled tickets still linked in the queue. */ _cancelledInQueue = 0;
  /** @internal True while {@link _drain} runs. */ _draining = false;
  /**
   * @internal Tickets whose job finished while {@link _drain} ran, paused with their outcome until the waiters after
   * them have been let in: resumed last-in first-out, the order of Twisted's nested `release()` calls.
   */
  _resumeLater: Ticket<unknown>[] = [];
  /** @internal Free runners, reused job after job. */ _runners: Runner[] = [];
  /** @internal What the diagnostics channels' messages call this primitive. */ _kind: JobSource =
    'semaphore';
  /** @internal The canceller of every ticket of this primitive: one closure per primitive, none per ticket. */
  _cancel = (d: Deferred<unknown>): void => {
    const t = d as Ticket<unknown>;
    if (t.phase === WAITING) {
      t.phase = DONE;
      t.jobFn = null;
      t.jobArgs = NO_ARGS;
      t.callerContext = null;
      this._dropCancelled();
    } else if (t.phase === RUNNING) {
      const r = t.runner;
      // A null runner: the job is being called right now and has returned nothing to cancel yet.
      if (r === null) return;
      if (r.inner !== null) {
        r.inner.cancel();
      } else {
        // A Promise cannot be stopped: as the Deferred that `Deferred.fromPromise` would make of it, it fires with
        // CancelledError now, and its eventual outcome is dropped. The runner is free once the Promise settles.
        r.ticket = null;
        t.runner = null;
        if (channels.jobEnd.hasSubscribers) this._published(t, new Failure(new CancelledError()));
        this._jobEnded(t);
      }
    }
  };
  readonly #waiting: WaitingQueue<this>;

  /** @param limit how many holders are allowed at once; the subclass checks it. */
  protected constructor(limit: number) {
    this._limit = limit;
    this.#waiting = new WaitingView<this>(this);
  }

  /** How many holders are allowed at once. */
  get limit(): number {
    return this._limit;
  }

  /** How many tokens are held now, by `acquire()` holders and running `run()` jobs. May exceed a lowered `limit`. */
  get held(): number {
    return this._acquired + this._running;
  }

  /** How many tokens are free now: `limit - held`, or 0 while more than `limit` are held. */
  get tokens(): number {
    const held = this._acquired + this._running;
    return held < this._limit ? this._limit - held : 0;
  }

  /** The acquires waiting for a token, oldest first (a live view: `waiting.length` is cheap). */
  get waiting(): WaitingQueue<this> {
    return this.#waiting;
  }

  /**
   * Takes a token. The Deferred fires with this primitive — at once when a token is free, otherwise when one is
   * released and every earlier waiter has been served. Cancelling it while it waits removes it from the queue;
   * cancelling it after it fired does nothing.
   */
  acquire(): Deferred<this> {
    const t = new Ticket<this>(this._cancel as (d: Deferred<this>) => void, null, NO_ARGS);
    if (this._acquired + this._running < this._limit && this._waitingCount === 0) {
      t.phase = DONE;
      this._acquired++;
      t.callback(this);
    } else {
      this._enqueue(t as unknown as Ticket<unknown>);
    }
    return t;
  }

  /**
   * Gives back a token taken with `acquire()`, and hands it to the oldest waiter if there is one.
   * @throws {TooManyReleasesError} when no token taken with `acquire()` is held (the tokens of `run()` jobs are
   * released by `run()` alone, so a job that calls `release()` is caught at once).
   */
  release(): void {
    if (this._acquired === 0) {
      throw new TooManyReleasesError(
        this._running === 0
          ? 'release() was called more times than acquire(): no token is held'
          : `release() was called but no token taken with acquire() is held (the ${this._running} held by run() jobs are released when their job's result fires)`,
      );
    }
    this._acquired--;
    this._drain();
  }

  /** Releases a token taken with `acquire()`: `using`/`await using` calls it when the block ends. */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * Acquires a token, calls `fn(...args)`, releases the token when `fn`'s result fires (success or failure), and
   * fires with that outcome. `fn` may return a value or a Promise or Deferred, or throw.
   */
  run<R, A extends unknown[]>(fn: (...args: A) => R | PromiseLike<R>, ...args: A): Deferred<Awaited<R>>;
  run(fn: Job): Deferred<unknown> {
    if (typeof fn !== 'function') checkFn(fn, 'fn');
    // `arguments` rather than a rest parameter: the usual job takes one argument, kept without an array (see
    // Ticket.jobArgs). V8 reads `arguments` of a strict function without building the object.
    let jobArgs: unknown = NO_ARGS;
    // biome-ignore lint/complexity/noArguments: no array for one argument, see above
    if (arguments.length === 2) jobArgs = arguments[1];
    // biome-ignore lint/complexity/noArguments: see above
    else if (arguments.length > 2) jobArgs = new JobArgs(Array.prototype.slice.call(arguments, 1));
    const t = new Ticket<unknown>(this._cancel, fn, jobArgs);
    if (this._acquired + this._running < this._limit && this._waitingCount === 0) {
      t.phase = RUNNING;
      this._running++;
      if (channels.jobStart.hasSubscribers)
        channels.jobStart.publish({ kind: this._kind, source: this, job: t });
      this._startJob(t as Ticket<unknown>);
    } else {
      // Only a job that waits pays for capturing its caller's async context. An AsyncResource is what
      // AsyncLocalStorage.snapshot() captures too, without the bound function snapshot() builds around it.
      t.callerContext =
        CallerContextResource === null ? null : new CallerContextResource('DeferredSemaphore.run');
      this._enqueue(t as Ticket<unknown>);
      if (channels.jobQueued.hasSubscribers)
        channels.jobQueued.publish({ kind: this._kind, source: this, job: t });
    }
    return t;
  }

  /** @internal */
  _enqueue(t: Ticket<unknown>): void {
    if (this._tail === null) this._head = t;
    else this._tail.behind = t;
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
      const next: Ticket<unknown> | null = t.behind;
      if (t.phase !== WAITING) {
        t.behind = null;
        if (prev === null) this._head = next;
        else prev.behind = next;
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
      for (;;) {
        this._admit();
        const t = this._resumeLater.pop();
        if (t === undefined) break;
        // Its callbacks may release, run or cancel: the loop goes round again for whatever that lets in.
        t.unpause();
      }
    } finally {
      this._draining = false;
    }
  }

  /** @internal The loop of {@link _drain}: hands free tokens to waiters, oldest first. */
  _admit(): void {
    while (this._acquired + this._running < this._limit && this._waitingCount > 0) {
      const t = this._head as Ticket<unknown>;
      this._head = t.behind;
      if (this._head === null) this._tail = null;
      t.behind = null;
      if (t.phase !== WAITING) {
        this._cancelledInQueue--;
        continue;
      }
      this._waitingCount--;
      if (t.jobFn === null) {
        t.phase = DONE;
        this._acquired++;
        t.callback(this);
      } else {
        t.phase = RUNNING;
        this._running++;
        if (channels.jobStart.hasSubscribers)
          channels.jobStart.publish({ kind: this._kind, source: this, job: t });
        const context = t.callerContext;
        t.callerContext = null;
        if (context === null) this._startJob(t);
        else context.runInAsyncScope(this._startJob, this, t);
      }
    }
  }

  /**
   * @internal Calls the job of a ticket that holds a token, and waits for its result. Whatever the job returns or
   * throws becomes its outcome — even a value whose `then` getter throws — so the token always comes back.
   */
  _startJob(t: Ticket<unknown>): void {
    const fn = t.jobFn as Job;
    const args = t.jobArgs;
    t.jobFn = null;
    t.jobArgs = NO_ARGS;
    let out: unknown;
    try {
      out =
        args === NO_ARGS
          ? (fn as () => unknown)()
          : args instanceof JobArgs
            ? fn(...(args.list as never[]))
            : (fn as (arg: unknown) => unknown)(args);
      if (out instanceof Deferred) {
        const r = this._runner(t);
        r.inner = out;
        out.addCallbacks(r.onDeferredValue, r.onDeferredFailure);
        return;
      }
      if (out !== null && (typeof out === 'object' || typeof out === 'function')) {
        // `then` is read once: a getter may throw, or answer differently the second time.
        const then: unknown = (out as { then?: unknown }).then;
        if (typeof then === 'function') {
          const r = this._runner(t);
          if (then === nativeThen && out instanceof Promise) {
            nativeThen.call(out, r.onValue, r.onReason);
          } else {
            adoptThenable(out, then, r);
          }
          return;
        }
      }
    } catch (e) {
      const r = t.runner;
      if (r !== null) {
        // Back in the pool only if what it was handed to ever calls it; then that call finds no ticket.
        r.ticket = null;
        r.inner = null;
        t.runner = null;
      }
      this._finish(t, new Failure(e));
      return;
    }
    this._finish(t, out);
  }

  /** @internal */
  _runner(t: Ticket<unknown>): Runner {
    const r = this._runners.pop() ?? new Runner(this);
    r.ticket = t;
    t.runner = r;
    return r;
  }

  /** @internal A runner's Deferred or Promise settled: the runner is free again, and the job has its outcome. */
  _settled(r: Runner, outcome: unknown): void {
    const t = r.ticket;
    r.ticket = null;
    r.inner = null;
    this._runners.push(r);
    if (t === null) return;
    t.runner = null;
    this._finish(t, outcome);
  }

  /**
   * @internal The job's result fired: the ticket takes it, the token goes back (letting waiters in), then the ticket's
   * callbacks run — Twisted's order, where `run()`'s release is a link of the ticket's chain before the caller's.
   * While waiters are let in, the ticket is paused with its outcome, so a cancel() from their code changes nothing
   * (it would have replaced a finished job's outcome with CancelledError). A ticket that finished inside
   * {@link _drain} is resumed by it after the waiters behind it, as Twisted's nested `release()` calls would.
   */
  _finish(t: Ticket<unknown>, outcome: unknown): void {
    if (t.phase !== RUNNING) return;
    if (channels.jobEnd.hasSubscribers) this._published(t, outcome);
    if (t.called) {
      // Cancelled while its job ran: only the token is left to give back.
      this._jobEnded(t);
      return;
    }
    const inDrain = this._draining;
    t.pause();
    fire(t, outcome);
    if (inDrain) this._resumeLater.push(t);
    this._jobEnded(t);
    if (!inDrain) t.unpause();
  }

  /** @internal Publishes the end of `t`'s job on its channel, with its outcome (a Failure when it failed). */
  _published(t: Ticket<unknown>, outcome: unknown): void {
    const failed = outcome instanceof Failure;
    channels.jobEnd.publish({
      kind: this._kind,
      source: this,
      job: t,
      ok: !failed,
      ...(failed ? { error: outcome.value } : {}),
    });
  }

  /** @internal A running job's token comes back, and goes to the next waiter. */
  _jobEnded(t: Ticket<unknown>): void {
    t.phase = DONE;
    this._running--;
    this._drain();
  }
}
