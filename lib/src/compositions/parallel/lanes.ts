import type { Failure } from '../../core/failure.js';

/** A job's place in a pool, as the lanes see it: which of the pool's slots it is. @internal */
export interface LaneSlot {
  /** The slot's position among the pool's slots, stable for the pool's life. */
  readonly id: number;
}

/**
 * What the lanes may ask of the pool they start jobs for (the pool is `Pool` in `pool.ts`, which picks its lanes, so
 * the lanes know it only through this).
 * @internal
 */
export interface LanePool {
  readonly concurrency: number;
  readonly inFlight: number;
  readonly finished: boolean;
  readonly sourceDone: boolean;
  readonly pulling: boolean;
  /** Whether a new item may start as far as the consumer is concerned. */
  canStart(): boolean;
  /** Whether one more input may be pulled now. */
  mayPull(): boolean;
  /** Pulls one input and starts its job: its slot while it runs, {@link PULLING}, or null (settled, ended, failed). */
  pull(): LaneSlot | null | typeof PULLING;
  maybeEnd(): void;
  /** Stops the pool with `failure`. */
  fail(failure: Failure): void;
}

/**
 * How a pool's jobs get started: the strategy that decides when to pull the next input. Two exist: plain workers
 * (`WorkerLanes`) and cooperative tasks on a Cooperator (`CooperatorLanes`). The pool calls these; the lanes call back
 * the pool's `mayPull()`, `pull()` and `maybeEnd()`.
 * @internal
 */
export interface Lanes {
  /** The work begins. */
  start(): void;
  /** Room to start a job may have opened outside a job's settling (the stream's consumer took an outcome). */
  wake(): void;
  /** The job in `slot` settled and was recorded; the pool has not finished. */
  jobDone(slot: LaneSlot): void;
  /** An async source's `next()` settled: `slot` is the job it started, while that job runs; otherwise null. */
  pulled(slot: LaneSlot | null): void;
  /** The pool finished: start nothing more. */
  stop(): void;
}

/** What the pool's `pull()` returns while an async source's `next()` is pending. @internal */
export const PULLING: unique symbol = Symbol('pulling');
