/**
 * The Deferred features Twisted users reach for, with the rules of Twisted's own test_defer.py (its addTimeout, race,
 * pause/unpause and LogTests cases), restated in our words and run against the built package.
 */
import {
  AsyncBatchingError,
  CancelledError,
  Deferred,
  DeferredList,
  DeferredTimeoutError,
  type Failure,
  FailureGroup,
  fail,
  ManualClock,
  NotPaused,
  race,
  setUnhandledFailureReporter,
  succeed,
  TimeoutError,
} from 'async-batching';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { collectGarbage } from '../../helpers/gc.ts';

/** The outcome a Deferred's chain has reached now: `{ ok, value }`, or undefined when it has not fired. */
function outcomeOf<T>(d: Deferred<T>): { ok: boolean; value: unknown } | undefined {
  let out: { ok: boolean; value: unknown } | undefined;
  d.addCallbacks(
    (v) => {
      out = { ok: true, value: v };
      return v;
    },
    (f) => {
      out = { ok: false, value: f.value };
      return null;
    },
  );
  return out;
}

describe('addCallbacks', () => {
  it('passes a failure through when no errback is given, as Twisted does', () => {
    const seen: unknown[] = [];
    const d = new Deferred<number>();
    d.addCallbacks((v) => seen.push(['cb', v]));
    d.addErrback((f) => seen.push(['eb', f.getErrorMessage()]));
    d.errback(new Error('boom'));
    expect(seen).toEqual([['eb', 'boom']]);
  });

  it('takes null for the errback as "no errback"', () => {
    const d = succeed(2).addCallbacks((v) => v * 10, null);
    expect(outcomeOf(d)).toEqual({ ok: true, value: 20 });
  });

  it('still rejects an errback that is not a function', () => {
    expect(() => new Deferred().addCallbacks(() => 1, 'no' as never)).toThrow(
      /Expected `errback` to be a function, got "no" \(string\)/,
    );
  });
});

describe('pause and unpause', () => {
  it('holds callbacks while paused and runs them on unpause', () => {
    const seen: number[] = [];
    const d = new Deferred<number>();
    d.pause();
    d.addCallback((v) => seen.push(v));
    d.callback(1);
    expect(seen).toEqual([]);
    expect(d.paused).toBe(true);
    d.unpause();
    expect(seen).toEqual([1]);
    expect(d.paused).toBe(false);
  });

  it('counts pauses: the chain runs only once every pause is undone', () => {
    const seen: number[] = [];
    const d = succeed(7);
    d.pause();
    d.pause();
    d.addCallback((v) => seen.push(v));
    d.unpause();
    expect(seen).toEqual([]);
    d.unpause();
    expect(seen).toEqual([7]);
  });

  it('holds errbacks the same way', () => {
    const seen: string[] = [];
    const d = new Deferred();
    d.pause();
    d.addErrback((f) => seen.push(f.getErrorMessage()));
    d.errback(new Error('later'));
    expect(seen).toEqual([]);
    d.unpause();
    expect(seen).toEqual(['later']);
  });

  it('makes an outer Deferred wait for a returned Deferred that has a result but is paused', () => {
    const inner = succeed('inner');
    inner.pause();
    const outer = succeed(0).addCallback(() => inner);
    expect(outer.paused).toBe(true);
    expect(outcomeOf(outer)).toBeUndefined();
    inner.unpause();
    expect(outer.paused).toBe(false);
    expect(outcomeOf(outer)).toEqual({ ok: true, value: 'inner' });
  });

  it('raises NotPaused when unpause() is called more times than pause()', () => {
    const d = new Deferred();
    expect(() => d.unpause()).toThrow(NotPaused);
    d.pause();
    d.unpause();
    expect(() => d.unpause()).toThrow(/not paused/);
  });
});

describe('addTimeout', () => {
  it('passes a result that arrives in time through, and clears the timer', () => {
    const clock = new ManualClock();
    const d = new Deferred<string>().addTimeout(10, { clock });
    d.callback('in time');
    expect(clock.pending).toBe(0);
    clock.advance(20);
    expect(outcomeOf(d)).toEqual({ ok: true, value: 'in time' });
  });

  it('passes a failure that arrives in time through unchanged', () => {
    const clock = new ManualClock();
    const d = new Deferred().addTimeout(10, { clock });
    d.errback(new RangeError('early'));
    clock.advance(20);
    const out = outcomeOf(d);
    expect(out?.ok).toBe(false);
    expect(out?.value).toBeInstanceOf(RangeError);
  });

  it('cancels the Deferred when time runs out and fails it with DeferredTimeoutError', () => {
    const clock = new ManualClock();
    const canceller = vi.fn();
    const d = new Deferred(canceller).addTimeout(10, { clock });
    clock.advance(9);
    expect(d.called).toBe(false);
    clock.advance(1);
    expect(canceller).toHaveBeenCalledTimes(1);
    const out = outcomeOf(d);
    expect(out?.value).toBeInstanceOf(DeferredTimeoutError);
    expect(out?.value).toBeInstanceOf(AsyncBatchingError);
    expect(out?.value).not.toBeInstanceOf(TimeoutError);
    expect((out?.value as DeferredTimeoutError | undefined)?.timeout).toBe(10);
    expect((out?.value as DeferredTimeoutError | undefined)?.code).toBe('AB_ERR_DEFERRED_TIMEOUT');
  });

  it('keeps a success the canceller fired the Deferred with when time ran out', () => {
    const clock = new ManualClock();
    const d = new Deferred<string>((self) => self.callback('from canceller')).addTimeout(5, { clock });
    clock.advance(5);
    expect(outcomeOf(d)).toEqual({ ok: true, value: 'from canceller' });
  });

  it('keeps a failure other than CancelledError that the canceller fired the Deferred with', () => {
    const clock = new ManualClock();
    const d = new Deferred((self) => self.errback(new RangeError('own'))).addTimeout(5, { clock });
    clock.advance(5);
    expect(outcomeOf(d)?.value).toBeInstanceOf(RangeError);
  });

  it('leaves a cancellation by the caller before the timeout as CancelledError, and clears the timer', () => {
    const clock = new ManualClock();
    const onTimeoutCancel = vi.fn();
    const d = new Deferred().addTimeout(10, { clock, onTimeoutCancel });
    d.cancel();
    expect(clock.pending).toBe(0);
    expect(outcomeOf(d)?.value).toBeInstanceOf(CancelledError);
    expect(onTimeoutCancel).not.toHaveBeenCalled();
  });

  it('hands the outcome of a timed-out cancellation and the timeout to a custom onTimeoutCancel', () => {
    const clock = new ManualClock();
    const onTimeoutCancel = vi.fn(
      (r: unknown, ms: number) => `custom after ${ms} (${(r as Failure).type?.name})`,
    );
    const d = new Deferred<string>().addTimeout(3, { clock, onTimeoutCancel });
    clock.advance(3);
    expect(onTimeoutCancel).toHaveBeenCalledTimes(1);
    expect(outcomeOf(d)).toEqual({ ok: true, value: 'custom after 3 (CancelledError)' });
  });

  it('lets errbacks added before addTimeout see the CancelledError and those after see the timeout', () => {
    const clock = new ManualClock();
    const seen: string[] = [];
    const d = new Deferred();
    d.addErrback((f) => {
      seen.push(`before: ${f.type?.name}`);
      return f;
    });
    d.addTimeout(1, { clock });
    d.addErrback((f) => {
      seen.push(`after: ${f.type?.name}`);
    });
    clock.advance(1);
    expect(seen).toEqual(['before: CancelledError', 'after: DeferredTimeoutError']);
  });

  it('does not report a timeout when an errback added before it recovered from the cancellation', () => {
    const clock = new ManualClock();
    const d = new Deferred<string>();
    d.addErrback(() => 'recovered');
    d.addTimeout(1, { clock });
    clock.advance(1);
    expect(outcomeOf(d)).toEqual({ ok: true, value: 'recovered' });
  });

  it('uses the global timers when no clock is given', () => {
    vi.useFakeTimers();
    try {
      const d = new Deferred().addTimeout(50);
      vi.advanceTimersByTime(49);
      expect(d.called).toBe(false);
      vi.advanceTimersByTime(1);
      expect(outcomeOf(d)?.value).toBeInstanceOf(DeferredTimeoutError);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects a timeout that is not a finite number >= 0, naming it', () => {
    expect(() => new Deferred().addTimeout(-1)).toThrow(
      /Expected `ms` to be a number of milliseconds >= 0, got -1/,
    );
    expect(() => new Deferred().addTimeout(Number.NaN)).toThrow(RangeError);
    expect(() => new Deferred().addTimeout(1, { clock: {} as never })).toThrow(/`clock`/);
  });
});

describe('race', () => {
  it('fires with the index and result of the first success and cancels the others', () => {
    const cancelled: string[] = [];
    const a = new Deferred<string>(() => cancelled.push('a'));
    const b = new Deferred<string>(() => cancelled.push('b'));
    const c = new Deferred<string>(() => cancelled.push('c'));
    const r = race([a, b, c]);
    b.callback('b wins');
    expect(outcomeOf(r)).toEqual({ ok: true, value: [1, 'b wins'] });
    expect(cancelled).toEqual(['a', 'c']);
    // As in Twisted, race consumes what its inputs fire with: their own chains go on with undefined.
    expect(outcomeOf(a)).toEqual({ ok: true, value: undefined });
  });

  it('fails with a FailureGroup of every failure, in input order, when all inputs fail', () => {
    const a = new Deferred();
    const b = new Deferred();
    const r = race([a, b]);
    b.errback(new Error('second'));
    a.errback(new Error('first'));
    const out = outcomeOf(r);
    expect(out?.value).toBeInstanceOf(FailureGroup);
    expect((out?.value as FailureGroup | undefined)?.failures.map((f) => f.getErrorMessage())).toEqual([
      'first',
      'second',
    ]);
  });

  it('ignores a loser that its canceller fires with a success', () => {
    const winner = new Deferred<string>();
    const loser = new Deferred<string>((self) => self.callback('too late'));
    const r = race([winner, loser]);
    winner.callback('first');
    expect(outcomeOf(r)).toEqual({ ok: true, value: [0, 'first'] });
  });

  it('drops a loser result that arrives after it was cancelled without a canceller', () => {
    const winner = new Deferred<string>();
    const loser = new Deferred<string>();
    const r = race([winner, loser]);
    winner.callback('first');
    expect(() => loser.callback('late')).not.toThrow();
    expect(outcomeOf(r)).toEqual({ ok: true, value: [0, 'first'] });
  });

  it('cancels every input when the race is cancelled, failing with their failures', () => {
    const a = new Deferred();
    const b = new Deferred();
    const r = race([a, b]);
    r.cancel();
    expect(a.called && b.called).toBe(true);
    const out = outcomeOf(r);
    expect(out?.value).toBeInstanceOf(FailureGroup);
    expect((out?.value as FailureGroup | undefined)?.failures.every((f) => f.check(CancelledError))).toBe(
      true,
    );
  });

  it('accepts Promises, and refuses an empty race that could never fire', async () => {
    const r = race([new Promise<string>(() => {}), Promise.resolve('p')]);
    await expect(r).resolves.toEqual([1, 'p']);
    expect(() => race([])).toThrow(/Expected `items` to hold at least one Deferred or Promise, got 0/);
  });
});

describe('Deferred.fromPromise', () => {
  it('returns a Deferred given to it unchanged, as ensureDeferred does', () => {
    const d = new Deferred<number>();
    expect(Deferred.fromPromise(d)).toBe(d);
  });
});

describe('a canceller that throws', () => {
  let reported: Failure[] = [];
  let previous: ReturnType<typeof setUnhandledFailureReporter>;
  beforeEach(() => {
    reported = [];
    previous = setUnhandledFailureReporter((f) => reported.push(f));
  });
  afterEach(() => {
    setUnhandledFailureReporter(previous);
  });

  it('is reported, and the Deferred still fails with CancelledError whose cause is the thrown error', () => {
    const boom = new Error('canceller broke');
    const d = new Deferred(() => {
      throw boom;
    });
    expect(() => d.cancel()).not.toThrow();
    expect(reported.map((f) => f.value)).toEqual([boom]);
    const out = outcomeOf(d);
    expect(out?.value).toBeInstanceOf(CancelledError);
    expect((out?.value as Error | undefined)?.cause).toBe(boom);
  });

  it('never stops DeferredList.cancel() from cancelling the other inputs and firing the list', () => {
    const a = new Deferred();
    const bad = new Deferred(() => {
      throw new Error('bad canceller');
    });
    const c = new Deferred();
    const list = new DeferredList([a, bad, c], { consumeErrors: true });
    list.cancel();
    expect([a.called, bad.called, c.called]).toEqual([true, true, true]);
    expect(reported.map((f) => f.getErrorMessage())).toEqual(['bad canceller']);
    const out = outcomeOf(list);
    expect(out?.ok).toBe(true);
    expect(
      ((out?.value ?? []) as [boolean, Failure][]).map(([ok, f]) => ok || f.check(CancelledError) !== null),
    ).toEqual([true, true, true]);
  });

  it('is reported when an input overrides cancel() with one that throws, and the others are still cancelled', () => {
    class Stubborn extends Deferred<number> {
      override cancel(): void {
        throw new Error('will not cancel');
      }
    }
    const a = new Stubborn();
    const b = new Deferred<number>();
    const list = new DeferredList([a, b]);
    list.cancel();
    expect(b.called).toBe(true);
    expect(list.called).toBe(true);
    expect(reported.map((f) => f.getErrorMessage())).toEqual(['will not cancel']);
  });
});

describe('LogTests: unhandled failures', () => {
  it('does not report a failure once an errback returned a Deferred the chain now waits on (errorClearedByChaining)', async () => {
    const reported: Failure[] = [];
    const previous = setUnhandledFailureReporter((f) => reported.push(f));
    try {
      (() => {
        fail(new Error('oh no')).addErrback(() => new Deferred());
        fail(new Error('oh no, a promise')).addErrback(() => new Promise(() => {}));
      })();
      await collectGarbage(() => reported.length > 0, 10);
      expect(reported.map((f) => f.getErrorMessage())).toEqual([]);
    } finally {
      setUnhandledFailureReporter(previous);
    }
  });

  it('still reports a failure the chain ends with after the returned Deferred fires with one', async () => {
    const reported: Failure[] = [];
    const previous = setUnhandledFailureReporter((f) => reported.push(f));
    try {
      const inner = new Deferred();
      (() => {
        fail(new Error('first')).addErrback(() => inner);
      })();
      inner.errback(new Error('second'));
      await collectGarbage(() => reported.length > 0);
      expect(reported.map((f) => f.getErrorMessage())).toEqual(['second']);
    } finally {
      setUnhandledFailureReporter(previous);
    }
  });
});
