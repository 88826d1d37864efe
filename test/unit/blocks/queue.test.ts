import {
  AsyncBatchingError,
  CancelledError,
  Deferred,
  DeferredQueue,
  type Failure,
  QueueClosed,
  QueueOverflow,
  QueueUnderflow,
} from 'async-batching';
import { describe, expect, it } from 'vitest';

/** What a Deferred fired with, read synchronously: `{ ok, value }`, or undefined while it has not fired. */
function outcomeOf<T>(d: Deferred<T>): { ok: boolean; value: unknown } | undefined {
  let seen: { ok: boolean; value: unknown } | undefined;
  d.addCallbacks(
    (value) => {
      seen = { ok: true, value };
      return value;
    },
    (failure: Failure) => {
      seen = { ok: false, value: failure.value };
      return null;
    },
  );
  return seen;
}

// Twisted's DeferredQueueTests (OtherPrimitivesTests.testQueue and the cancel tests), in our own words.
describe("DeferredQueue: Twisted's behaviour", () => {
  it('hands items to waiting gets in order, keeps the rest up to size, and enforces size and backlog', () => {
    const size = 2;
    const backlog = 2;
    const queue = new DeferredQueue<number>({ size, backlog });
    let gotten: number[] = [];
    for (let i = 0; i < backlog; i++) queue.get().addCallback((v) => gotten.push(v));
    expect(() => queue.get()).toThrow(QueueUnderflow);
    // Each put goes straight to the oldest waiting get.
    for (let i = 0; i < backlog; i++) {
      queue.put(i);
      expect(gotten).toEqual(Array.from({ length: i + 1 }, (_, k) => k));
    }
    // Nobody waits now: the next puts are kept, up to `size`.
    for (let i = 0; i < size; i++) {
      queue.put(size + i);
      expect(gotten).toEqual([0, 1]);
    }
    expect(() => queue.put(99)).toThrow(QueueOverflow);
    // Gets on a queue that keeps items fire at once, oldest item first.
    gotten = [];
    for (let i = 0; i < size; i++) {
      queue.get().addCallback((v) => gotten.push(v));
      expect(gotten).toEqual(Array.from({ length: i + 1 }, (_, k) => size + k));
    }
  });

  it('has no limits by default', () => {
    const queue = new DeferredQueue<number>();
    const gotten: number[] = [];
    for (let i = 0; i < 1000; i++) queue.get().addCallback((v) => gotten.push(v));
    for (let i = 0; i < 2000; i++) queue.put(i);
    expect(gotten).toEqual(Array.from({ length: 1000 }, (_, k) => k));
    expect(queue.pending).toBe(1000);
    expect(queue.size).toBe(Number.POSITIVE_INFINITY);
    expect(queue.backlog).toBe(Number.POSITIVE_INFINITY);
  });

  it('a size of 0 refuses every put nobody waits for, and a backlog of 0 every get on an empty queue', () => {
    expect(() => new DeferredQueue({ size: 0 }).put(1)).toThrow(QueueOverflow);
    expect(() => new DeferredQueue({ backlog: 0 }).get()).toThrow(QueueUnderflow);
    // With size 0, a put still goes through to a get that waits.
    const queue = new DeferredQueue<string>({ size: 0 });
    const d = queue.get();
    queue.put('direct');
    expect(outcomeOf(d)).toEqual({ ok: true, value: 'direct' });
  });

  it('cancelling a get that already fired does nothing', () => {
    const queue = new DeferredQueue<null>();
    const d = queue.get();
    const failures: unknown[] = [];
    d.addErrback((f) => failures.push(f));
    queue.put(null);
    d.cancel();
    expect(failures).toEqual([]);
  });

  it('cancelling a waiting get fails it at once with CancelledError and takes it out of line', () => {
    const queue = new DeferredQueue<string>();
    const d = queue.get();
    d.cancel();
    expect(outcomeOf(d)).toEqual({ ok: false, value: new CancelledError() });
    expect(queue.waiting).toBe(0);
    // Were the cancelled get still in line, this put would try to fire it a second time.
    queue.put('next');
    expect(outcomeOf(queue.get())).toEqual({ ok: true, value: 'next' });
  });
});

describe('DeferredQueue: waiting gets', () => {
  it('serves waiting gets first in, first out, skipping the cancelled ones', () => {
    const queue = new DeferredQueue<number>();
    const order: string[] = [];
    const gets = Array.from({ length: 6 }, (_, i) => {
      const d = queue.get();
      d.addCallbacks(
        (v) => order.push(`get ${i} <- ${v}`),
        () => null,
      );
      return d;
    });
    gets[1].cancel();
    gets[4].cancel();
    expect(queue.waiting).toBe(4);
    for (let v = 0; v < 4; v++) queue.put(v);
    expect(order).toEqual(['get 0 <- 0', 'get 2 <- 1', 'get 3 <- 2', 'get 5 <- 3']);
    expect(queue.waiting).toBe(0);
    expect(queue.pending).toBe(0);
  });

  it('does not count cancelled gets against the backlog', () => {
    const queue = new DeferredQueue<number>({ backlog: 1 });
    const first = queue.get();
    first.addErrback(() => null);
    first.cancel();
    const second = queue.get();
    expect(queue.waiting).toBe(1);
    queue.put(7);
    expect(outcomeOf(second)).toEqual({ ok: true, value: 7 });
  });

  it('keeps first-in first-out order when many waiting gets are cancelled', () => {
    const queue = new DeferredQueue<number>();
    const served: number[] = [];
    const gets = Array.from({ length: 300 }, (_, i) => {
      const d = queue.get();
      d.addCallbacks(
        () => served.push(i),
        () => null,
      );
      return d;
    });
    gets.forEach((d, i) => {
      if (i % 3 !== 0) d.cancel();
    });
    expect(queue.waiting).toBe(100);
    for (let v = 0; v < 100; v++) queue.put(v);
    expect(served).toEqual(Array.from({ length: 100 }, (_, k) => k * 3));
  });

  it('lets a get’s callback put and get again, in order', () => {
    const queue = new DeferredQueue<number>();
    const seen: number[] = [];
    queue.get().addCallback((v) => {
      seen.push(v);
      queue.put(v + 1);
      return queue.get().addCallback((w) => seen.push(w));
    });
    queue.put(1);
    expect(seen).toEqual([1, 2]);
  });
});

describe('DeferredQueue: errors', () => {
  it('QueueOverflow and QueueUnderflow are AsyncBatchingErrors with codes of their own and the limit', () => {
    const full = new DeferredQueue<number>({ size: 1 });
    full.put(1);
    let overflow: unknown;
    try {
      full.put(2);
    } catch (e) {
      overflow = e;
    }
    expect(overflow).toBeInstanceOf(AsyncBatchingError);
    expect(overflow).toMatchObject({ name: 'QueueOverflow', code: 'AB_ERR_QUEUE_OVERFLOW', size: 1 });
    expect(full.pending).toBe(1);

    const busy = new DeferredQueue<number>({ backlog: 1 });
    busy.get();
    let underflow: unknown;
    try {
      busy.get();
    } catch (e) {
      underflow = e;
    }
    expect(underflow).toBeInstanceOf(AsyncBatchingError);
    expect(underflow).toMatchObject({ name: 'QueueUnderflow', code: 'AB_ERR_QUEUE_UNDERFLOW', backlog: 1 });
    expect(busy.waiting).toBe(1);
  });

  it('rejects a size or backlog that is not a whole number >= 0 or Infinity, naming it', () => {
    for (const name of ['size', 'backlog'] as const) {
      for (const bad of [-1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY]) {
        expect(() => new DeferredQueue({ [name]: bad })).toThrow(
          new RangeError(`Expected \`${name}\` to be a whole number >= 0 or Infinity, got ${String(bad)}`),
        );
      }
      for (const bad of ['2', null, {}]) {
        expect(() => new DeferredQueue({ [name]: bad as never })).toThrow(TypeError);
        expect(() => new DeferredQueue({ [name]: bad as never })).toThrow(name);
      }
    }
    expect(() => new DeferredQueue(null as never)).toThrow(
      new TypeError('Expected `options` to be an object, got null'),
    );
    expect(() => new DeferredQueue(3 as never)).toThrow(TypeError);
  });

  it('refuses to put a Deferred or a Promise, naming the item', () => {
    const queue = new DeferredQueue<unknown>();
    const waiting = queue.get();
    expect(() => queue.put(Promise.resolve(1))).toThrow(/`item`/);
    expect(() => queue.put(new Deferred())).toThrow(TypeError);
    expect(waiting.called).toBe(false);
    expect(queue.pending).toBe(0);
  });
});

describe('DeferredQueue: close() and for await', () => {
  it('close() keeps the items for later gets, fails the gets that wait and refuses new puts', () => {
    const queue = new DeferredQueue<string>();
    const waiting = queue.get();
    queue.close();
    expect(outcomeOf(waiting)?.value).toBeInstanceOf(QueueClosed);
    expect(() => queue.put('late')).toThrow(QueueClosed);

    const withItems = new DeferredQueue<string>();
    withItems.put('a');
    withItems.close();
    expect(outcomeOf(withItems.get())).toEqual({ ok: true, value: 'a' });
    const empty = outcomeOf(withItems.get());
    expect(empty?.ok).toBe(false);
    expect(empty?.value).toMatchObject({ name: 'QueueClosed', code: 'AB_ERR_QUEUE_CLOSED' });
    expect(withItems.closed).toBe(true);
    withItems.close();
  });

  it('for await gets every item in order and ends once the queue is closed and empty', async () => {
    const queue = new DeferredQueue<number>();
    const consumed: number[] = [];
    const consumer = (async () => {
      for await (const item of queue) consumed.push(item);
    })();
    queue.put(1);
    queue.put(2);
    await Promise.resolve();
    queue.put(3);
    queue.close();
    await consumer;
    expect(consumed).toEqual([1, 2, 3]);
  });

  it('several for await consumers share the items, each item going to one of them', async () => {
    const queue = new DeferredQueue<number>({ backlog: 3 });
    const byConsumer: number[][] = [[], [], []];
    const consumers = byConsumer.map(async (mine) => {
      for await (const item of queue) {
        mine.push(item);
        await Promise.resolve();
      }
    });
    for (let i = 0; i < 30; i++) {
      queue.put(i);
      await Promise.resolve();
    }
    queue.close();
    await Promise.all(consumers);
    expect(byConsumer.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, k) => k));
    expect(byConsumer.every((mine) => mine.length > 0)).toBe(true);
  });

  it('leaving a for await early cancels nothing it did not ask for and leaves the rest in the queue', async () => {
    const queue = new DeferredQueue<number>();
    for (let i = 0; i < 5; i++) queue.put(i);
    const seen: number[] = [];
    for await (const item of queue) {
      seen.push(item);
      if (item === 1) break;
    }
    expect(seen).toEqual([0, 1]);
    expect(queue.pending).toBe(3);
    expect(queue.waiting).toBe(0);
  });

  it('return() on an iterator waiting for an item cancels its get, so a later put is kept', async () => {
    const queue = new DeferredQueue<string>();
    const it = queue[Symbol.asyncIterator]();
    const next = it.next();
    expect(queue.waiting).toBe(1);
    await it.return?.();
    await expect(next).resolves.toEqual({ done: true, value: undefined });
    expect(queue.waiting).toBe(0);
    queue.put('kept');
    expect(queue.pending).toBe(1);
  });

  it('an iterator over a queue whose backlog is full rejects next() with QueueUnderflow', async () => {
    const queue = new DeferredQueue<string>({ backlog: 1 });
    queue.get();
    await expect(queue[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(QueueUnderflow);
  });
});
