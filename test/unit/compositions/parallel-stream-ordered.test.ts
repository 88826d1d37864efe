// parallelStream(..., { ordered: true }): outcomes in input order (p-map's pMapIterable), with the same bound on what
// is held: started items not yet yielded never exceed concurrency + backpressure, however slow one item is.
import { Cooperator, Deferred, parallelSkip, parallelStream } from 'async-batching';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('parallelStream with ordered: true', () => {
  it('yields outcomes in input order when later items finish first', async () => {
    const ds = [0, 1, 2, 3].map(() => new Deferred<string>());
    const stream = parallelStream([0, 1, 2, 3], 4, (i) => ds[i] as Deferred<string>, { ordered: true });
    const first = stream.next();
    for (const i of [3, 1, 2, 0]) (ds[i] as Deferred<string>).callback(`item ${i}`);
    const rest = await collect(stream);
    const all = [(await first).value, ...rest];
    expect(all.map((o) => o?.index)).toEqual([0, 1, 2, 3]);
    expect(all.map((o) => o?.ok && o.value)).toEqual(['item 0', 'item 1', 'item 2', 'item 3']);
  });

  it('keeps started items not yet yielded within concurrency + backpressure while the first item is slow', async () => {
    const concurrency = 2;
    const backpressure = 3;
    const slow = new Deferred<number>();
    let started = 0;
    let yielded = 0;
    let worst = 0;
    const stream = parallelStream(
      Array.from({ length: 30 }, (_, i) => i),
      concurrency,
      (i) => {
        started++;
        worst = Math.max(worst, started - yielded);
        return i === 0 ? slow : i % 3 === 0 ? Promise.resolve(i) : i;
      },
      { ordered: true, backpressure },
    );
    const first = stream.next();
    await new Promise((resolve) => setImmediate(resolve));
    // Item 0 runs; items 1-4 finished and wait for it; nothing more starts, however long it takes.
    expect(started).toBe(concurrency + backpressure);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(concurrency + backpressure);
    slow.callback(0);
    const indexes = [((await first).value as { index: number }).index];
    yielded++;
    for await (const o of stream) {
      indexes.push(o.index);
      yielded++;
      expect(started - yielded).toBeLessThanOrEqual(concurrency + backpressure);
    }
    expect(indexes).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // Counted by the consumer, one more: next() starts an item as it hands an outcome over, before the loop sees it.
    expect(worst).toBeLessThanOrEqual(concurrency + backpressure + 1);
  });

  it('keeps failures as outcomes in their place and leaves skipped items out', async () => {
    const out = await collect(
      parallelStream(
        [1, 2, 3, 4, 5],
        3,
        async (n) => {
          await new Promise((resolve) => setTimeout(resolve, (6 - n) * 2));
          if (n === 2) throw new Error('two');
          return n === 4 ? parallelSkip : n * 10;
        },
        { ordered: true },
      ),
    );
    expect(out.map((o) => [o.index, o.ok ? o.value : o.failure.getErrorMessage()])).toEqual([
      [0, 10],
      [1, 'two'],
      [2, 30],
      [4, 50],
    ]);
  });

  it('hands each of several pending next() calls the next outcome in order', async () => {
    const ds = [0, 1, 2].map(() => new Deferred<number>());
    const stream = parallelStream([0, 1, 2], 3, (i) => ds[i] as Deferred<number>, { ordered: true });
    const pending = Promise.all([stream.next(), stream.next(), stream.next(), stream.next()]);
    for (const i of [2, 0, 1]) (ds[i] as Deferred<number>).callback(i);
    const results = await pending;
    expect(results.map((r) => (r.done ? 'done' : r.value.index))).toEqual([0, 1, 2, 'done']);
  });

  it('with stopOnError, delivers what finished before the failure in input order, then throws it', async () => {
    const ds = [0, 1, 2, 3].map(() => new Deferred<number>());
    const stream = parallelStream([0, 1, 2, 3], 4, (i) => ds[i] as Deferred<number>, {
      ordered: true,
      stopOnError: true,
    });
    const first = stream.next();
    (ds[3] as Deferred<number>).callback(3);
    (ds[1] as Deferred<number>).callback(1);
    (ds[2] as Deferred<number>).errback(new Error('two failed'));
    // Item 0 was cancelled by the stop; items 1 and 3 had finished.
    expect(((await first).value as { index: number }).index).toBe(1);
    expect(((await stream.next()).value as { index: number }).index).toBe(3);
    await expect(stream.next()).rejects.toThrow('two failed');
  });

  it('runs ordered on a Cooperator and from an async source', async () => {
    async function* source() {
      for (let i = 0; i < 8; i++) yield i;
    }
    const out = await collect(
      parallelStream(source(), 3, (i) => new Promise<number>((r) => setTimeout(() => r(i), (8 - i) * 2)), {
        ordered: true,
        cooperator: new Cooperator(),
      }),
    );
    expect(out.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('refuses an ordered option that is not a boolean, and ordered together with a key', () => {
    expect(() => parallelStream([1], 1, (x) => x, { ordered: 'yes' as never })).toThrow(TypeError);
    expect(() => parallelStream([1], 1, (x) => x, { ordered: 'yes' as never })).toThrow(
      /`options.ordered` to be a boolean, got .*yes/,
    );
    expect(() => parallelStream([1], 1, (x) => x, { ordered: true, key: () => 'k', perKey: 1 })).toThrow(
      /`options.ordered` together with `options.key`/,
    );
  });
});

describe('parallelStream with ordered: true, under random completion orders', () => {
  // Without skips: a skipped item counts as handed out the moment its turn comes, which the consumer cannot see.
  it('yields every item once, in input order, never stalls, and keeps the bound', async () => {
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        async (n, concurrency, backpressure, choices) => {
          const running: { i: number; d: Deferred<unknown> }[] = [];
          let started = 0;
          let consumed = 0;
          let worst = 0;
          const stream = parallelStream(
            Array.from({ length: n }, (_, i) => i),
            concurrency,
            (i) => {
              started++;
              worst = Math.max(worst, started - consumed);
              const d = new Deferred<unknown>();
              running.push({ i, d });
              return d;
            },
            { ordered: true, backpressure },
          );
          const seen: number[] = [];
          let k = 0;
          for (;;) {
            let result: IteratorResult<{ index: number; ok: boolean }> | undefined;
            stream.next().then((r) => {
              result = r;
            });
            await turn();
            while (result === undefined) {
              if (running.length === 0) throw new Error(`stalled after ${seen.length} outcomes`);
              const [{ i, d }] = running.splice(
                (choices[k++ % choices.length] as number) % running.length,
                1,
              ) as [{ i: number; d: Deferred<unknown> }];
              if (i % 7 === 3) d.errback(new Error(`item ${i}`));
              else d.callback(i);
              await turn();
            }
            if (result.done) break;
            consumed++;
            seen.push(result.value.index);
            expect(result.value.ok).toBe(result.value.index % 7 !== 3);
          }
          expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
          expect(started).toBe(n);
          // The consumer counts an outcome once its loop sees it, one after next() handed it over.
          expect(worst).toBeLessThanOrEqual(concurrency + backpressure + 1);
        },
      ),
      { numRuns: 150 },
    );
  });
});
