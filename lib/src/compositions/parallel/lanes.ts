import type { Slot } from './pool.js';

/**
 * How a pool's jobs get started: the strategy that decides when to pull the next input. Two exist: plain workers
 * (`WorkerLanes`) and cooperative tasks on a Cooperator (`CooperatorLanes`). The pool calls these; the lanes call back
 * the pool's `mayPull()`, `pull()` and `maybeEnd()`.
 * @internal
 */
export interface Lanes<T, R> {
  /** The work begins. */
  start(): void;
  /** Room to start a job may have opened outside a job's settling (the stream's consumer took an outcome). */
  wake(): void;
  /** The job in `slot` settled and was recorded; the pool has not finished. */
  jobDone(slot: Slot<T, R>): void;
  /** An async source's `next()` settled: `slot` is the job it started, while that job runs; otherwise null. */
  pulled(slot: Slot<T, R> | null): void;
  /** The pool finished: start nothing more. */
  stop(): void;
}

/** What the pool's `pull()` returns while an async source's `next()` is pending. @internal */
export const PULLING: unique symbol = Symbol('pulling');
