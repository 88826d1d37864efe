import type { LanePool, Lanes } from './lanes.js';

/**
 * The plain strategy: `concurrency` workers pulling from one shared iterator, with no scheduler in between. A job
 * that settles starts the next item at once, in the same call.
 * @internal
 */
export class WorkerLanes implements Lanes {
  readonly pool: LanePool;
  pumping = false;

  constructor(pool: LanePool) {
    this.pool = pool;
  }

  start(): void {
    this.pump();
  }

  wake(): void {
    this.pump();
  }

  pulled(): void {
    this.pump();
  }

  jobDone(): void {
    const pool = this.pool;
    // Pump only when a new item may start: a stream whose consumer lags settles most jobs into a full buffer.
    if (pool.inFlight < pool.concurrency && pool.canStart()) this.pump();
    else pool.maybeEnd();
  }

  stop(): void {}

  /** Starts jobs while the pool allows. A loop, so jobs finishing synchronously never recurse. */
  pump(): void {
    if (this.pumping) return;
    const pool = this.pool;
    // No try/finally: nothing in the loop throws (the source's and fn's errors are caught where they are called).
    this.pumping = true;
    while (pool.mayPull()) pool.pull();
    this.pumping = false;
    pool.maybeEnd();
  }
}
