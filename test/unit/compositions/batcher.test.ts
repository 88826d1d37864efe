import { BatchResultCountError, batcher, CancelledError, Deferred, ManualClock } from 'async-batching';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** A bulk function the test answers by hand: it records each call's keys and returns a Deferred. */
function manualBulk() {
  const calls: { keys: string[]; d: Deferred<(string | Error)[]>; cancelled: boolean }[] = [];
  const bulk = (keys: string[]) => {
    const call = { keys, d: null as unknown as Deferred<(string | Error)[]>, cancelled: false };
    call.d = new Deferred<(string | Error)[]>(() => {
      call.cancelled = true;
    });
    calls.push(call);
    return call.d;
  };
  const answer = (i: number) => {
    const call = calls[i] as (typeof calls)[number];
    call.d.callback(call.keys.map((k) => k.toUpperCase()));
  };
  return { bulk, calls, answer };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('batcher', () => {
  it('rejects bad options, naming them', () => {
    expect(() => batcher(() => [], { maxSize: 0 })).toThrow(
      new RangeError('Expected `maxSize` to be a whole number >= 1, got 0'),
    );
    expect(() => batcher(() => [], { maxSize: 2, minSize: 3 })).toThrow(
      new RangeError('Expected `minSize` to be at most `maxSize` (2), got 3'),
    );
    expect(() => batcher(() => [], { maxWait: -1 })).toThrow(RangeError);
    expect(() => batcher(1 as never)).toThrow(TypeError);
  });

  it('groups the calls of one tick into one bulk call, and gives each load its own result', async () => {
    const { bulk, calls, answer } = manualBulk();
    const b = batcher(bulk, { clock: new ManualClock() });
    const loads = ['a', 'b', 'c'].map((k) => b.load(k));
    expect(calls.length).toBe(0);
    await tick();
    expect(calls.map((c) => c.keys)).toEqual([['a', 'b', 'c']]);
    answer(0);
    expect(await Promise.all(loads)).toEqual(['A', 'B', 'C']);
  });

  it('sends a batch as soon as it reaches maxSize', () => {
    const { bulk, calls } = manualBulk();
    const b = batcher(bulk, { maxSize: 2, concurrency: 2, clock: new ManualClock() });
    b.load('a');
    b.load('b');
    b.load('c');
    b.load('d');
    expect(calls.map((c) => c.keys)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(b.inFlight).toBe(2);
  });

  it('under load, fills batches while every slot is busy, and sends the oldest full batch when a slot frees', async () => {
    const { bulk, calls, answer } = manualBulk();
    const b = batcher(bulk, { maxSize: 3, concurrency: 1, clock: new ManualClock(), maxWait: 1_000 });
    b.load('a');
    await tick();
    expect(calls.map((c) => c.keys)).toEqual([['a']]);
    for (const k of ['b', 'c', 'd', 'e', 'f', 'g']) b.load(k);
    await tick();
    // The slot is busy: [b c d] and [e f g] are full and wait; nothing more was sent.
    expect(calls.length).toBe(1);
    expect(b.pending).toBe(6);
    answer(0);
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b', 'c', 'd']]);
    answer(1);
    expect(calls.map((c) => c.keys)[2]).toEqual(['e', 'f', 'g']);
  });

  it('holds a batch below minSize until maxWait, then sends it anyway', async () => {
    const clock = new ManualClock();
    const { bulk, calls } = manualBulk();
    const b = batcher(bulk, { minSize: 3, maxWait: 50, clock });
    b.load('a');
    b.load('b');
    await tick();
    expect(calls.length).toBe(0);
    clock.advance(49);
    expect(calls.length).toBe(0);
    clock.advance(1);
    expect(calls.map((c) => c.keys)).toEqual([['a', 'b']]);
  });

  it('fails only the keys whose result is an Error', async () => {
    const b = batcher((keys: string[]) => keys.map((k) => (k === 'bad' ? new Error(`no ${k}`) : k)), {
      clock: new ManualClock(),
    });
    const good = b.load('good');
    const bad = b.load('bad');
    await expect(good).resolves.toBe('good');
    await expect(bad).rejects.toThrow('no bad');
  });

  it('fails every key of a bulk call that fails as a whole', async () => {
    const b = batcher(
      async (_keys: string[]): Promise<string[]> => {
        throw new Error('bulk down');
      },
      { clock: new ManualClock() },
    );
    const loads = [b.load('x'), b.load('y')];
    for (const l of loads) await expect(l).rejects.toThrow('bulk down');
  });

  it('fails every key with a BatchResultCountError when the number of results is wrong', async () => {
    const b = batcher((keys: string[]) => keys.slice(1), { clock: new ManualClock() });
    const loads = [b.load('x'), b.load('y')];
    for (const l of loads) {
      const e = await l.then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(BatchResultCountError);
      expect(e).toMatchObject({ expected: 2, received: 1, code: 'AB_ERR_BATCH_RESULT_COUNT' });
    }
  });

  it('takes a load cancelled before its batch leaves out of the bulk call', async () => {
    const { bulk, calls } = manualBulk();
    const b = batcher(bulk, { clock: new ManualClock() });
    b.load('a');
    const x = b.load('x');
    b.load('c');
    x.cancel();
    await expect(x).rejects.toBeInstanceOf(CancelledError);
    await tick();
    expect(calls.map((c) => c.keys)).toEqual([['a', 'c']]);
  });

  it('makes no bulk call, and plans no timer, when every load of the open batch is cancelled', async () => {
    const clock = new ManualClock();
    const { bulk, calls } = manualBulk();
    const b = batcher(bulk, { clock, minSize: 2 });
    const a = b.load('a');
    a.cancel();
    a.addErrback(() => null);
    expect(clock.pending).toBe(0);
    await tick();
    clock.advance(1_000);
    expect(calls.length).toBe(0);
    expect(b.pending).toBe(0);
  });

  it('drops the result of a load cancelled after its batch left; the others still get theirs', async () => {
    const { bulk, calls, answer } = manualBulk();
    const b = batcher(bulk, { clock: new ManualClock() });
    const a = b.load('a');
    const c = b.load('c');
    await tick();
    a.cancel();
    expect(calls[0]?.cancelled).toBe(false);
    answer(0);
    await expect(a).rejects.toBeInstanceOf(CancelledError);
    await expect(c).resolves.toBe('C');
  });

  it('cancels the bulk call once every load of its batch is cancelled', async () => {
    const { bulk, calls } = manualBulk();
    const b = batcher(bulk, { clock: new ManualClock() });
    const loads = [b.load('a'), b.load('c')];
    await tick();
    loads[0]?.cancel();
    expect(calls[0]?.cancelled).toBe(false);
    loads[1]?.cancel();
    expect(calls[0]?.cancelled).toBe(true);
    for (const l of loads) await expect(l).rejects.toBeInstanceOf(CancelledError);
  });

  it('property: every load gets its own result, batches never exceed maxSize, bulk calls in flight never exceed concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 12 }),
        async (maxSize, concurrency, bursts) => {
          const clock = new ManualClock();
          let inFlight = 0;
          let peak = 0;
          const sizes: number[] = [];
          const open: (() => void)[] = [];
          const b = batcher(
            (keys: number[]) => {
              sizes.push(keys.length);
              inFlight++;
              peak = Math.max(peak, inFlight);
              const d = new Deferred<number[]>();
              open.push(() => {
                inFlight--;
                d.callback(keys.map((k) => k * 2));
              });
              return d;
            },
            { maxSize, concurrency, clock, maxWait: 5 },
          );
          const loads: Deferred<number>[] = [];
          let n = 0;
          for (const burst of bursts) {
            for (let i = 0; i < burst; i++) loads.push(b.load(n++));
            await tick();
            open.shift()?.();
            clock.advance(5);
          }
          while (open.length > 0 || b.pending > 0) {
            open.shift()?.();
            clock.advance(5);
            await tick();
          }
          const results = await Promise.all(loads);
          expect(results).toEqual(loads.map((_, i) => i * 2));
          expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(maxSize);
          expect(peak).toBeLessThanOrEqual(concurrency);
          expect(sizes.reduce((a, s) => a + s, 0)).toBe(n);
        },
      ),
      { numRuns: 100 },
    );
  });
});
