// An async iterator's next() may be called again before the last call settled; each call gets its own outcome, in
// order, as plain parallelStream does. The keyed stream kept only the newest call and left the others pending.
import { keyedParallelStream, parallelStream } from 'async-batching';
import { describe, expect, it } from 'vitest';

describe('keyedParallelStream settles every next() called before the previous one settled', () => {
  it('hands each pending next() its own outcome, then the end', async () => {
    const it = keyedParallelStream([1, 2, 3], 2, async (n) => n * 10, { key: (n) => `k${n}`, perKey: 1 });
    const results = await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next()]);
    expect(
      results
        .slice(0, 3)
        .map((r) => (r.done ? null : r.value.index))
        .sort(),
    ).toEqual([0, 1, 2]);
    expect(results.slice(3)).toEqual([
      { done: true, value: undefined },
      { done: true, value: undefined },
    ]);
  });

  it('the same through parallelStream with a key', async () => {
    const it = parallelStream(['a', 'b', 'c'], 3, async (s) => s.toUpperCase(), {
      key: (s: string) => s,
      perKey: 1,
    });
    const results = await Promise.all([it.next(), it.next(), it.next()]);
    expect(results.map((r) => (r.done ? null : r.value.ok && r.value.value)).sort()).toEqual(['A', 'B', 'C']);
  });

  it('rejects the first pending next() with the source error and ends the others', async () => {
    async function* source() {
      yield 1;
      throw new Error('source broke');
    }
    const it = keyedParallelStream(source(), 2, () => new Promise(() => undefined), {
      key: () => 'k',
      perKey: 1,
    });
    const settled = await Promise.allSettled([it.next(), it.next()]);
    expect(settled[0]).toMatchObject({ status: 'rejected', reason: new Error('source broke') });
    expect(settled[1]).toEqual({ status: 'fulfilled', value: { done: true, value: undefined } });
  });

  it('ends every pending next() when the loop is left', async () => {
    const it = keyedParallelStream([1], 1, () => new Promise(() => undefined), { key: () => 'k', perKey: 1 });
    const pending = [it.next(), it.next()];
    await it.return?.();
    expect(await Promise.all(pending)).toEqual([
      { done: true, value: undefined },
      { done: true, value: undefined },
    ]);
  });
});
