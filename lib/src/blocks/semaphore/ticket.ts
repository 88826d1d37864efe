// The semaphore's tickets and runners: what a place in the queue holds, and what waits for a running job's result.
import type { CallerContext } from '../../core/async-context.js';
import { Deferred } from '../../core/deferred.js';
import { Failure } from '../../core/failure.js';

/** A job given to `run()`. */
export type Job = (...args: never[]) => unknown;

/** A ticket's phase: in the queue, waiting for a token. */
export const WAITING = 0;
/** A ticket's phase: its job holds a token, until the job's result fires. */
export const RUNNING = 1;
/** A ticket's phase: no longer the semaphore's concern (an acquire() that was served, a finished or cancelled job). */
export const DONE = 2;

/** {@link Ticket.jobArgs} of a job called with no argument. */
export const NO_ARGS: unique symbol = Symbol('no arguments');

/** {@link Ticket.jobArgs} of a job called with more than one argument. */
export class JobArgs {
  readonly list: readonly unknown[];
  constructor(list: readonly unknown[]) {
    this.list = list;
  }
}

/**
 * A place in the queue: the Deferred that `acquire()` or `run()` returned. It is a Deferred so that a waiting batch of
 * 200,000 jobs costs one object per job, and it uses only the Deferred's public API (its canceller, `callback`,
 * `errback`). Its names are unlike any of Deferred's, so the two never collide.
 * @internal
 */
export class Ticket<T> extends Deferred<T> {
  // Declared, and set in the constructor: faster to build than field initializers.
  /** The function `run()` will call; null for an `acquire()`, and once the job has been called. */
  declare jobFn: Job | null;
  /**
   * What {@link jobFn} is called with: {@link NO_ARGS}, the one argument itself, or several as {@link JobArgs}. A job
   * with one argument (the usual `sem.run(fn, item)`) needs no array: 56 bytes less for each of 200,000 waiting jobs
   * (bench/ab-await.ts, rows "Promise.all(sem.run)" and "gather(sem.run)").
   */
  declare jobArgs: unknown;
  /** The async context of whoever called `run()`, captured only when the job has to wait; null otherwise. */
  declare callerContext: CallerContext | null;
  /** {@link WAITING}, {@link RUNNING} or {@link DONE}. */
  declare phase: number;
  /** The ticket queued right behind this one. */
  declare behind: Ticket<unknown> | null;
  /** The runner waiting for the Deferred or Promise the job returned, while it is pending. */
  declare runner: Runner | null;

  constructor(canceller: (d: Deferred<T>) => void, jobFn: Job | null, jobArgs: unknown) {
    super(canceller);
    this.jobFn = jobFn;
    this.jobArgs = jobArgs;
    this.callerContext = null;
    this.phase = WAITING;
    this.behind = null;
    this.runner = null;
  }
}

/** What a {@link Runner} reports to: the primitive whose job it waits for. */
export interface RunnerOwner {
  /** @internal The job's Deferred or Promise settled with `outcome` (a Failure when it failed). */
  _settled(r: Runner, outcome: unknown): void;
}

/**
 * Waits for the Deferred or Promise a job returned. There are only as many runners as jobs pending at once, and each is
 * reused, so a job needs no closures of its own to be told its outcome.
 * @internal
 */
export class Runner {
  readonly owner: RunnerOwner;
  /** The ticket whose job this runner waits for; null while the runner is free, or after that ticket was cancelled. */
  ticket: Ticket<unknown> | null = null;
  /** The Deferred the job returned, to cancel it with the ticket; null for a Promise. */
  inner: Deferred<unknown> | null = null;

  constructor(owner: RunnerOwner) {
    this.owner = owner;
  }

  onValue = (value: unknown): void => {
    this.owner._settled(this, value);
  };
  onReason = (reason: unknown): void => {
    this.owner._settled(this, new Failure(reason));
  };
  // The job's own Deferred keeps its value for whoever else listens to it (it may be shared or cached). Its failure
  // has moved on to the run() Deferred, so the job's chain continues with null and does not report it a second time
  // (as a DeferredList with consumeErrors does).
  onDeferredValue = (value: unknown): unknown => {
    this.owner._settled(this, value);
    return value;
  };
  onDeferredFailure = (failure: Failure): null => {
    this.owner._settled(this, failure);
    return null;
  };
}
