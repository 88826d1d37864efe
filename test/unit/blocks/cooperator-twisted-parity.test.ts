// Twisted's test_cooperator.py cases that read private state (_delayedCall, _tick, _pauseCount), checked here through
// what a user sees: the scheduler's handles, the work done, and the Deferreds.
import {
  type CooperativeTask,
  Cooperator,
  Deferred,
  DeferredSemaphore,
  type ScheduledCall,
} from 'async-batching';
import { describe, expect, it } from 'vitest';

/** A scheduler that records each call, run by hand. */
function manualScheduler() {
  const calls: { fn: () => void; cancelled: boolean }[] = [];
  const scheduler = (fn: () => void): ScheduledCall => {
    const call = { fn, cancelled: false };
    calls.push(call);
    return {
      cancel: () => {
        call.cancelled = true;
      },
    };
  };
  const pump = () => {
    const live = calls.filter((c) => !c.cancelled);
    calls.length = 0;
    for (const c of live) c.fn();
  };
  return { calls, scheduler, pump };
}

describe('Cooperator, as Twisted tests it', () => {
  it('cancels the scheduled tick when its last task is removed, and schedules again for a new task', () => {
    const { calls, scheduler } = manualScheduler();
    const coop = new Cooperator({ scheduler });
    const task1 = coop.cooperate([1, 2]);
    const task2 = coop.cooperate([1, 2]);
    expect(calls.length).toBe(1);
    task1.stop();
    expect(calls[0]?.cancelled).toBe(false);
    task2.stop();
    expect(calls[0]?.cancelled).toBe(true);
    coop.cooperate([1, 2]);
    expect(calls.length).toBe(2);
    expect(calls[1]?.cancelled).toBe(false);
  });

  it('does no more work for a task stopped while it waits on a Deferred, and leaves that Deferred undefined', () => {
    const { scheduler, pump } = manualScheduler();
    const coop = new Cooperator({ scheduler, terminationPredicateFactory: () => () => true });
    const work: unknown[] = [];
    let deferNext = true;
    const task: CooperativeTask = coop.cooperate(
      (function* () {
        for (let i = 1; ; i++) {
          if (deferNext) {
            deferNext = false;
            const d = new Deferred<number>();
            work.push(d);
            yield d;
          } else {
            work.push(i);
            yield i;
          }
        }
      })(),
    );
    pump();
    const d = work.pop() as Deferred<number>;
    const results: unknown[] = [];
    d.addBoth((r) => results.push(r));
    pump();
    task.stop();
    pump();
    d.callback(7);
    pump();
    expect(results).toEqual([undefined]);
    expect(work).toEqual([]);
  });

  it('ends a tick as soon as the termination predicate says so (resource exhaustion)', () => {
    const { scheduler, pump } = manualScheduler();
    const state = { stopped: false };
    const output: number[] = [];
    const coop = new Cooperator({ scheduler, terminationPredicateFactory: () => () => state.stopped });
    coop
      .coiterate(
        (function* () {
          for (let i = 0; i < 100; i++) {
            output.push(i);
            if (i === 9) state.stopped = true;
            yield i;
          }
        })(),
      )
      .addErrback(() => undefined);
    pump();
    coop.stop();
    expect(output).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe("p-limit's clearQueue, through the waiting queue", () => {
  it('cancelling every waiting Deferred fails each queued job with CancelledError and runs none of them', async () => {
    const sem = new DeferredSemaphore(1);
    const ran: number[] = [];
    const block = new Deferred<void>();
    const first = sem.run(() => block);
    const queued = [2, 3].map((n) => sem.run(() => ran.push(n)));
    for (const d of [...sem.waiting]) d.cancel();
    const settled = await Promise.allSettled(queued);
    expect(settled.map((s) => s.status === 'rejected' && (s.reason as Error).name)).toEqual([
      'CancelledError',
      'CancelledError',
    ]);
    block.callback(undefined);
    await first;
    expect(ran).toEqual([]);
    expect(sem.held).toBe(0);
  });
});
