import diagnostics from 'node:diagnostics_channel';
import {
  batcher,
  CHANNEL_NAMES,
  DeferredLock,
  DeferredSemaphore,
  ManualClock,
  parallel,
  RateLimiter,
  retry,
} from 'async-batching';
import { afterEach, describe, expect, it } from 'vitest';

/** Subscribes to every channel of the package; `events` holds what was published, in order, with its channel's key. */
function listen() {
  const events: { on: string; message: Record<string, unknown> }[] = [];
  const handlers = Object.entries(CHANNEL_NAMES).map(([on, name]) => {
    const fn = (message: unknown) => events.push({ on, message: message as Record<string, unknown> });
    diagnostics.subscribe(name, fn);
    return () => {
      diagnostics.unsubscribe(name, fn);
    };
  });
  return {
    events,
    stop: () => {
      for (const off of handlers) off();
    },
  };
}

let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  stop = undefined;
});

describe('diagnostics_channel', () => {
  it('names its channels under async-batching:', () => {
    expect(Object.values(CHANNEL_NAMES).every((n) => n.startsWith('async-batching:'))).toBe(true);
  });

  it('publishes a semaphore run: queued, started and ended with its outcome, for each job', async () => {
    const l = listen();
    stop = l.stop;
    const sem = new DeferredSemaphore(1);
    const boom = new RangeError('boom');
    const a = sem.run(async () => 'a');
    const b = sem.run(() => {
      throw boom;
    });
    await a;
    await expect(b).rejects.toBe(boom);
    const seen = l.events.map((e) => [e.on, e.message.job === a ? 'a' : e.message.job === b ? 'b' : '?']);
    expect(seen).toEqual([
      ['jobStart', 'a'],
      ['jobQueued', 'b'],
      ['jobEnd', 'a'],
      ['jobStart', 'b'],
      ['jobEnd', 'b'],
    ]);
    const ends = l.events.filter((e) => e.on === 'jobEnd').map((e) => e.message);
    expect(ends[0]).toMatchObject({ kind: 'semaphore', source: sem, ok: true });
    expect(ends[1]).toMatchObject({ kind: 'semaphore', source: sem, ok: false, error: boom });
  });

  it('calls a lock a lock, and reports a pool job by its index', async () => {
    const l = listen();
    stop = l.stop;
    const lock = new DeferredLock();
    await lock.run(() => 1);
    expect(l.events.map((e) => [e.on, e.message.kind])).toEqual([
      ['jobStart', 'lock'],
      ['jobEnd', 'lock'],
    ]);
    l.events.length = 0;
    await parallel([10, 20, 30], 2, async (x: number) => {
      if (x === 20) throw new Error('twenty');
      return x;
    });
    const pool = l.events.map((e) => `${e.on}:${e.message.kind}:${e.message.index}:${e.message.ok ?? ''}`);
    expect(pool).toEqual([
      'jobStart:pool:0:',
      'jobStart:pool:1:',
      'jobEnd:pool:0:true',
      'jobStart:pool:2:',
      'jobEnd:pool:1:false',
      'jobEnd:pool:2:true',
    ]);
  });

  it('publishes a rate wait with its delay, a retry with its delay and reason, and a batch with its keys', async () => {
    const l = listen();
    stop = l.stop;
    const clock = new ManualClock();
    const limiter = new RateLimiter({ max: 1, per: 100 }, { clock });
    limiter.run(() => 1);
    const second = limiter.run(() => 2);
    clock.advance(100);
    await second;
    expect(l.events.filter((e) => e.on === 'rateWait').map((e) => e.message)).toEqual([
      { limiter, delay: 100, waiting: 1 },
    ]);

    const failure = new Error('try again');
    let calls = 0;
    const d = retry(
      () => {
        calls++;
        if (calls === 1) throw failure;
        return 'ok';
      },
      { minDelay: 50, jitter: 0, clock },
    );
    clock.advance(50);
    await expect(d).resolves.toBe('ok');
    expect(l.events.filter((e) => e.on === 'retry').map((e) => e.message)).toEqual([
      { attempt: 1, delay: 50, reason: failure },
    ]);

    const b = batcher((keys: readonly number[]) => keys.map((k) => k * 2), { maxSize: 2 });
    await Promise.all([b.load(1), b.load(2), b.load(3)]);
    expect(l.events.filter((e) => e.on === 'batch').map((e) => e.message)).toEqual([
      { batcher: b, keys: [1, 2] },
      { batcher: b, keys: [3] },
    ]);
  });

  it('publishes nothing once unsubscribed', async () => {
    const l = listen();
    l.stop();
    await new DeferredSemaphore(1).run(() => 1);
    expect(l.events).toEqual([]);
  });
});
