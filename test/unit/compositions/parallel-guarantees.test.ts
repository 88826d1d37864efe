/**
 * The rules `parallel` and `parallelStream` keep when jobs, items, cancellers or the consumer misbehave, and the
 * p-map-style options (awaited items, `parallelSkip`, `stopOnError`, `concurrency: Infinity`).
 */
import {
  CancelledError,
  Cooperator,
  Deferred,
  type DeferredListEntry,
  type Failure,
  fail,
  parallel,
  parallelSkip,
  parallelStream,
  setUnhandledFailureReporter,
  succeed,
} from 'async-batching';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { collectGarbage } from '../../helpers/gc.ts';

/** What the unhandled-failure reporter received during the test. */
let reports: Failure[] = [];
function captureReports(): void {
  reports = [];
  setUnhandledFailureReporter((f) => reports.push(f));
}
afterEach(() => {
  setUnhandledFailureReporter(null);
});

function values<R>(entries: DeferredListEntry<R>[]): (R | string)[] {
  return entries.map((e) => (e[0] ? e[1] : `failed: ${(e[1] as Failure).getErrorMessage()}`));
}

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

/** Jobs that return Deferreds the test fires; job `throwing` has a canceller that throws. */
function cancellable(throwing = -1) {
  const jobs: Deferred<string>[] = [];
  const cancelled: number[] = [];
  const fn = (i: number) => {
    const d = new Deferred<string>(() => {
      cancelled.push(i);
      if (i === throwing) throw new Error(`canceller ${i} broke`);
    });
    jobs[i] = d;
    return d;
  };
  return { fn, jobs, cancelled };
}

/** The hostile result: any property it does not have throws, `then` included. */
const strict = (): object =>
  new Proxy(
    {},
    {
      get(t, k) {
        if (!(k in t)) throw new Error(`no ${String(k)}`);
        return Reflect.get(t, k);
      },
    },
  );

describe('a canceller that throws', () => {
  it('on abort, is reported, never stops the other jobs from being cancelled, and the batch still fails', async () => {
    captureReports();
    const { fn, cancelled } = cancellable(0);
    const controller = new AbortController();
    const d = parallel([0, 1, 2], 3, fn, { signal: controller.signal });
    controller.abort();
    expect(cancelled).toEqual([0, 1, 2]);
    expect(reports.map((f) => f.getErrorMessage())).toEqual(['canceller 0 broke']);
    await expect(d).rejects.toBeInstanceOf(CancelledError);
  });

  it('when the returned Deferred is cancelled, is reported and the Deferred still errbacks with CancelledError', async () => {
    captureReports();
    const { fn, cancelled } = cancellable(1);
    const d = parallel([0, 1, 2], 3, fn);
    expect(() => d.cancel()).not.toThrow();
    expect(cancelled).toEqual([0, 1, 2]);
    expect(reports.map((f) => f.getErrorMessage())).toEqual(['canceller 1 broke']);
    await expect(d).rejects.toBeInstanceOf(CancelledError);
  });

  it('when stopOnError stops the batch, is reported and the batch still fails with the first failure', async () => {
    captureReports();
    const { fn, jobs, cancelled } = cancellable(1);
    const d = parallel([0, 1, 2], 3, fn, { stopOnError: true });
    const err = new Error('job 0 failed');
    jobs[0].errback(err);
    expect(cancelled).toEqual([1, 2]);
    expect(reports.map((f) => f.getErrorMessage())).toEqual(['canceller 1 broke']);
    await expect(d).rejects.toBe(err);
  });

  it('when a parallelStream loop is left, is reported, the others are cancelled, and the iteration ends', async () => {
    captureReports();
    const { fn, cancelled } = cancellable(2);
    const stream = parallelStream([0, 1, 2, 3], 3, (i) => (i === 0 ? 'first' : fn(i)));
    const seen: number[] = [];
    for await (const o of stream) {
      seen.push(o.index);
      break;
    }
    expect(seen).toEqual([0]);
    expect(cancelled).toEqual([1, 2, 3]);
    expect(reports.map((f) => f.getErrorMessage())).toEqual(['canceller 2 broke']);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('when return() is called with a next() pending, is reported and the pending next() is done', async () => {
    captureReports();
    const { fn, cancelled } = cancellable(0);
    const stream = parallelStream([0, 1], 2, fn);
    const pending = stream.next();
    await stream.return?.();
    expect(cancelled).toEqual([0, 1]);
    expect(reports).toHaveLength(1);
    expect(await pending).toEqual({ done: true, value: undefined });
  });
});

describe('whatever a job returns or throws becomes that job outcome', () => {
  it('a result whose `then` getter throws fails that job with the error, and the batch goes on', async () => {
    const d = parallel([1, 2, 3], 1, (x) => (x === 2 ? strict() : Promise.resolve(x)));
    await vi.waitFor(() => expect(d.called).toBe(true));
    expect(values(await d)).toEqual([1, 'failed: no then', 3]);
  });

  it('in parallelStream too', async () => {
    const outcomes: [number, boolean][] = [];
    for await (const o of parallelStream([1, 2, 3], 1, (x) => (x === 2 ? strict() : x))) {
      outcomes.push([o.index, o.ok]);
    }
    expect(outcomes).toEqual([
      [0, true],
      [1, false],
      [2, true],
    ]);
  });

  it('a revoked Proxy as the result fails that job', async () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const entries = await parallel([1, 2], 2, (x) => (x === 1 ? proxy : x));
    expect(entries[0][0]).toBe(false);
    expect((entries[0][1] as Failure).value).toBeInstanceOf(TypeError);
    expect(entries[1]).toEqual([true, 2]);
  });

  it('an item whose `then` getter throws is that item failure', async () => {
    const entries = await parallel([1, strict(), 3], 2, (x) => x);
    expect(values(entries)).toEqual([1, 'failed: no then', 3]);
  });
});

describe("the links on a job's Deferred pass its result through", () => {
  it('a Deferred shared by several jobs gives each its result, and later callbacks still see it', async () => {
    const shared = new Deferred<string>();
    const batch = parallel([1, 2, 3], 3, () => shared);
    shared.callback('PAGE');
    const later: string[] = [];
    shared.addCallback((r) => {
      later.push(r);
    });
    expect(await batch).toEqual([
      [true, 'PAGE'],
      [true, 'PAGE'],
      [true, 'PAGE'],
    ]);
    expect(later).toEqual(['PAGE']);
  });

  it("a shared Deferred's failure reaches every job and stays on the Deferred for its other users", async () => {
    const shared = new Deferred<string>();
    const batch = parallel([1, 2], 2, () => shared);
    shared.errback(new Error('down'));
    const later: string[] = [];
    shared.addErrback((f) => {
      later.push(f.getErrorMessage());
      return null;
    });
    expect(values(await batch)).toEqual(['failed: down', 'failed: down']);
    expect(later).toEqual(['down']);
  });

  it("counts a job's failure as handled once the batch has recorded it, as await would", async () => {
    captureReports();
    await (async () => {
      const entries = await parallel([1, 2, 3], 2, (x) => (x === 2 ? fail(new Error('recorded')) : x));
      expect(values(entries)).toEqual([1, 'failed: recorded', 3]);
    })();
    await collectGarbage(() => reports.length > 0);
    expect(reports).toEqual([]);
  });
});

describe('items that are Promises or Deferreds', () => {
  it('are awaited before fn sees them; a rejected or failed item is that item failure', async () => {
    const later = new Deferred<number>();
    const seen: number[] = [];
    const batch = parallel(
      [
        Promise.resolve(1),
        later,
        Promise.reject(new Error('bad item')),
        4,
        fail<number>(new Error('failed item')),
      ],
      2,
      (x) => {
        seen.push(x);
        return x * 10;
      },
    );
    later.callback(2);
    expect(values(await batch)).toEqual([10, 20, 'failed: bad item', 40, 'failed: failed item']);
    expect(seen.sort()).toEqual([1, 2, 4]);
  });

  it('a Promise in an array that rejects before it is pulled is that item failure, not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const first = new Deferred<number>();
      const batch = parallel([first, Promise.reject(new Error('early'))], 1, (x) => x);
      await new Promise((resolve) => setImmediate(resolve));
      first.callback(1);
      expect(values(await batch)).toEqual([1, 'failed: early']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('hold their slot while awaited, so no more than `concurrency` are awaited or running', () => {
    const items = [new Deferred<number>(), new Deferred<number>(), new Deferred<number>()];
    let pulled = 0;
    function* gen() {
      for (const d of items) {
        pulled++;
        yield d;
      }
    }
    const calls: number[] = [];
    const batch = parallel(gen(), 2, (x) => {
      calls.push(x);
      return x;
    });
    expect(pulled).toBe(2);
    expect(calls).toEqual([]);
    items[1].callback(1);
    expect(calls).toEqual([1]);
    expect(pulled).toBe(3);
    items[0].callback(0);
    items[2].callback(2);
    expect(batch.called).toBe(true);
  });

  it('are cancelled on abort while awaited', async () => {
    let cancelled = 0;
    const item = new Deferred<number>(() => {
      cancelled++;
    });
    const d = parallel([item], 1, (x) => x);
    d.cancel();
    expect(cancelled).toBe(1);
    await expect(d).rejects.toBeInstanceOf(CancelledError);
  });

  it('appear in parallelStream outcomes as the source gave them, with fn given their value', async () => {
    const p = Promise.resolve(5);
    const outcomes = [];
    for await (const o of parallelStream([p], 1, (x) => x + 1)) outcomes.push(o);
    expect(outcomes).toEqual([{ index: 0, item: p, ok: true, value: 6 }]);
  });
});

describe('parallelSkip', () => {
  it('drops the result of a job that returns it, keeping the others in input order', async () => {
    const entries = await parallel([1, 2, 3, 4, 5], 2, (x) =>
      x === 2 ? parallelSkip : x === 4 ? Promise.resolve(parallelSkip) : Promise.resolve(x * 10),
    );
    expect(entries).toEqual([
      [true, 10],
      [true, 30],
      [true, 50],
    ]);
    expectTypeOf(entries).toEqualTypeOf<DeferredListEntry<number>[]>();
  });

  it('also as the value of a returned Deferred; parallelStream yields nothing for it', async () => {
    const indexes: number[] = [];
    for await (const o of parallelStream([1, 2, 3], 2, (x) => (x === 2 ? succeed(parallelSkip) : x))) {
      indexes.push(o.index);
    }
    expect(indexes).toEqual([0, 2]);
  });
});

describe('stopOnError', () => {
  it('the first failure cancels what is in flight, stops pulling, closes the source and fails the batch with it', async () => {
    const { fn, jobs, cancelled } = cancellable();
    const { state, items } = source(10);
    const d = parallel(items, 3, fn, { stopOnError: true });
    const err = new Error('job 1 failed');
    jobs[1].errback(err);
    expect(cancelled).toEqual([0, 2]);
    expect(state.pulled).toBe(3);
    expect(state.closed).toBe(true);
    await expect(d).rejects.toBe(err);
  });

  it('is off by default: a failure is one entry and every other item still runs', async () => {
    const entries = await parallel([1, 2, 3], 1, (x) => (x === 1 ? Promise.reject(new Error('one')) : x));
    expect(values(entries)).toEqual(['failed: one', 2, 3]);
  });

  it('in parallelStream, delivers the outcomes already finished, then throws the failure', async () => {
    const { fn, jobs, cancelled } = cancellable();
    const stream = parallelStream([0, 1, 2], 3, fn, { stopOnError: true });
    const first = stream.next();
    jobs[2].callback('c');
    jobs[0].errback(new Error('job 0 failed'));
    expect(cancelled).toEqual([1]);
    expect((await first).value).toEqual({ index: 2, item: 2, ok: true, value: 'c' });
    await expect(stream.next()).rejects.toThrow('job 0 failed');
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });
});

describe('concurrency: Infinity', () => {
  it('starts every item as soon as it is pulled', async () => {
    const { fn, jobs } = cancellable();
    const d = parallel(source(1000).items, Number.POSITIVE_INFINITY, fn);
    expect(jobs).toHaveLength(1000);
    for (const j of jobs) j.callback('x');
    expect(await d).toHaveLength(1000);
  });

  it('in parallelStream too, with an unbounded buffer', async () => {
    const { state, items } = source(100);
    const stream = parallelStream(items, Number.POSITIVE_INFINITY, (x) => x);
    await stream.next();
    expect(state.pulled).toBe(100);
  });

  it('is refused with a Cooperator, which runs one task per lane', () => {
    expect(() => parallel([1], Number.POSITIVE_INFINITY, (x) => x, { cooperator: new Cooperator() })).toThrow(
      /`concurrency`.*`options.cooperator`/,
    );
  });
});

describe('on a Cooperator, the same rules', () => {
  const options = () => ({ cooperator: new Cooperator() });

  it('awaits items, skips, and turns a hostile result into that job failure', async () => {
    const entries = await parallel(
      [Promise.resolve(1), succeed(2), 3, 4, Promise.reject(new Error('bad item'))],
      2,
      (x) => (x === 3 ? parallelSkip : x === 4 ? strict() : x * 10),
      options(),
    );
    expect(values(entries)).toEqual([10, 20, 'failed: no then', 'failed: bad item']);
  });

  it('passes a shared Deferred result through to every job and to later callbacks', async () => {
    const shared = new Deferred<string>();
    const batch = parallel([1, 2, 3], 2, () => shared, options());
    setImmediate(() => shared.callback('PAGE'));
    expect(values(await batch)).toEqual(['PAGE', 'PAGE', 'PAGE']);
    expect(await shared).toBe('PAGE');
  });

  it('with stopOnError, fails with the first failure and cancels what is in flight', async () => {
    const { fn, jobs, cancelled } = cancellable();
    const d = parallel([0, 1, 2, 3], 2, fn, { ...options(), stopOnError: true });
    await vi.waitFor(() => expect(jobs).toHaveLength(2));
    const err = new Error('job 0 failed');
    jobs[0].errback(err);
    await expect(d).rejects.toBe(err);
    expect(cancelled).toEqual([1]);
  });

  it('reports a canceller that throws on abort and still fails with CancelledError', async () => {
    captureReports();
    const { fn, jobs, cancelled } = cancellable(0);
    const d = parallel([0, 1, 2], 2, fn, options());
    await vi.waitFor(() => expect(jobs).toHaveLength(2));
    d.cancel();
    expect(cancelled).toEqual([0, 1]);
    expect(reports).toHaveLength(1);
    await expect(d).rejects.toBeInstanceOf(CancelledError);
  });
});
