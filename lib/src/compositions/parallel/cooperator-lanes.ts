import type { CooperativeTask, Cooperator } from '../../blocks/cooperator.js';
import { Deferred } from '../../core/deferred.js';
import type { Failure } from '../../core/failure.js';
import { type LanePool, type LaneSlot, type Lanes, PULLING } from './lanes.js';

type LaneStep = IteratorResult<Deferred<undefined> | undefined, undefined>;

const DONE: LaneStep = Object.freeze({ done: true, value: undefined });
const NEXT: LaneStep = Object.freeze({ done: false, value: undefined });

/**
 * The walkthrough's recipe as a strategy: `concurrency` cooperative tasks on a {@link Cooperator}, sharing one iterator
 * whose every step starts one job and yields a Deferred that fires when that job settles. So the work takes turns, in
 * time slices, with everything else on that Cooperator.
 * @internal
 */
export class CooperatorLanes implements Lanes {
  readonly pool: LanePool;
  readonly cooperator: Cooperator;
  tasks: CooperativeTask[] = [];
  /** What tasks with nothing to do now wait on, until room to start a job opens. */
  wakers: Deferred<undefined>[] = [];
  /** By slot id: fires when that slot's job settles, so the task that started it may take the next item. */
  readonly wakes: (Deferred<undefined> | null)[] = [];
  /** What the task that pulled from an async source waits on. */
  pullWait: Deferred<undefined> | null = null;

  constructor(pool: LanePool, cooperator: Cooperator) {
    this.pool = pool;
    this.cooperator = cooperator;
  }

  start(): void {
    const lane: Iterator<Deferred<undefined> | undefined, undefined> = { next: this.step };
    for (let i = 0; i < this.pool.concurrency; i++) {
      const task = this.cooperator.cooperate(lane);
      task.whenDone().addErrback(this.onTaskFailed);
      this.tasks.push(task as CooperativeTask);
    }
  }

  onTaskFailed = (failure: Failure): null => {
    this.pool.fail(failure);
    return null;
  };

  /** One step of a task: start one job and wait for it, or wait until starting one is allowed. */
  step = (): LaneStep => {
    const pool = this.pool;
    if (pool.finished || pool.sourceDone) {
      pool.maybeEnd();
      return DONE;
    }
    if (pool.pulling || !pool.canStart()) {
      const waker = new Deferred<undefined>();
      this.wakers.push(waker);
      return { done: false, value: waker };
    }
    const slot = pool.pull();
    if (slot === null) return NEXT;
    const wait = new Deferred<undefined>();
    if (slot === PULLING) this.pullWait = wait;
    else this.wakes[slot.id] = wait;
    return { done: false, value: wait };
  };

  wake(): void {
    const wakers = this.wakers;
    if (wakers.length === 0) return;
    this.wakers = [];
    for (const w of wakers) w.callback(undefined);
  }

  jobDone(slot: LaneSlot): void {
    const wake = this.wakes[slot.id];
    if (wake !== undefined && wake !== null) {
      this.wakes[slot.id] = null;
      wake.callback(undefined);
    }
    this.pool.maybeEnd();
  }

  pulled(slot: LaneSlot | null): void {
    const wait = this.pullWait;
    this.pullWait = null;
    // The task that pulled waits on the job it started, if that job still runs.
    if (slot !== null) this.wakes[slot.id] = wait;
    else wait?.callback(undefined);
    this.wake();
  }

  stop(): void {
    const tasks = this.tasks;
    this.tasks = [];
    this.wakers = [];
    for (const task of tasks) if (task.running) task.stop();
  }
}
