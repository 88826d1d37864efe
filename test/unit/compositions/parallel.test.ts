import {
  CancelledError,
  Cooperator,
  Deferred,
  type DeferredListEntry,
  type Failure,
  type ParallelOutcome,
  parallel,
  parallelStream,
  SchedulerStopped,
  succeed,
} from 'async-batching';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A generator that records how many items were pulled and whether it was closed. */
function source(n: number) {
  const state = { pulled: 0, closed: false };
  function* gen() {
    try {
      for (let i = 0; i < n; i++) {
        state.pulled++;
        yield i;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, items: gen() };
}

/** Jobs that return Deferreds the test fires; counts how many run at once. */
function controlled() {
  const jobs: Deferred<string>[] = [];
  const stats = { running: 0, peak: 0, cancelled: 0, calls: 0 };
  const fn = (item: number) => {
    stats.calls++;
    stats.running++;
    stats.peak = Math.max(stats.peak, stats.running);
    const d = new Deferred<string>(() => {
      stats.cancelled++;
    });
    jobs[item] = d;
    d.addBoth((r) => {
      stats.running--;
      return r;
    });
    return d;
  };
  return { fn, jobs, stats };
}

function values<R>(entries: DeferredListEntry<R>[]): (R | string)[] {
  return entries.map((e) => (e[0] ? e[1] : `failed: ${(e[1] as Failure).getErrorMessage()}`));
}

describe('parallel', () => {
  it('gives every outcome in input order, whatever fn returns', async () => {
    const entries = await parallel([0, 1, 2, 3, 4], 2, (x): string | Promise<string> | Deferred<string> => {
      if (x === 0) return 'sync';
      if (x === 1) return Promise.resolve('promise');
      if (x === 2) return succeed('deferred');
      if (x === 3) throw new Error('thrown');
      return Promise.reject(new Error('rejected'));
    });
    expect(values(entries)).toEqual(['sync', 'promise', 'deferred', 'failed: thrown', 'failed: rejected']);
  });

  it('passes each item and its index to fn', async () => {
    const seen: [string, number][] = [];
    await parallel(['a', 'b', 'c'], 2, (item, index) => {
      seen.push([item, index]);
    });
    expect(seen).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
  });

  it('never has more than `concurrency` jobs in flight', () => {
    const { fn, jobs, stats } = controlled();
    const d = parallel([0, 1, 2, 3, 4, 5], 3, fn);
    expect(stats.running).toBe(3);
    jobs[1].callback('b');
    expect(stats.running).toBe(3);
    for (const i of [0, 2, 3, 4, 5]) jobs[i].callback(String(i));
    expect(stats.peak).toBe(3);
    expect(d.called).toBe(true);
  });

  it('pulls an item only when a slot is free', () => {
    const { fn, jobs } = controlled();
    const { state, items } = source(10);
    parallel(items, 2, fn);
    expect(state.pulled).toBe(2);
    jobs[0].callback('a');
    expect(state.pulled).toBe(3);
    for (let i = 1; i < 10; i++) jobs[i].callback('x');
    expect(state.pulled).toBe(10);
  });

  it('consumes async iterables lazily', async () => {
    let pulled = 0;
    async function* gen() {
      for (let i = 0; i < 5; i++) {
        pulled++;
        yield i;
      }
    }
    const { fn, jobs } = controlled();
    const d = parallel(gen(), 2, fn);
    while (pulled < 2) await turn();
    await turn();
    expect(pulled).toBe(2);
    for (let i = 0; i < 5; i++) {
      while (jobs[i] === undefined) await turn();
      jobs[i].callback(`v${i}`);
    }
    expect(values(await d)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('fires at once with [] for no items', () => {
    let result: unknown;
    parallel([], 4, () => 1).addCallback((r) => {
      result = r;
    });
    expect(result).toEqual([]);
  });

  it('runs 100,000 items that finish synchronously without overflowing the stack', async () => {
    const entries = await parallel(source(100_000).items, 10, (x) => x * 2);
    expect(entries).toHaveLength(100_000);
    expect(entries[99_999]).toEqual([true, 199_998]);
  });

  it('rejects a concurrency that is not a whole number >= 1 or Infinity', () => {
    expect(() => parallel([1], 0, (x) => x)).toThrow(
      new RangeError('Expected `concurrency` to be a whole number >= 1 or Infinity, got 0'),
    );
    for (const bad of [1.5, -2, Number.NaN]) {
      expect(() => parallel([1], bad as number, (x) => x)).toThrow(RangeError);
    }
    expect(() => parallel([1], '3' as never, (x) => x)).toThrow(TypeError);
  });

  it('rejects items that are not iterable and fn that is not a function, naming the argument', () => {
    expect(() => parallel(5 as unknown as number[], 1, (x) => x)).toThrow(/`items`/);
    expect(() => parallel(null as unknown as number[], 1, (x) => x)).toThrow(TypeError);
    expect(() => parallel([1], 1, 'f' as unknown as (x: number) => number)).toThrow(/`fn`/);
    expect(() => parallel([1], 1, (x) => x, { signal: {} as AbortSignal })).toThrow(/`options.signal`/);
  });

  it('stops pulling, cancels what is in flight and fails with CancelledError when the signal aborts', async () => {
    const { fn, stats } = controlled();
    const { state, items } = source(10);
    const controller = new AbortController();
    const d = parallel(items, 3, fn, { signal: controller.signal });
    controller.abort(new Error('enough'));
    expect(stats.cancelled).toBe(3);
    expect(state.pulled).toBe(3);
    expect(state.closed).toBe(true);
    const error = await d.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).cause).toEqual(new Error('enough'));
  });

  it('calls nothing when the signal is already aborted', async () => {
    let calls = 0;
    const d = parallel([1, 2], 1, () => calls++, { signal: AbortSignal.abort() });
    await expect(d).rejects.toBeInstanceOf(CancelledError);
    expect(calls).toBe(0);
  });

  it('does the same as the signal when the returned Deferred is cancelled', async () => {
    const { fn, stats } = controlled();
    const { state, items } = source(10);
    const d = parallel(items, 2, fn);
    d.cancel();
    expect(stats.cancelled).toBe(2);
    expect(state.closed).toBe(true);
    await expect(d).rejects.toBeInstanceOf(CancelledError);
  });

  it('fails with the error of a source that throws, cancelling what is in flight', async () => {
    const err = new Error('source broke');
    const { fn, jobs, stats } = controlled();
    function* gen() {
      yield 0;
      yield 1;
      throw err;
    }
    const d = parallel(gen(), 2, fn);
    jobs[0].callback('a');
    expect(stats.cancelled).toBe(1);
    await expect(d).rejects.toBe(err);
  });

  it('runs as cooperative tasks on a given Cooperator', () => {
    const calls: (() => void)[] = [];
    const coop = new Cooperator({
      scheduler: (fn) => {
        calls.push(fn);
        return { cancel: () => calls.splice(calls.indexOf(fn), 1) };
      },
      terminationPredicateFactory: () => () => false,
    });
    const { fn, jobs, stats } = controlled();
    const d = parallel(source(6).items, 2, fn, { cooperator: coop });
    expect(stats.calls).toBe(0);
    const tick = () => {
      for (const c of calls.splice(0)) c();
    };
    tick();
    expect(stats.running).toBe(2);
    for (let i = 0; i < 6; i++) {
      jobs[i].callback(`v${i}`);
      tick();
    }
    expect(stats.peak).toBe(2);
    let result: unknown;
    d.addCallback((r) => {
      result = values(r);
    });
    expect(result).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
    expect(calls).toHaveLength(0);
  });

  it('runs an async source on a Cooperator', async () => {
    async function* gen() {
      for (let i = 0; i < 5; i++) yield i;
    }
    const entries = await parallel(gen(), 2, async (x) => x + 1, { cooperator: new Cooperator() });
    expect(values(entries)).toEqual([1, 2, 3, 4, 5]);
  });

  it('fails with SchedulerStopped when its Cooperator is stopped', async () => {
    const coop = new Cooperator();
    const { fn } = controlled();
    const d = parallel(source(5).items, 2, fn, { cooperator: coop });
    await turn();
    coop.stop();
    await expect(d).rejects.toBeInstanceOf(SchedulerStopped);
  });

  it('keeps its invariants for random durations, failures and concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.constantFrom('ok', 'fail', 'sync', 'throw'), { maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        async (concurrency, kinds, picks) => {
          let running = 0;
          let peak = 0;
          const runs = new Array(kinds.length).fill(0);
          const pending: { d: Deferred<number>; i: number }[] = [];
          const result = parallel(kinds.keys(), concurrency, (i): number | Deferred<number> => {
            runs[i]++;
            if (kinds[i] === 'sync') return i;
            if (kinds[i] === 'throw') throw new Error(`job ${i}`);
            running++;
            peak = Math.max(peak, running);
            const d = new Deferred<number>();
            pending.push({ d, i });
            d.addBoth((r) => {
              running--;
              return r;
            });
            return d;
          });
          let k = 0;
          while (pending.length > 0) {
            const { d, i } = pending.splice(picks[k++ % picks.length] % pending.length, 1)[0];
            if (kinds[i] === 'fail') d.errback(new Error(`job ${i}`));
            else d.callback(i);
          }
          const entries = await result;
          const slow = kinds.filter((kind) => kind === 'ok' || kind === 'fail').length;
          expect(runs.every((n) => n === 1)).toBe(true);
          expect(peak).toBe(Math.min(concurrency, slow));
          expect(entries).toHaveLength(kinds.length);
          entries.forEach((entry, i) => {
            const ok = kinds[i] === 'ok' || kinds[i] === 'sync';
            expect(entry[0]).toBe(ok);
            expect(ok ? entry[1] : (entry[1] as Failure).getErrorMessage()).toBe(ok ? i : `job ${i}`);
          });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('parallelStream', () => {
  it('yields outcomes in completion order', async () => {
    const { fn, jobs } = controlled();
    const stream = parallelStream([0, 1, 2], 3, fn);
    const first = stream.next();
    jobs[2].callback('c');
    jobs[0].errback(new Error('a failed'));
    jobs[1].callback('b');
    const outcomes: ParallelOutcome<number, string>[] = [
      (await first).value as ParallelOutcome<number, string>,
    ];
    for await (const o of stream) outcomes.push(o);
    expect(outcomes.map((o) => [o.index, o.item, o.ok])).toEqual([
      [2, 2, true],
      [0, 0, false],
      [1, 1, true],
    ]);
    const failed = outcomes[1];
    expect(failed.ok === false && failed.failure.getErrorMessage()).toBe('a failed');
    const done = outcomes[0];
    expect(done.ok && done.value).toBe('c');
  });

  it('hands over outcomes of Promise jobs in completion order, rejections as failures', async () => {
    const settle: ((ok: boolean) => void)[] = [];
    const stream = parallelStream([0, 1, 2, 3], 4, (x) => {
      return new Promise<string>((resolve, reject) => {
        settle[x] = (ok) => (ok ? resolve(`v${x}`) : reject(new Error(`e${x}`)));
      });
    });
    const first = stream.next();
    settle[2](true);
    settle[0](false);
    await turn();
    settle[3](true);
    settle[1](true);
    const results = [await first];
    for (let r = await stream.next(); !r.done; r = await stream.next()) results.push(r);
    expect(new Set(results).size).toBe(4);
    expect(
      results.map((r) => {
        const o = r.value as ParallelOutcome<number, string>;
        return o.ok ? [o.index, o.item, o.value] : [o.index, o.item, o.failure.getErrorMessage()];
      }),
    ).toEqual([
      [2, 2, 'v2'],
      [0, 0, 'e0'],
      [3, 3, 'v3'],
      [1, 1, 'v1'],
    ]);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('answers next() calls made before anything finished in call order, then done to every one', async () => {
    const resolvers: ((v: number) => void)[] = [];
    const stream = parallelStream([0, 1, 2], 3, (x) => new Promise<number>((r) => (resolvers[x] = r)));
    const calls = [stream.next(), stream.next(), stream.next(), stream.next(), stream.next()];
    resolvers[1](10);
    resolvers[2](20);
    resolvers[0](0);
    const results = await Promise.all(calls);
    expect(results.map((r) => (r.done ? 'done' : r.value.index))).toEqual([1, 2, 0, 'done', 'done']);
  });

  it('with Promise jobs and a slow consumer, holds at most concurrency + backpressure outcomes', async () => {
    const { state, items } = source(1000);
    let running = 0;
    let peak = 0;
    const stream = parallelStream(
      items,
      5,
      async (x) => {
        running++;
        peak = Math.max(peak, running);
        await null;
        running--;
        return x;
      },
      { backpressure: 3 },
    );
    let taken = 0;
    for await (const _ of stream) {
      taken++;
      await turn();
      expect(state.pulled - taken).toBeLessThanOrEqual(5 + 3);
    }
    expect(taken).toBe(1000);
    expect(peak).toBe(5);
  });

  it('takes thenables and Promise subclasses from fn as well', async () => {
    class MyPromise<T> extends Promise<T> {}
    const thenable = (x: number) => ({ then: (ok: (v: number) => void) => ok(x) }) as PromiseLike<number>;
    const stream = parallelStream(
      [0, 1, 2],
      2,
      (x): PromiseLike<number> =>
        x === 0 ? MyPromise.resolve(x) : x === 1 ? thenable(x) : Promise.resolve(x),
    );
    const seen: number[] = [];
    for await (const o of stream) if (o.ok) seen.push(o.value);
    expect(seen.sort()).toEqual([0, 1, 2]);
  });

  it('starts nothing until the first next()', async () => {
    const { state, items } = source(5);
    const stream = parallelStream(items, 2, (x) => x);
    await turn();
    expect(state.pulled).toBe(0);
    const outcomes = [];
    for await (const o of stream) outcomes.push(o.index);
    expect(outcomes).toEqual([0, 1, 2, 3, 4]);
  });

  it('pulls the next input as soon as a slot frees, and never has more than concurrency in flight', async () => {
    const { fn, jobs, stats } = controlled();
    const { state, items } = source(6);
    const stream = parallelStream(items, 2, fn);
    const first = stream.next();
    expect(state.pulled).toBe(2);
    jobs[0].callback('a');
    // Slot 0 freed: item 2 starts at once, before the consumer has even seen item 0.
    expect(state.pulled).toBe(3);
    expect(stats.running).toBe(2);
    expect((await first).value?.index).toBe(0);
    const rest: number[] = [];
    const consumer = (async () => {
      for await (const o of stream) rest.push(o.index);
    })();
    for (let i = 1; i < 6; i++) {
      while (jobs[i] === undefined) await turn();
      jobs[i].callback('x');
    }
    await consumer;
    expect(rest).toEqual([1, 2, 3, 4, 5]);
    expect(stats.peak).toBe(2);
  });

  it('stops starting items while `backpressure` outcomes wait for the consumer', async () => {
    const { state, items } = source(100);
    const stream = parallelStream(items, 3, (x) => x, { backpressure: 4 });
    await stream.next();
    expect(state.pulled).toBeLessThanOrEqual(3 + 4 + 1);
    let n = 1;
    for await (const _ of stream) n++;
    expect(n).toBe(100);
  });

  it('stops pulling, cancels what is in flight and closes the source when the loop is left', async () => {
    const { fn, jobs, stats } = controlled();
    const { state, items } = source(10);
    const stream = parallelStream(items, 3, fn);
    const seen: number[] = [];
    const loop = (async () => {
      for await (const o of stream) {
        seen.push(o.index);
        break;
      }
    })();
    await turn();
    jobs[1].callback('b');
    await loop;
    expect(seen).toEqual([1]);
    expect(stats.cancelled).toBe(3);
    expect(state.closed).toBe(true);
    expect(state.pulled).toBe(4);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('throws CancelledError when the signal aborts', async () => {
    const { fn, jobs, stats } = controlled();
    const controller = new AbortController();
    const stream = parallelStream(source(10).items, 2, fn, { signal: controller.signal });
    const seen: number[] = [];
    const loop = (async () => {
      for await (const o of stream) {
        seen.push(o.index);
        controller.abort();
      }
    })();
    await turn();
    jobs[0].callback('a');
    await expect(loop).rejects.toBeInstanceOf(CancelledError);
    expect(seen).toEqual([0]);
    expect(stats.cancelled).toBe(2);
  });

  it('delivers finished outcomes, then throws the error of a source that throws', async () => {
    const err = new Error('source broke');
    function* gen() {
      yield 0;
      yield 1;
      throw err;
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const o of parallelStream(gen(), 5, (x) => x)) seen.push(o.index);
      })(),
    ).rejects.toBe(err);
    expect(seen).toEqual([0, 1]);
  });

  it('validates its arguments at once', () => {
    expect(() => parallelStream([1], 0, (x) => x)).toThrow(RangeError);
    expect(() => parallelStream({} as number[], 1, (x) => x)).toThrow(/`items`/);
    expect(() => parallelStream([1], 1, (x) => x, { backpressure: 0 })).toThrow(/`options.backpressure`/);
  });

  it('runs on a Cooperator too', async () => {
    const out: number[] = [];
    for await (const o of parallelStream(source(20).items, 3, async (x) => x, {
      cooperator: new Cooperator(),
    })) {
      out.push(o.index);
    }
    expect(out.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  });

  it('on a Cooperator, resumes starting items whenever a slow consumer makes room', async () => {
    const { state, items } = source(60);
    const stream = parallelStream(items, 3, async (x) => x, {
      cooperator: new Cooperator(),
      backpressure: 2,
    });
    let taken = 0;
    for await (const _ of stream) {
      taken++;
      expect(state.pulled - taken).toBeLessThanOrEqual(3 + 2);
      await turn();
    }
    expect(taken).toBe(60);
  });

  it('keeps its invariants for random durations, failures and concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.boolean(), { maxLength: 25 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        async (concurrency, fails, picks) => {
          let running = 0;
          let peak = 0;
          const runs = new Array(fails.length).fill(0);
          const pending: { d: Deferred<number>; i: number }[] = [];
          const stream = parallelStream(fails.keys(), concurrency, (i) => {
            runs[i]++;
            running++;
            peak = Math.max(peak, running);
            const d = new Deferred<number>();
            pending.push({ d, i });
            d.addBoth((r) => {
              running--;
              return r;
            });
            return d;
          });
          const seen: ParallelOutcome<number, number>[] = [];
          const consumer = (async () => {
            for await (const o of stream) seen.push(o);
          })();
          let k = 0;
          await turn();
          while (pending.length > 0) {
            const { d, i } = pending.splice(picks[k++ % picks.length] % pending.length, 1)[0];
            if (fails[i]) d.errback(new Error(`job ${i}`));
            else d.callback(i);
            await turn();
          }
          await consumer;
          expect(runs.every((n) => n === 1)).toBe(true);
          expect(peak).toBe(Math.min(concurrency, fails.length));
          expect(seen.map((o) => o.index).sort((a, b) => a - b)).toEqual([...fails.keys()]);
          for (const o of seen) expect(o.ok).toBe(!fails[o.index]);
        },
      ),
      { numRuns: 40 },
    );
  });
});
