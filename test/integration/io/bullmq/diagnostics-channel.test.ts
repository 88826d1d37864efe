// distributedStream's BullMQ events on diagnostics_channel (`async-batching:bullmq:added` / `:settled`), against a real
// redis-server on a Unix socket and an in-process worker.
import diagnostics from 'node:diagnostics_channel';
import { CHANNEL_NAMES } from 'async-batching';
import {
  DistributedJobError,
  type DistributedWorker,
  distributedStream,
  type RedisServer,
  runWorker,
  startRedisServer,
} from 'async-batching/bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let redis: RedisServer;
let worker: DistributedWorker | undefined;

describe('distributedStream on diagnostics_channel', { timeout: 120_000 }, () => {
  beforeEach(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await redis.stop();
  });

  it('publishes one added and one settled message per item, with its job id, index and outcome', async () => {
    const connection = { path: redis.socket };
    worker = runWorker(
      'watched',
      (n: number) => {
        if (n % 4 === 3) throw new Error(`no ${n}`);
        return n * 10;
      },
      { connection, concurrency: 3 },
    );
    const events: { on: 'added' | 'settled'; message: Record<string, unknown> }[] = [];
    const onAdded = (m: unknown) => events.push({ on: 'added', message: m as Record<string, unknown> });
    const onSettled = (m: unknown) => events.push({ on: 'settled', message: m as Record<string, unknown> });
    diagnostics.subscribe(CHANNEL_NAMES.bullmqAdded, onAdded);
    diagnostics.subscribe(CHANNEL_NAMES.bullmqSettled, onSettled);
    const items = Array.from({ length: 12 }, (_, i) => i);
    const outcomes = new Map<number, boolean>();
    try {
      // A window smaller than the input: the items are added in several addBulk calls.
      for await (const o of distributedStream<number, number>(items, {
        queue: 'watched',
        connection,
        window: 5,
      })) {
        outcomes.set(o.index, o.ok);
      }
    } finally {
      diagnostics.unsubscribe(CHANNEL_NAMES.bullmqAdded, onAdded);
      diagnostics.unsubscribe(CHANNEL_NAMES.bullmqSettled, onSettled);
    }
    expect(outcomes.size).toBe(items.length);

    const added = events.filter((e) => e.on === 'added').map((e) => e.message);
    const settled = events.filter((e) => e.on === 'settled').map((e) => e.message);
    expect(added.map((m) => m.index).sort((a, b) => Number(a) - Number(b))).toEqual(items);
    expect(settled.map((m) => m.index).sort((a, b) => Number(a) - Number(b))).toEqual(items);
    // One run: every job id is `<run id>-<index>`, with the same run id.
    const runIds = new Set(added.map((m) => String(m.jobId).replace(/-\d+$/, '')));
    expect(runIds.size).toBe(1);
    for (const m of [...added, ...settled]) {
      expect(m.queue).toBe('watched');
      expect(m.jobId).toBe(`${[...runIds][0]}-${m.index}`);
    }
    for (const m of added) expect(Object.keys(m).sort()).toEqual(['index', 'jobId', 'queue']);
    // Each job's added message comes before its settled one.
    for (const m of settled) {
      const at = events.findIndex((e) => e.message === m);
      const before = events.findIndex((e) => e.on === 'added' && e.message.jobId === m.jobId);
      expect(before).toBeGreaterThanOrEqual(0);
      expect(before).toBeLessThan(at);
    }
    // The outcome matches what the consumer got: failures carry the job's error, successes none.
    for (const m of settled) {
      const n = m.index as number;
      const ok = n % 4 !== 3;
      expect(m.ok).toBe(ok);
      expect(outcomes.get(n)).toBe(ok);
      if (ok) expect('error' in m).toBe(false);
      else {
        expect(m.error).toBeInstanceOf(DistributedJobError);
        expect(m.error).toMatchObject({ message: `no ${n}`, jobId: m.jobId });
      }
    }
  });
});
