import { checkFn, checkObject, describe, isThenable } from '../core/args.js';
import { type Clock, checkClock, systemClock } from '../core/clock.js';
import { Deferred } from '../core/deferred.js';
import {
  NotPaused,
  SchedulerStopped,
  TaskDone,
  TaskFailed,
  TaskFinished,
  TaskStopped,
} from '../core/errors.js';

export { NotPaused, SchedulerStopped, TaskDone, TaskFailed, TaskFinished, TaskStopped };

import { Failure } from '../core/failure.js';

/** What a scheduler returns: a handle that cancels the call it scheduled (like Twisted's `IDelayedCall`). */
export interface ScheduledCall {
  /** Stops the call from happening, if it has not yet. */
  cancel(): void;
}

/** Arranges for `fn` to be called soon, on a later turn of the event loop. */
export type Scheduler = (fn: () => void) => ScheduledCall;

/** Called at the start of every tick; the predicate it returns says, after each step, whether the tick should end. */
export type TerminationPredicateFactory = () => () => boolean;

/** Options of {@link Cooperator}. */
export interface CooperatorOptions {
  /**
   * The clock that times the slices and schedules the ticks (Twisted's reactor): with it, a tick ends once 10 ms have
   * passed on `clock.now()`, and the next tick is `clock.setTimeout(tick, 0)`, so a {@link ManualClock} drives the
   * Cooperator by hand (`clock.advance(0)` runs the ticks due). Default: the real time, and {@link defaultScheduler}.
   * `terminationPredicateFactory` and `scheduler` still replace what they name.
   */
  clock?: Clock;
  /** How long a tick runs. Default: until 10 ms of work have passed (on `clock`, or `performance.now()`). */
  terminationPredicateFactory?: TerminationPredicateFactory;
  /**
   * How the next tick is scheduled. Default: `clock.setTimeout(fn, 0)` with a `clock`, else {@link defaultScheduler}.
   */
  scheduler?: Scheduler;
  /** Whether ticks may be scheduled before `start()` is called. Default `true`. */
  started?: boolean;
}

/** What a Cooperator accepts: a sync or async iterator, or something that gives one. */
export type CooperativeIterator =
  | Iterator<unknown>
  | Iterable<unknown>
  | AsyncIterator<unknown>
  | AsyncIterable<unknown>;

const SLICE_MS = 10;

/** Twisted's `_Timer` on `clock`: a tick ends once 10 ms have passed since it began. */
function slicesOn(clock: Clock): TerminationPredicateFactory {
  return () => {
    const end = clock.now() + SLICE_MS;
    return () => clock.now() >= end;
  };
}

/** Twisted's `_Timer`: a tick ends once 10 ms have passed since it began. */
export const defaultTerminationPredicateFactory: TerminationPredicateFactory = slicesOn(systemClock);

/** Each tick a timer of 0 ms on `clock`. */
function ticksOn(clock: Clock): Scheduler {
  return (fn) => {
    const handle = clock.setTimeout(fn, 0);
    return { cancel: () => clock.clearTimeout(handle) };
  };
}

const immediate = globalThis as {
  setImmediate?: (fn: () => void) => unknown;
  clearImmediate?: (handle: unknown) => void;
};

/**
 * Twisted's `_defaultScheduler`: on Node's (and Deno's, and Bun's) event loop `setImmediate`, so the next tick runs
 * after pending I/O callbacks; where there is none (a browser), a timer of 0 ms.
 */
export const defaultScheduler: Scheduler =
  typeof immediate.setImmediate === 'function' && typeof immediate.clearImmediate === 'function'
    ? (fn) => {
        const handle = (immediate.setImmediate as (fn: () => void) => unknown)(fn);
        return { cancel: () => (immediate.clearImmediate as (handle: unknown) => void)(handle) };
      }
    : ticksOn(systemClock);

function toIterator(source: CooperativeIterator): Iterator<unknown> | AsyncIterator<unknown> {
  if (source !== null && typeof source === 'object') {
    const s = source as Partial<Iterable<unknown> & AsyncIterable<unknown> & Iterator<unknown>>;
    if (typeof s.next === 'function') return s as Iterator<unknown>;
    const sync = s[Symbol.iterator];
    if (typeof sync === 'function') return sync.call(s);
    const async = s[Symbol.asyncIterator];
    if (typeof async === 'function') return async.call(s);
  }
  throw new TypeError(
    `Expected \`iterator\` to be an iterator, an async iterator or an iterable, got ${describe(source)}`,
  );
}

const RUNNING = 0;
const DONE = 1;
const FAILED = 2;
const STOPPED = 3;
const SCHEDULER_STOPPED = 4;

/**
 * One iterator being run by a {@link Cooperator} — Twisted's `CooperativeTask`. Each step calls the iterator's
 * `next()` once. A step that gives a Deferred or PromiseLike (or an async iterator's pending `next()`) pauses the
 * task until that settles; a failure there ends the task as failed and the iterator is not stepped again.
 */
export class CooperativeTask<I extends CooperativeIterator = CooperativeIterator> {
  readonly #source: I;
  readonly #iterator: Iterator<unknown> | AsyncIterator<unknown>;
  readonly #cooperator: Cooperator;
  #whenDone: Deferred<I>[] = [];
  #pauseCount = 0;
  #waiting = false;
  #state = RUNNING;
  #result: I | Failure | null = null;
  /** @internal Links in the cooperator's list of runnable tasks. */
  _prev: CooperativeTask | null = null;
  /** @internal */ _next: CooperativeTask | null = null;
  /** @internal */ _listed = false;

  /** Use {@link Cooperator.cooperate} rather than this constructor. */
  constructor(iterator: I, cooperator: Cooperator) {
    if (!(cooperator instanceof Cooperator)) {
      throw new TypeError(`Expected \`cooperator\` to be a Cooperator, got ${describe(cooperator)}`);
    }
    this.#iterator = toIterator(iterator);
    this.#source = iterator;
    this.#cooperator = cooperator;
    cooperator._adopt(this as unknown as CooperativeTask);
  }

  /**
   * A new Deferred that fires with the iterator when it is exhausted, or errbacks with why the task ended otherwise:
   * the iterator's own error, {@link TaskStopped} or {@link SchedulerStopped}.
   */
  whenDone(): Deferred<I> {
    const d = new Deferred<I>();
    if (this.#state === RUNNING) {
      this.#whenDone.push(d);
    } else if (this.#result instanceof Failure) {
      d.errback(this.#result);
    } else {
      d.callback(this.#result as I);
    }
    return d;
  }

  /**
   * Stops stepping the task until as many `resume()` calls as `pause()` calls were made.
   * @throws {TaskFinished} (a {@link TaskDone}, {@link TaskFailed} or {@link TaskStopped}) when the task has ended.
   */
  pause(): void {
    this.#checkFinish();
    this.#pauseCount++;
    if (this.#pauseCount === 1) this.#cooperator._unlist(this as unknown as CooperativeTask);
  }

  /**
   * Undoes one `pause()`.
   * @throws {NotPaused} when the task is not paused.
   */
  resume(): void {
    if (this.#pauseCount === 0) throw new NotPaused();
    this.#pauseCount--;
    if (this.#runnable()) this.#cooperator._list(this as unknown as CooperativeTask);
  }

  /**
   * Ends the task: its `whenDone()` Deferreds errback with {@link TaskStopped}, and the iterator is not stepped again
   * (nor is its `return()` called, since several tasks may share one iterator).
   * @throws {TaskFinished} (a {@link TaskDone}, {@link TaskFailed} or {@link TaskStopped}) when the task has ended.
   */
  stop(): void {
    this.#checkFinish();
    this.#complete(STOPPED, new Failure(new TaskStopped()));
  }

  /** True until the task has ended, however it ended. */
  get running(): boolean {
    return this.#state === RUNNING;
  }

  /** True while `pause()` calls outnumber `resume()` calls. */
  get paused(): boolean {
    return this.#pauseCount > 0;
  }

  #runnable(): boolean {
    return this.#state === RUNNING && this.#pauseCount === 0 && !this.#waiting;
  }

  #checkFinish(): void {
    switch (this.#state) {
      case DONE:
        throw new TaskDone();
      case FAILED:
        throw new TaskFailed();
      case STOPPED:
        throw new TaskStopped();
      case SCHEDULER_STOPPED:
        throw new SchedulerStopped();
    }
  }

  /** @internal */
  _complete(state: number, result: I | Failure): void {
    this.#complete(state, result);
  }

  #complete(state: number, result: I | Failure): void {
    if (this.#state !== RUNNING) return;
    this.#state = state;
    this.#result = result;
    this.#cooperator._forget(this as unknown as CooperativeTask);
    const waiters = this.#whenDone;
    this.#whenDone = [];
    for (const d of waiters) {
      if (result instanceof Failure) d.errback(result);
      else d.callback(result);
    }
  }

  /** @internal One step: Twisted's `_oneWorkUnit`. */
  _step(): void {
    let r: unknown;
    try {
      r = this.#iterator.next();
    } catch (e) {
      this.#complete(FAILED, new Failure(e));
      return;
    }
    if (isThenable(r)) {
      this.#wait(r, true);
    } else {
      this.#handle(r as IteratorResult<unknown>);
    }
  }

  #handle(r: IteratorResult<unknown>): void {
    if (r === null || typeof r !== 'object') {
      this.#complete(FAILED, new Failure(new TypeError(`Iterator result ${String(r)} is not an object`)));
    } else if (r.done) {
      this.#complete(DONE, this.#source);
    } else if (r.value instanceof Deferred || isThenable(r.value)) {
      this.#wait(r.value, false);
    }
  }

  /** Takes the task off the runnable list until `awaitable` settles. */
  #wait(awaitable: PromiseLike<unknown>, isStep: boolean): void {
    this.#waiting = true;
    this.#cooperator._unlist(this as unknown as CooperativeTask);
    const resume = (value: unknown): undefined => {
      this.#waiting = false;
      if (this.#state !== RUNNING) return undefined;
      if (isStep) {
        this.#handle(value as IteratorResult<unknown>);
        if (this.#waiting) return undefined;
      }
      if (this.#runnable()) this.#cooperator._list(this as unknown as CooperativeTask);
      return undefined;
    };
    const failed = (failure: Failure): null => {
      this.#waiting = false;
      this.#complete(FAILED, failure);
      return null;
    };
    if (awaitable instanceof Deferred) {
      awaitable.addCallbacks(resume, failed);
    } else {
      try {
        awaitable.then(resume, (e) => failed(new Failure(e)));
      } catch (e) {
        failed(new Failure(e));
      }
    }
  }
}

/**
 * Runs many iterators a step at a time, in round-robin, in time slices — Twisted's `task.Cooperator`.
 *
 * Each tick steps the runnable tasks in turn until the termination predicate says stop (by default after 10 ms), then
 * schedules the next tick (by default with `setImmediate`), so timers and I/O are served between slices. When no task
 * is runnable no tick is scheduled, so an idle Cooperator neither spins nor keeps the process alive.
 *
 * The walkthrough's pattern — N tasks sharing one generator that yields a Deferred per job — keeps at most N jobs in
 * flight, and creates each job only when a task is free to run it.
 *
 @remarks
 * ```ts
 * import { Cooperator, DeferredList } from 'async-batching';
 *
 * function* work() {
 *   for (const url of urls) yield getPage(url).addCallback(save); // a yielded Deferred pauses the task until it fires
 * }
 * const coop = new Cooperator();
 * const shared = work(); // one generator…
 * const tasks = Array.from({ length: 3 }, () => coop.coiterate(shared)); // …drained by 3 tasks: at most 3 in flight
 * await new DeferredList(tasks);
 * ```
 *
 * The Cooperator steps every task's iterator in turn for one time slice (10 ms by default, `terminationPredicateFactory`
 * to change it) and then yields the event loop (`scheduler`, default `setImmediate`). A task that yields a pending
 * Deferred or Promise sleeps until it settles. `cooperate(it)` gives a `CooperativeTask` with `whenDone()`, `pause()`,
 * `resume()`, `stop()`; finished tasks throw `TaskDone`, `TaskFailed` or `TaskStopped`, and `coop.stop()` fails what
 * is left with `SchedulerStopped`. The module-level `coiterate` and `cooperate` use a shared default Cooperator.
 */
export class Cooperator {
  readonly #factory: TerminationPredicateFactory;
  readonly #scheduler: Scheduler;
  #started: boolean;
  #stopped = false;
  #mustScheduleOnStart = false;
  #call: ScheduledCall | null = null;
  #head: CooperativeTask | null = null;
  #tail: CooperativeTask | null = null;
  /** The next task a tick steps (Twisted's `_metarator`): kept across ticks so every task gets its turn. */
  #cursor: CooperativeTask | null = null;
  /** Every task that has not ended, runnable or not, so that `stop()` can end them all. */
  readonly #live = new Set<CooperativeTask>();

  constructor(options: CooperatorOptions = {}) {
    checkObject(options, 'options');
    const clock = options.clock === undefined ? undefined : checkClock(options.clock, 'clock');
    const {
      terminationPredicateFactory = clock === undefined
        ? defaultTerminationPredicateFactory
        : slicesOn(clock),
      scheduler = clock === undefined ? defaultScheduler : ticksOn(clock),
      started = true,
    } = options;
    this.#factory = checkFn(terminationPredicateFactory, 'terminationPredicateFactory');
    this.#scheduler = checkFn(scheduler, 'scheduler');
    this.#started = Boolean(started);
  }

  /** Starts the iterator as a task; the Deferred fires with the iterator once it is exhausted (Twisted's `coiterate`). */
  coiterate<I extends CooperativeIterator>(iterator: I): Deferred<I> {
    return new CooperativeTask(iterator, this).whenDone();
  }

  /** Starts the iterator as a task and returns the task, to pause, resume, stop or wait on. */
  cooperate<I extends CooperativeIterator>(iterator: I): CooperativeTask<I> {
    return new CooperativeTask(iterator, this);
  }

  /** Lets ticks be scheduled again (after `stop()`, or when made with `started: false`). */
  start(): void {
    this.#stopped = false;
    this.#started = true;
    if (this.#mustScheduleOnStart) {
      this.#mustScheduleOnStart = false;
      this.#reschedule();
    }
  }

  /** Ends every task with {@link SchedulerStopped} and cancels the next tick. Tasks added later fail the same way. */
  stop(): void {
    this.#stopped = true;
    const tasks = [...this.#live];
    for (const t of tasks) t._complete(SCHEDULER_STOPPED, new Failure(new SchedulerStopped()));
    this.#cancelCall();
  }

  /** True when started and not stopped. */
  get running(): boolean {
    return this.#started && !this.#stopped;
  }

  /** @internal A new task. */
  _adopt(task: CooperativeTask): void {
    if (this.#stopped) {
      task._complete(SCHEDULER_STOPPED, new Failure(new SchedulerStopped()));
      return;
    }
    this.#live.add(task);
    this._list(task);
  }

  /** @internal A task ended. */
  _forget(task: CooperativeTask): void {
    this.#live.delete(task);
    this._unlist(task);
  }

  /** @internal Puts a task at the end of the runnable list. */
  _list(task: CooperativeTask): void {
    if (task._listed) return;
    task._listed = true;
    task._prev = this.#tail;
    task._next = null;
    if (this.#tail === null) this.#head = task;
    else this.#tail._next = task;
    this.#tail = task;
    this.#reschedule();
  }

  /** @internal Takes a task off the runnable list. */
  _unlist(task: CooperativeTask): void {
    if (!task._listed) return;
    task._listed = false;
    if (this.#cursor === task) this.#cursor = task._next;
    if (task._prev === null) this.#head = task._next;
    else task._prev._next = task._next;
    if (task._next === null) this.#tail = task._prev;
    else task._next._prev = task._prev;
    task._prev = null;
    task._next = null;
    if (this.#head === null) this.#cancelCall();
  }

  #cancelCall(): void {
    if (this.#call !== null) {
      const call = this.#call;
      this.#call = null;
      call.cancel();
    }
  }

  #reschedule(): void {
    if (!this.#started) {
      this.#mustScheduleOnStart = true;
      return;
    }
    if (this.#call === null && this.#head !== null && !this.#stopped) {
      this.#call = this.#scheduler(this.#tick);
    }
  }

  #tick = (): void => {
    this.#call = null;
    const terminate = this.#factory();
    while (this.#head !== null && !this.#stopped) {
      const task = this.#cursor ?? this.#head;
      this.#cursor = task._next;
      task._step();
      if (terminate()) break;
    }
    this.#reschedule();
  };
}

const theCooperator = new Cooperator();

/** {@link Cooperator.coiterate} on a Cooperator shared by the whole program. */
export function coiterate<I extends CooperativeIterator>(iterator: I): Deferred<I> {
  return theCooperator.coiterate(iterator);
}

/** {@link Cooperator.cooperate} on a Cooperator shared by the whole program. */
export function cooperate<I extends CooperativeIterator>(iterator: I): CooperativeTask<I> {
  return theCooperator.cooperate(iterator);
}
