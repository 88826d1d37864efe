// parallel and parallelStream with the polite options: key/perKey/lookAhead hand the work to the keyed pool, rate
// starts every job through a RateLimiter.
import {
  Cooperator,
  Deferred,
  ManualClock,
  parallel,
  parallelSkip,
  parallelStream,
  RateLimiter,
} from 'async-batching';
import { describe, expect, it } from 'vitest';

describe('parallel and parallelStream: key, perKey, lookAhead, rate', () => {
  it('parallel with a key keeps pulling other keys while one is saturated, and keeps per-key and global limits', () => {
    const running = new Map<string, number>();
    let global = 0;
    let worst = 0;
    const held: Deferred<void>[] = [];
    const started: string[] = [];
    const items = ['slow', 'slow', 'a', 'b', 'slow', 'c'];
    const out = parallel(
      items,
      3,
      (item: string, i: number): unknown => {
        started.push(`${item}${i}`);
        running.set(item, (running.get(item) ?? 0) + 1);
        global++;
        worst = Math.max(worst, running.get(item) as number);
        if (item !== 'slow') {
          running.set(item, (running.get(item) as number) - 1);
          global--;
          return item;
        }
        const d = new Deferred<void>();
        held.push(d);
        return d.addCallback(() => {
          running.set(item, (running.get(item) as number) - 1);
          global--;
        });
      },
      { key: (item: string) => item, perKey: 1, lookAhead: 4 },
    );
    expect(started).toEqual(['slow0', 'a2', 'b3', 'c5']);
    expect(worst).toBe(1);
    for (let i = 0; i < 3; i++) held[i]?.callback();
    let entries: unknown;
    out.addCallback((e) => {
      entries = e;
    });
    expect(entries).toEqual(items.map((item) => [true, item === 'slow' ? undefined : item]));
    expect(global).toBe(0);
  });

  it('parallel with a key leaves out the items whose job returns parallelSkip', async () => {
    const r = await parallel([1, 2, 3], 2, (n: number) => (n === 2 ? parallelSkip : n * 10), {
      key: String,
      perKey: 1,
    });
    expect(r).toEqual([
      [true, 10],
      [true, 30],
    ]);
  });

  it('parallelStream with a key yields every outcome, none for a skipped item', async () => {
    const seen: number[] = [];
    for await (const o of parallelStream([1, 2, 3, 4], 2, (n: number) => (n === 3 ? parallelSkip : n), {
      key: (n: number) => (n % 2 === 0 ? 'even' : 'odd'),
      perKey: 1,
    })) {
      if (o.ok) seen.push(o.value as number);
    }
    expect(seen.sort()).toEqual([1, 2, 4]);
  });

  it('rate alone starts every job of the usual pool through the limiter', () => {
    const clock = new ManualClock();
    const rate = new RateLimiter({ max: 2, per: 100 }, { clock });
    const starts: number[] = [];
    parallel([1, 2, 3, 4, 5], 5, () => starts.push(clock.now()), { rate });
    expect(starts).toEqual([0, 0]);
    clock.advance(100);
    expect(starts).toEqual([0, 0, 100, 100]);
    clock.advance(100);
    expect(starts).toEqual([0, 0, 100, 100, 200]);
  });

  it('rejects key without perKey, a key with a Cooperator, stopOnError or Infinity, and a rate that is not a RateLimiter', () => {
    const fn = (s: string) => s;
    expect(() => parallel(['a'], 1, fn, { key: (s: string) => s })).toThrow(
      new TypeError('Expected `options.key` and `options.perKey` together, got only one of them'),
    );
    expect(() =>
      parallel(['a'], 1, fn, { key: (s: string) => s, perKey: 1, cooperator: new Cooperator() }),
    ).toThrow(TypeError);
    expect(() => parallel(['a'], 1, fn, { key: (s: string) => s, perKey: 1, stopOnError: true })).toThrow(
      TypeError,
    );
    expect(() => parallel(['a'], Number.POSITIVE_INFINITY, fn, { key: (s: string) => s, perKey: 1 })).toThrow(
      RangeError,
    );
    expect(() => parallelStream(['a'], 1, fn, { rate: {} as RateLimiter })).toThrow(
      new TypeError('Expected `options.rate` to be a RateLimiter, got an object'),
    );
    expect(() => parallel(['a'], 1, fn, { lookAhead: 5 })).toThrow(TypeError);
  });
});
