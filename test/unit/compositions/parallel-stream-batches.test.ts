import { inBatches, type ParallelOutcome, parallelStream } from 'async-batching';
import { describe, expect, it } from 'vitest';

function* range(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

async function collect<T, R>(batches: AsyncIterable<ParallelOutcome<T, R>[]>) {
  const sizes: number[] = [];
  const outcomes: ParallelOutcome<T, R>[] = [];
  for await (const batch of batches) {
    sizes.push(batch.length);
    outcomes.push(...batch);
  }
  return { sizes, outcomes };
}

describe('inBatches(parallelStream(...))', () => {
  it('hands every outcome over exactly once, several per step when they are ready together', async () => {
    const { sizes, outcomes } = await collect(
      inBatches(
        parallelStream(range(1000), 10, (i: number) => {
          if (i % 7 === 0) throw new RangeError(`item ${i}`);
          return i * 2;
        }),
      ),
    );
    expect(sizes.every((n) => n >= 1)).toBe(true);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(sizes.length).toBeLessThan(1000);
    const byIndex = [...outcomes].sort((a, b) => a.index - b.index);
    expect(byIndex.map((o) => o.index)).toEqual([...range(1000)]);
    for (const o of byIndex) {
      if (o.index % 7 === 0) expect(o.ok).toBe(false);
      else expect(o).toMatchObject({ ok: true, value: o.index * 2 });
    }
  });

  it('waits for the next outcome when none is ready, and ends after the last', async () => {
    const { sizes, outcomes } = await collect(
      inBatches(
        parallelStream([1, 2, 3], 1, (x: number) => new Promise<number>((r) => setTimeout(() => r(x), 1))),
      ),
    );
    expect(sizes).toEqual([1, 1, 1]);
    expect(outcomes.map((o) => (o.ok ? o.value : null))).toEqual([1, 2, 3]);
  });

  it('keeps the outcomes taken one by one before it apart from those it hands over', async () => {
    const stream = parallelStream(range(50), 5, (i: number) => i);
    const first = await stream.next();
    const { outcomes } = await collect(inBatches(stream));
    const indexes = [first.value?.index, ...outcomes.map((o) => o.index)].sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(indexes).toEqual([...range(50)]);
  });

  it('stops pulling the source when the loop is left early', async () => {
    let closed = false;
    let pulled = 0;
    function* source() {
      try {
        for (let i = 0; i < 1000; i++) {
          pulled++;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    for await (const batch of inBatches(parallelStream(source(), 4, (i: number) => i))) {
      expect(batch.length).toBeGreaterThan(0);
      break;
    }
    expect(closed).toBe(true);
    expect(pulled).toBeLessThan(1000);
  });

  it('delivers the outcomes finished before a source error, then throws it', async () => {
    const boom = new Error('source failed');
    function* source() {
      yield 1;
      yield 2;
      throw boom;
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const batch of inBatches(parallelStream(source(), 2, (i: number) => i))) {
          for (const o of batch) if (o.ok) seen.push(o.value);
        }
      })(),
    ).rejects.toBe(boom);
    expect(seen.sort()).toEqual([1, 2]);
  });

  it('hands an ordered stream over in input order', async () => {
    const { outcomes } = await collect(
      inBatches(
        parallelStream(
          [30, 10, 20, 0],
          4,
          (ms: number) => new Promise<number>((r) => setTimeout(() => r(ms), ms)),
          { ordered: true },
        ),
      ),
    );
    expect(outcomes.map((o) => o.index)).toEqual([0, 1, 2, 3]);
  });

  it('takes any other async iterable one outcome per batch', async () => {
    async function* outcomes() {
      yield { index: 0, item: 'a', ok: true as const, value: 1 };
      yield { index: 1, item: 'b', ok: true as const, value: 2 };
    }
    const { sizes } = await collect(inBatches(outcomes()));
    expect(sizes).toEqual([1, 1]);
  });
});
