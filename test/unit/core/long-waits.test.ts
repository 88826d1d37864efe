/**
 * Waits longer than one host timer holds (2^31-1 ms, about 24.8 days) last their whole length: every timer the package
 * sets goes through `systemClock`, which chains timers beyond that limit, where a bare `setTimeout` fires after 1 ms.
 * Each case below fired at once (or woke in a loop) before; they watch for 150 ms of real time that nothing happens
 * early, and that no timer beyond the limit was ever asked of the host.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { batcher, Deferred, deferLater, getPage, RateLimiter, retry, systemClock } from 'async-batching';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const LIMIT = 2 ** 31 - 1;
const DAY = 24 * 60 * 60 * 1000;
const WATCH_MS = 150;

/** Every delay asked of the host's `setTimeout` while a test runs. */
let asked: number[] = [];
beforeEach(() => {
  asked = [];
  const real = globalThis.setTimeout;
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
    fn: () => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    asked.push(ms ?? 0);
    return real(fn, ms, ...args);
  }) as typeof setTimeout);
});
afterEach(() => {
  vi.restoreAllMocks();
});

const beyondLimit = () => asked.filter((ms) => ms > LIMIT);

describe('waits beyond the 2^31-1 ms a host timer holds', () => {
  it('a RateLimiter with a 30-day window keeps the second job waiting, without waking in a loop', async () => {
    const limiter = new RateLimiter({ max: 1, per: 30 * DAY });
    const started: number[] = [];
    limiter.run(() => started.push(1));
    const second = limiter.run(() => started.push(2));
    await sleep(WATCH_MS);
    expect(started).toEqual([1]);
    expect(beyondLimit()).toEqual([]);
    // One chained timer for the window, not one per millisecond.
    expect(asked.filter((ms) => ms === LIMIT).length).toBeLessThanOrEqual(1);
    second.cancel();
    second.addErrback(() => null);
  });

  it('retry({ minDelay: 3e9 }) makes one attempt and then waits', async () => {
    let attempts = 0;
    const d = retry(
      () => {
        attempts++;
        throw new Error('down');
      },
      { minDelay: 3e9, jitter: 0 },
    );
    await sleep(WATCH_MS);
    expect(attempts).toBe(1);
    expect(beyondLimit()).toEqual([]);
    d.cancel();
    await expect(d).rejects.toThrow();
  });

  describe('getPage honouring a Retry-After of 3,000,000 s', () => {
    let server: Server;
    let requests = 0;
    beforeEach(async () => {
      requests = 0;
      server = createServer((_req, res) => {
        requests++;
        res.writeHead(503, { 'retry-after': '3000000' }).end('later');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterEach(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('sends one request and waits, with maxRetryAfter: Infinity', async () => {
      const { port } = server.address() as AddressInfo;
      const d = getPage(`http://127.0.0.1:${port}/`, { retry: { maxRetryAfter: Number.POSITIVE_INFINITY } });
      await sleep(WATCH_MS);
      expect(requests).toBe(1);
      expect(beyondLimit()).toEqual([]);
      d.cancel();
      await expect(d).rejects.toThrow();
    });
  });

  it('addTimeout(2 ** 31) does not time out at once', async () => {
    const d = new Deferred<string>().addTimeout(2 ** 31);
    await sleep(WATCH_MS);
    expect(d.called).toBe(false);
    d.callback('in time');
    await expect(d).resolves.toBe('in time');
    expect(beyondLimit()).toEqual([]);
  });

  it('deferLater(2 ** 31) does not fire at once', async () => {
    const d = deferLater(2 ** 31, () => 'late');
    await sleep(WATCH_MS);
    expect(d.called).toBe(false);
    expect(beyondLimit()).toEqual([]);
    d.cancel();
    await expect(d).rejects.toThrow();
  });

  it('batcher({ maxWait: 1e10, minSize: 10 }) holds a batch of 2 until it fills', async () => {
    const batches: number[][] = [];
    const { load } = batcher(
      (keys: readonly number[]) => {
        batches.push([...keys]);
        return keys.map((k) => k * 2);
      },
      { maxWait: 1e10, minSize: 10 },
    );
    const first = load(1);
    const second = load(2);
    await sleep(WATCH_MS);
    expect(batches).toEqual([]);
    expect(beyondLimit()).toEqual([]);
    const rest = Array.from({ length: 8 }, (_, i) => load(i + 3));
    expect(await first).toBe(2);
    expect(await second).toBe(4);
    await Promise.all(rest);
    expect(batches).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
  });

  it('getPage accepts a timeout beyond the limit and does not time out at once', async () => {
    const server = createServer((_req, res) => {
      setTimeout(() => res.end('slow'), WATCH_MS);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await getPage(`http://127.0.0.1:${port}/`, { timeout: 2 ** 40 })).toBe('slow');
      expect(beyondLimit()).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('chains timers for a long wait and fires once, when the whole wait has passed', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fired = vi.fn();
    systemClock.setTimeout(fired, 2 * LIMIT + 10);
    vi.advanceTimersByTime(LIMIT);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(LIMIT);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(9);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * LIMIT);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('clears a chained wait at any link of the chain', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fired = vi.fn();
    const handle = systemClock.setTimeout(fired, 3 * LIMIT);
    vi.advanceTimersByTime(LIMIT + 5);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(5 * LIMIT);
    expect(fired).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never fires a wait of Infinity', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fired = vi.fn();
    const handle = systemClock.setTimeout(fired, Number.POSITIVE_INFINITY);
    vi.advanceTimersByTime(100 * LIMIT);
    expect(fired).not.toHaveBeenCalled();
    systemClock.clearTimeout(handle);
    expect(vi.getTimerCount()).toBe(0);
  });
});
