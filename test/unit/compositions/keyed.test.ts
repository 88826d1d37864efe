import {
  CancelledError,
  Deferred,
  KeyedSemaphore,
  keyedParallel,
  keyedParallelStream,
  ManualClock,
  RateLimiter,
  TooManyReleasesError,
} from 'async-batching';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** A Deferred that records whether it was cancelled (its chain is the pool's to consume). */
function cancellable() {
  const state = { cancelled: false, d: null as unknown as Deferred<void> };
  state.d = new Deferred<void>(() => {
    state.cancelled = true;
  });
  return state;
}

describe('KeyedSemaphore', () => {
  it('rejects a perKey that is not a whole number >= 1, and a key that is not a string', () => {
    expect(() => new KeyedSemaphore(0)).toThrow(
      new RangeError('Expected `perKey` to be a whole number >= 1, got 0'),
    );
    expect(() => new KeyedSemaphore(2).run(1 as unknown as string, () => 1)).toThrow(
      new TypeError('Expected `key` to be a string, got 1'),
    );
  });

  it('limits each key on its own: a saturated key does not hold back another', () => {
    const ks = new KeyedSemaphore(1);
    const started: string[] = [];
    const held = new Deferred<void>();
    ks.run('a', () => {
      started.push('a1');
      return held;
    });
    ks.run('a', () => started.push('a2'));
    ks.run('b', () => started.push('b1'));
    expect(started).toEqual(['a1', 'b1']);
    expect(ks.running('a')).toBe(1);
    expect(ks.waiting('a')).toBe(1);
    held.callback();
    expect(started).toEqual(['a1', 'b1', 'a2']);
  });

  it('forgets a key once nobody holds or waits for it', () => {
    const ks = new KeyedSemaphore(2);
    const d = new Deferred<number>();
    ks.run('x', () => d);
    expect(ks.size).toBe(1);
    d.callback(1);
    expect(ks.size).toBe(0);
    ks.acquire('y');
    expect(ks.size).toBe(1);
    ks.release('y');
    expect(ks.size).toBe(0);
    expect(() => ks.release('y')).toThrow(TooManyReleasesError);
  });

  it('applies a new perKey to the keys in use at once', () => {
    const ks = new KeyedSemaphore(1);
    const started: number[] = [];
    const held = new Deferred<void>();
    ks.run('k', () => held);
    ks.run('k', () => started.push(2));
    expect(started).toEqual([]);
    ks.perKey = 2;
    expect(started).toEqual([2]);
    expect(ks.perKey).toBe(2);
    expect(() => {
      ks.perKey = 0;
    }).toThrow(RangeError);
    held.callback();
  });

  it('takes a cancelled waiting job out of its key queue', async () => {
    const ks = new KeyedSemaphore(1);
    const held = new Deferred<void>();
    ks.run('k', () => held);
    const ran: number[] = [];
    const w = ks.run('k', () => ran.push(1));
    w.cancel();
    await expect(w).rejects.toBeInstanceOf(CancelledError);
    held.callback();
    expect(ran).toEqual([]);
    expect(ks.size).toBe(0);
  });
});

/** Jobs the test settles by hand, with the pool's invariants checked at every start. */
function harness(perKey: number, concurrency: number, lookAhead: number) {
  const running = new Map<string, number>();
  let global = 0;
  let pulled = 0;
  let started = 0;
  const runs = new Map<number, number>();
  const pending: { d: Deferred<number>; key: string }[] = [];
  const violations: string[] = [];
  function* source(keys: readonly string[]) {
    for (const k of keys) {
      pulled++;
      if (pulled - started > lookAhead) violations.push(`look-ahead ${pulled - started} > ${lookAhead}`);
      yield k;
    }
  }
  const job = (key: string, index: number) => {
    started++;
    global++;
    running.set(key, (running.get(key) ?? 0) + 1);
    runs.set(index, (runs.get(index) ?? 0) + 1);
    if ((running.get(key) as number) > perKey)
      violations.push(`key ${key} runs ${running.get(key)} > ${perKey}`);
    if (global > concurrency) violations.push(`global ${global} > ${concurrency}`);
    const d = new Deferred<number>();
    d.addBoth((r) => {
      global--;
      running.set(key, (running.get(key) as number) - 1);
      return r;
    });
    pending.push({ d, key });
    return d.addCallback(() => index);
  };
  return { source, job, pending, runs, violations };
}

describe('keyedParallel', () => {
  it('rejects bad arguments, naming them', () => {
    const key = (s: string) => s;
    expect(() => keyedParallel(['a'], 0, key, { key, perKey: 1 })).toThrow(
      new RangeError('Expected `concurrency` to be a whole number >= 1, got 0'),
    );
    expect(() => keyedParallel(['a'], 1, key, { key, perKey: 0 })).toThrow(
      new RangeError('Expected `options.perKey` to be a whole number >= 1, got 0'),
    );
    expect(() => keyedParallel(['a'], 1, key, { key, perKey: 1, lookAhead: 0 })).toThrow(RangeError);
    expect(() => keyedParallel(['a'], 1, key, { perKey: 1 } as never)).toThrow(
      new TypeError('Expected `options.key` to be a function, got undefined'),
    );
    expect(() => keyedParallel(5 as never, 1, key, { key, perKey: 1 })).toThrow(TypeError);
  });

  it('keeps pulling items of other keys while one key is saturated (no head-of-line blocking)', () => {
    // Key "slow" never finishes; every other job finishes at once.
    const items = ['slow', 'slow', 'slow', 'a', 'b', 'c', 'slow', 'd', 'e'];
    const done: string[] = [];
    const stuck: Deferred<void>[] = [];
    const out = keyedParallel(
      items,
      3,
      (item, i): unknown => {
        if (item === 'slow') {
          const d = new Deferred<void>();
          stuck.push(d);
          return d;
        }
        done.push(`${item}${i}`);
        return item;
      },
      { key: (item) => item, perKey: 1, lookAhead: 4 },
    );
    expect(done).toEqual(['a3', 'b4', 'c5', 'd7', 'e8']);
    expect(stuck.length).toBe(1);
    stuck[0]?.callback();
    expect(stuck.length).toBe(2);
    stuck[1]?.callback();
    stuck[2]?.callback();
    stuck[3]?.callback();
    let results: unknown;
    out.addCallback((r) => {
      results = r;
    });
    expect(results).toEqual(items.map((item) => [true, item === 'slow' ? undefined : item]));
  });

  it('stops pulling when the look-ahead buffer is full, and resumes as buffered items start', () => {
    let pulled = 0;
    function* gen() {
      for (let i = 0; i < 10; i++) {
        pulled++;
        yield 'k';
      }
    }
    const held: Deferred<void>[] = [];
    keyedParallel(
      gen(),
      5,
      () => {
        const d = new Deferred<void>();
        held.push(d);
        return d;
      },
      { key: (k) => k, perKey: 1, lookAhead: 2 },
    );
    // One runs, two wait in the buffer.
    expect(pulled).toBe(3);
    held[0]?.callback();
    expect(pulled).toBe(4);
  });

  it('reports a throwing key function as the failure of the whole run, and cancels the jobs in flight', async () => {
    const held = cancellable();
    const out = keyedParallel(['a', 'b'], 2, (s): unknown => (s === 'a' ? held.d : s), {
      key: (s) => {
        if (s === 'b') throw new Error('no key');
        return s;
      },
      perKey: 1,
    });
    await expect(out).rejects.toThrow('no key');
    expect(held.cancelled).toBe(true);
  });

  it('cancelling the run cancels the jobs in flight and closes the source', async () => {
    let closed = false;
    function* gen() {
      try {
        yield 'a';
        yield 'b';
      } finally {
        closed = true;
      }
    }
    const held = cancellable();
    const out = keyedParallel(gen(), 1, () => held.d, { key: (s) => s, perKey: 1 });
    out.cancel();
    await expect(out).rejects.toBeInstanceOf(CancelledError);
    expect(held.cancelled).toBe(true);
    expect(closed).toBe(true);
  });

  it('starts every job through the rate limiter when given one', () => {
    const clock = new ManualClock();
    const rate = new RateLimiter({ max: 2, per: 100 }, { clock });
    const starts: number[] = [];
    keyedParallel([1, 2, 3, 4], 4, () => starts.push(clock.now()), { key: String, perKey: 1, rate });
    expect(starts).toEqual([0, 0]);
    clock.advance(100);
    expect(starts).toEqual([0, 0, 100, 100]);
  });

  it('reads an async iterable lazily', async () => {
    async function* gen() {
      for (const k of ['a', 'a', 'b']) yield k;
    }
    const r = await keyedParallel(gen(), 2, (k, i) => `${k}${i}`, { key: (k) => k, perKey: 1 });
    expect(r).toEqual([
      [true, 'a0'],
      [true, 'a1'],
      [true, 'b2'],
    ]);
  });

  it('property: per key <= perKey, global <= concurrency, look-ahead <= its bound, every item runs exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 40 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (keys, perKey, concurrency, lookAhead, picks) => {
          const h = harness(perKey, concurrency, lookAhead);
          let results: unknown = null;
          keyedParallel(h.source(keys), concurrency, h.job, { key: (k) => k, perKey, lookAhead }).addCallback(
            (r) => {
              results = r;
            },
          );
          // Settle jobs in an order the test picks, then the rest in order.
          let p = 0;
          while (h.pending.length > 0) {
            const at = p < picks.length ? (picks[p++] as number) % h.pending.length : 0;
            const [job] = h.pending.splice(at, 1);
            job?.d.callback(0);
          }
          expect(h.violations).toEqual([]);
          expect(results).toEqual(keys.map((_, i) => [true, i]));
          for (let i = 0; i < keys.length; i++) expect(h.runs.get(i)).toBe(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('keyedParallelStream', () => {
  it('yields outcomes in completion order and starts nothing before the first next()', async () => {
    const started: number[] = [];
    const it = keyedParallelStream([1, 2, 3], 2, (n) => started.push(n) && n, { key: String, perKey: 1 });
    expect(started).toEqual([]);
    const got: number[] = [];
    for await (const o of it) if (o.ok) got.push(o.value as number);
    expect(got.sort()).toEqual([1, 2, 3]);
  });

  it('holds finished outcomes to `backpressure` before starting more', async () => {
    const started: number[] = [];
    const it = keyedParallelStream([1, 2, 3, 4, 5, 6], 2, (n) => started.push(n), {
      key: String,
      perKey: 1,
      backpressure: 2,
    });
    await it.next();
    // The first pump started jobs until two outcomes waited; taking one lets one more start.
    expect(started.length).toBeLessThanOrEqual(4);
    const rest: unknown[] = [];
    for await (const o of it) rest.push(o.index);
    expect(rest.length).toBe(5);
  });

  it('return() ends a next() that is still waiting, and later next() calls are done', async () => {
    const held = cancellable();
    const it = keyedParallelStream(['a'], 1, () => held.d, { key: (s) => s, perKey: 1 });
    const pending = it.next();
    await it.return?.();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    await expect(it.next()).resolves.toEqual({ done: true, value: undefined });
    expect(held.cancelled).toBe(true);
  });

  it('leaving the loop early cancels the jobs in flight', async () => {
    const held = cancellable();
    const it = keyedParallelStream(['a', 'b'], 2, (s): unknown => (s === 'a' ? 'done' : held.d), {
      key: (s) => s,
      perKey: 1,
    });
    for await (const o of it) {
      expect(o.ok).toBe(true);
      break;
    }
    expect(held.cancelled).toBe(true);
  });
});

describe('keyedParallelStream memory', () => {
  /** What the stream holds now (an internal accessor): keys with state, and array slots of its queues. */
  type Held = { keys: number; slots: number };
  const heldBy = (it: AsyncIterator<unknown>) => (it as unknown as { _held(): Held })._held();
  /** A job that settles after 0 to 4 microtask turns, so jobs finish out of order. */
  const job = async (i: number) => {
    for (let k = 0; k < i % 5; k++) await null;
    return i;
  };
  function* range(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }

  async function run(count: number, keyOf: (i: number) => string, perKey: number, lookAhead: number) {
    const it = keyedParallelStream(range(count), 50, job, { key: keyOf, perKey, lookAhead });
    const most: Held = { keys: 0, slots: 0 };
    let seen = 0;
    for await (const o of it) {
      if (o.ok) seen++;
      const held = heldBy(it);
      most.keys = Math.max(most.keys, held.keys);
      most.slots = Math.max(most.slots, held.slots);
    }
    return { seen, most, after: heldBy(it) };
  }

  // A leak shows as slots growing with the number of items (100,000 here); the buffers' own bound is about
  // 2 x (concurrency + lookAhead + backpressure) plus a compaction threshold of 1,024 per queue.
  const BOUND = 10_000;

  it('keeps its queues bounded while the consumer keeps up with outcomes (the queue of outcomes is seldom empty)', async () => {
    const { seen, most, after } = await run(100_000, (i) => `host${i % 20}`, 5, 1000);
    expect(seen).toBe(100_000);
    expect(most.keys).toBeLessThanOrEqual(20);
    expect(most.slots).toBeLessThan(BOUND);
    expect(after).toEqual({ keys: 0, slots: 0 });
  });

  it('keeps its queues bounded while saturated keys fill the look-ahead buffer', async () => {
    const { seen, most, after } = await run(100_000, (i) => `host${i % 3}`, 1, 1000);
    expect(seen).toBe(100_000);
    expect(most.keys).toBeLessThanOrEqual(3);
    expect(most.slots).toBeLessThan(BOUND);
    expect(after).toEqual({ keys: 0, slots: 0 });
  });

  it('forgets each key once it goes idle, with a key per item', async () => {
    const { seen, most, after } = await run(100_000, (i) => `host${i}`, 1, 1000);
    expect(seen).toBe(100_000);
    // Every key with state runs a job (nothing is buffered when no two items share a key).
    expect(most.keys).toBeLessThanOrEqual(50);
    expect(most.slots).toBeLessThan(BOUND);
    expect(after).toEqual({ keys: 0, slots: 0 });
  });
});
