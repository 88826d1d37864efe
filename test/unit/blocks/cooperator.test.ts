import {
  CooperativeTask,
  Cooperator,
  coiterate,
  cooperate,
  Deferred,
  defaultTerminationPredicateFactory,
  type Failure,
  NotPaused,
  SchedulerStopped,
  TaskDone,
  TaskFailed,
  TaskFinished,
  TaskStopped,
} from 'async-batching';
import { describe, expect, it, vi } from 'vitest';

/** A scheduler the test runs by hand, like Twisted's `task.Clock`. */
function manualScheduler() {
  const calls: { fn: () => void; cancelled: boolean }[] = [];
  return {
    scheduler: (fn: () => void) => {
      const call = {
        fn,
        cancelled: false,
        cancel() {
          call.cancelled = true;
        },
      };
      calls.push(call);
      return call;
    },
    /** Calls still due. */
    get pending(): number {
      return calls.filter((c) => !c.cancelled).length;
    },
    /** Runs the calls due now (not the ones they schedule); returns how many ran. */
    tick(): number {
      const due = calls.splice(0).filter((c) => !c.cancelled);
      for (const c of due) c.fn();
      return due.length;
    },
  };
}

/** A tick ends after `steps` steps. */
const stepsPerTick = (steps: number) => () => {
  let n = 0;
  return () => ++n >= steps;
};

function setup(steps = 1, started = true) {
  const clock = manualScheduler();
  const coop = new Cooperator({
    scheduler: clock.scheduler,
    terminationPredicateFactory: stepsPerTick(steps),
    started,
  });
  return { clock, coop };
}

function* counter(log: string[], name: string, n: number) {
  for (let i = 0; i < n; i++) {
    log.push(`${name}${i}`);
    yield;
  }
}

/** Runs ticks until nothing is scheduled (bounded, so a bug cannot hang the test). */
function runAll(clock: ReturnType<typeof manualScheduler>, max = 10_000): number {
  let ticks = 0;
  while (clock.tick() > 0) {
    if (++ticks > max) throw new Error('the Cooperator keeps scheduling ticks');
  }
  return ticks;
}

describe('Cooperator', () => {
  it('coiterate fires with the iterator once it is exhausted', () => {
    const { clock, coop } = setup(100);
    const it = counter([], 'a', 3);
    let result: unknown;
    coop.coiterate(it).addCallback((r) => {
      result = r;
    });
    expect(result).toBeUndefined();
    runAll(clock);
    expect(result).toBe(it);
  });

  it('does no work until the scheduler calls it', () => {
    const { clock, coop } = setup(100);
    const log: string[] = [];
    coop.coiterate(counter(log, 'a', 2));
    expect(log).toEqual([]);
    expect(clock.pending).toBe(1);
    clock.tick();
    expect(log).toEqual(['a0', 'a1']);
  });

  it('steps tasks round-robin', () => {
    const { clock, coop } = setup(100);
    const log: string[] = [];
    coop.coiterate(counter(log, 'a', 3));
    coop.coiterate(counter(log, 'b', 2));
    runAll(clock);
    expect(log).toEqual(['a0', 'b0', 'a1', 'b1', 'a2']);
  });

  it('ends a tick when the termination predicate says so, and continues in the next tick', () => {
    const { clock, coop } = setup(2);
    const log: string[] = [];
    coop.coiterate(counter(log, 'a', 3));
    coop.coiterate(counter(log, 'b', 3));
    clock.tick();
    expect(log).toEqual(['a0', 'b0']);
    clock.tick();
    expect(log).toEqual(['a0', 'b0', 'a1', 'b1']);
    clock.tick();
    expect(log).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });

  it('keeps the round-robin position across ticks', () => {
    const { clock, coop } = setup(1);
    const log: string[] = [];
    coop.coiterate(counter(log, 'a', 2));
    coop.coiterate(counter(log, 'b', 2));
    coop.coiterate(counter(log, 'c', 2));
    for (let i = 0; i < 4; i++) clock.tick();
    expect(log).toEqual(['a0', 'b0', 'c0', 'a1']);
  });

  it('uses a 10 ms slice by default', () => {
    let now = 1000;
    const spy = vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const done = defaultTerminationPredicateFactory();
      expect(done()).toBe(false);
      now += 9.9;
      expect(done()).toBe(false);
      now += 0.1;
      expect(done()).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it('schedules no tick when nothing is runnable', () => {
    const { clock, coop } = setup(100);
    expect(clock.pending).toBe(0);
    const task = coop.cooperate(counter([], 'a', 5));
    expect(clock.pending).toBe(1);
    task.pause();
    expect(clock.pending).toBe(0);
    task.resume();
    expect(clock.pending).toBe(1);
    runAll(clock);
    expect(clock.pending).toBe(0);
  });

  it('pauses a task on a yielded Deferred and resumes it when the Deferred fires', () => {
    const { clock, coop } = setup(100);
    const gate = new Deferred<number>();
    const log: string[] = [];
    coop.coiterate(
      (function* () {
        log.push('before');
        yield gate;
        log.push('after');
      })(),
    );
    runAll(clock);
    expect(log).toEqual(['before']);
    expect(clock.pending).toBe(0);
    gate.callback(1);
    expect(clock.pending).toBe(1);
    runAll(clock);
    expect(log).toEqual(['before', 'after']);
  });

  it('pauses a task on a yielded Promise until it settles', async () => {
    const { clock, coop } = setup(100);
    const log: string[] = [];
    let resolve!: () => void;
    const gate = new Promise<void>((r) => (resolve = r));
    coop.coiterate(
      (function* () {
        yield gate;
        log.push('after');
      })(),
    );
    runAll(clock);
    resolve();
    await gate;
    await Promise.resolve();
    runAll(clock);
    expect(log).toEqual(['after']);
  });

  it('fails the task when a yielded Deferred fails, and does not step the iterator again', () => {
    const { clock, coop } = setup(100);
    const gate = new Deferred<void>();
    let steps = 0;
    const err = new Error('job failed');
    const failures: Failure[] = [];
    coop
      .coiterate({
        next() {
          steps++;
          return { done: false, value: steps === 1 ? gate : undefined };
        },
      })
      .addErrback((f) => failures.push(f));
    runAll(clock);
    gate.errback(err);
    runAll(clock);
    expect(steps).toBe(1);
    expect(failures[0].value).toBe(err);
  });

  it('fails the task when the iterator throws', () => {
    const { clock, coop } = setup(100);
    const err = new RangeError('bad step');
    const failures: Failure[] = [];
    const task = coop.cooperate(
      (function* () {
        yield;
        throw err;
      })(),
    );
    task.whenDone().addErrback((f) => failures.push(f));
    runAll(clock);
    expect(failures[0].value).toBe(err);
    expect(() => task.stop()).toThrow(TaskFailed);
  });

  it('runs async iterators, waiting on each next()', async () => {
    const { clock, coop } = setup(100);
    const log: number[] = [];
    async function* source() {
      for (let i = 0; i < 3; i++) {
        await Promise.resolve();
        log.push(i);
        yield i;
      }
    }
    const iterable = { [Symbol.asyncIterator]: source };
    const done = coop.coiterate(iterable);
    while (!done.called) {
      runAll(clock);
      await new Promise((r) => setImmediate(r));
    }
    expect(log).toEqual([0, 1, 2]);
    await expect(done).resolves.toBe(iterable);
  });

  it('runs sync iterables such as arrays', () => {
    const { clock, coop } = setup(100);
    const array = [1, 2, 3];
    let result: unknown;
    coop.coiterate(array).addCallback((r) => {
      result = r;
    });
    runAll(clock);
    expect(result).toBe(array);
  });

  it('rejects something that is not iterable', () => {
    const { coop } = setup();
    expect(() => coop.cooperate(42 as unknown as Iterable<unknown>)).toThrow(TypeError);
  });

  it('lets tasks sharing one generator have at most N items in flight or even created', () => {
    const { clock, coop } = setup(1000);
    let created = 0;
    let finished = 0;
    let inFlight = 0;
    let peak = 0;
    const pending: Deferred<void>[] = [];
    function* work() {
      for (let i = 0; i < 20; i++) {
        created++;
        inFlight++;
        peak = Math.max(peak, inFlight);
        const d = new Deferred<void>();
        pending.push(d);
        yield d.addCallback(() => {
          inFlight--;
        });
      }
    }
    const shared = work();
    const tasks = [0, 1, 2].map(() => coop.coiterate(shared));
    runAll(clock);
    expect(created).toBe(3);
    let k = 0;
    while (pending.length > 0) {
      // Finish them in a scrambled order.
      const d = pending.splice((k++ * 7) % pending.length, 1)[0];
      d.callback(undefined);
      runAll(clock);
      finished++;
      // Created but not finished: never more than the number of tasks.
      expect(created - finished).toBeLessThanOrEqual(3);
      expect(inFlight).toBeLessThanOrEqual(3);
    }
    expect(peak).toBe(3);
    expect(created).toBe(20);
    expect(tasks.every((d) => d.called)).toBe(true);
  });
});

describe('CooperativeTask', () => {
  it('whenDone returns a new Deferred per call, fired when the task ends', () => {
    const { clock, coop } = setup(100);
    const it = counter([], 'a', 1);
    const task = coop.cooperate(it);
    const a = task.whenDone();
    const b = task.whenDone();
    expect(a).not.toBe(b);
    runAll(clock);
    const seen: unknown[] = [];
    a.addCallback((r) => seen.push(r));
    b.addCallback((r) => seen.push(r));
    task.whenDone().addCallback((r) => seen.push(r));
    expect(seen).toEqual([it, it, it]);
  });

  it('counts pause() and resume() calls', () => {
    const { clock, coop } = setup(100);
    const log: string[] = [];
    const task = coop.cooperate(counter(log, 'a', 3));
    task.pause();
    task.pause();
    runAll(clock);
    task.resume();
    runAll(clock);
    expect(log).toEqual([]);
    expect(task.paused).toBe(true);
    task.resume();
    runAll(clock);
    expect(log).toEqual(['a0', 'a1', 'a2']);
  });

  it('throws NotPaused when resumed more than paused', () => {
    const { coop } = setup();
    const task = coop.cooperate(counter([], 'a', 3));
    expect(() => task.resume()).toThrow(NotPaused);
    task.pause();
    task.resume();
    expect(() => task.resume()).toThrow(NotPaused);
  });

  it('does not let resume() release a task waiting on a yielded Deferred', () => {
    const { clock, coop } = setup(100);
    const log: string[] = [];
    const gate = new Deferred<void>();
    const task = coop.cooperate(
      (function* () {
        yield gate;
        log.push('after');
      })(),
    );
    runAll(clock);
    expect(() => task.resume()).toThrow(NotPaused);
    runAll(clock);
    expect(log).toEqual([]);
  });

  it('stop() ends the task with TaskStopped and steps it no more', () => {
    const { clock, coop } = setup(1);
    const log: string[] = [];
    const task = coop.cooperate(counter(log, 'a', 5));
    const errors: unknown[] = [];
    task.whenDone().addErrback((f) => errors.push(f.value));
    clock.tick();
    task.stop();
    runAll(clock);
    expect(log).toEqual(['a0']);
    expect(errors[0]).toBeInstanceOf(TaskStopped);
    expect(errors[0]).toBeInstanceOf(TaskFinished);
    expect(task.running).toBe(false);
    expect(() => task.stop()).toThrow(TaskStopped);
  });

  it('throws TaskDone when stopping or pausing a finished task', () => {
    const { clock, coop } = setup(100);
    const task = coop.cooperate(counter([], 'a', 1));
    runAll(clock);
    expect(() => task.stop()).toThrow(TaskDone);
    expect(() => task.pause()).toThrow(TaskDone);
    expect(new TaskDone()).toBeInstanceOf(TaskFinished);
    expect(new TaskFailed()).toBeInstanceOf(TaskFinished);
  });

  it('is what cooperate() returns', () => {
    const { coop } = setup();
    expect(coop.cooperate([])).toBeInstanceOf(CooperativeTask);
  });
});

describe('Cooperator start and stop', () => {
  it('stop() ends every task with SchedulerStopped, paused and waiting ones too', () => {
    const { clock, coop } = setup(2);
    const running = coop.cooperate(counter([], 'a', 10));
    const paused = coop.cooperate(counter([], 'b', 10));
    paused.pause();
    const gate = new Deferred<void>();
    const waiting = coop.cooperate([gate, 1]);
    clock.tick();
    const errors: unknown[] = [];
    for (const t of [running, paused, waiting]) t.whenDone().addErrback((f) => errors.push(f.value));
    coop.stop();
    expect(errors).toHaveLength(3);
    expect(errors.every((e) => e instanceof SchedulerStopped)).toBe(true);
    expect(clock.pending).toBe(0);
    expect(coop.running).toBe(false);
    gate.callback(undefined);
    expect(clock.pending).toBe(0);
  });

  it('fails tasks added after stop() with SchedulerStopped, and runs them again after start()', () => {
    const { clock, coop } = setup(100);
    coop.stop();
    const errors: unknown[] = [];
    coop.coiterate([1]).addErrback((f) => errors.push(f.value));
    expect(errors[0]).toBeInstanceOf(SchedulerStopped);
    coop.start();
    let done = false;
    coop.coiterate([1]).addCallback(() => {
      done = true;
    });
    runAll(clock);
    expect(done).toBe(true);
  });

  it('schedules nothing before start() when made with started: false', () => {
    const { clock, coop } = setup(100, false);
    const log: string[] = [];
    coop.coiterate(counter(log, 'a', 2));
    expect(coop.running).toBe(false);
    expect(clock.pending).toBe(0);
    coop.start();
    expect(coop.running).toBe(true);
    runAll(clock);
    expect(log).toEqual(['a0', 'a1']);
  });

  it('validates its options', () => {
    expect(() => new Cooperator({ scheduler: 1 as unknown as () => { cancel(): void } })).toThrow(TypeError);
    expect(
      () => new Cooperator({ terminationPredicateFactory: 'x' as unknown as () => () => boolean }),
    ).toThrow(/terminationPredicateFactory/);
  });
});

describe('module-level coiterate and cooperate', () => {
  it('run on a shared Cooperator driven by setImmediate', async () => {
    const log: string[] = [];
    const it = counter(log, 'x', 3);
    await expect(coiterate(it)).resolves.toBe(it);
    const task = cooperate(counter(log, 'y', 2));
    await task.whenDone();
    expect(log).toEqual(['x0', 'x1', 'x2', 'y0', 'y1']);
  });
});
