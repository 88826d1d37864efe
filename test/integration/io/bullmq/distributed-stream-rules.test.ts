// Rules of async-batching/bullmq's window, failures and clean-up, against a real redis-server on a Unix socket.
import { fileURLToPath } from 'node:url';
import { CancelledError } from 'async-batching';
import {
  type DistributedWorker,
  distributedStream,
  forkWorker,
  type RedisServer,
  runWorker,
  startRedisServer,
  type WorkerProcess,
} from 'async-batching/bullmq';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const jobs = fileURLToPath(new URL('../../../fixtures/bullmq/jobs.ts', import.meta.url));

let redis: RedisServer;
let forked: WorkerProcess[] = [];
let local: DistributedWorker[] = [];

function fork(queue: string, exportName: string, concurrency: number): WorkerProcess {
  const w = forkWorker(queue, { connection: { path: redis.socket }, module: jobs, exportName, concurrency });
  forked.push(w);
  return w;
}

/** Every job of `queue` Redis still holds, whatever its state. */
async function jobsIn(queue: string): Promise<number> {
  const probe = new Queue(queue, { connection: { path: redis.socket } });
  try {
    const counts = await probe.getJobCounts();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await probe.close();
  }
}

/** Runs `items` through the stream with a consumer that lags, and returns how many items were ever in flight at once. */
async function peakInFlight(queue: string, count: number, window?: number): Promise<number> {
  let pulled = 0;
  let consumed = 0;
  let peak = 0;
  function* items() {
    for (let i = 0; i < count; i++) {
      pulled++;
      peak = Math.max(peak, pulled - consumed);
      yield i;
    }
  }
  for await (const _ of distributedStream(items(), { queue, connection: { path: redis.socket }, window })) {
    consumed++;
    // The consumer is the slow part: the workers finish the whole window while it handles one outcome.
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(consumed).toBe(count);
  return peak;
}

describe('distributedStream rules', { timeout: 120_000 }, () => {
  beforeEach(async () => {
    redis = await startRedisServer();
    forked = [];
    local = [];
  });
  afterEach(async () => {
    await Promise.all([...forked.map((w) => w.kill()), ...local.map((w) => w.close())]);
    await redis.stop();
  });

  it('fills the window: items in flight reach `window` and never pass it', async () => {
    const w = fork('window', 'square', 50);
    await w.ready;
    expect(await peakInFlight('window', 400, 64)).toBe(64);
  });

  it('by default keeps twice the registered workers\u2019 total concurrency in flight', async () => {
    const ws = [fork('default-window', 'square', 12), fork('default-window', 'square', 8)];
    await Promise.all(ws.map((w) => w.ready));
    // The workers announce themselves right after they are ready.
    await new Promise((r) => setTimeout(r, 300));
    expect(await peakInFlight('default-window', 300)).toBe(2 * (12 + 8));
  });

  it('deepens the default window, to at most 8 times the workers\u2019 concurrency, when their slots run dry', async () => {
    const w = fork('deepening', 'square', 10);
    await w.ready;
    await new Promise((r) => setTimeout(r, 300));
    let pulled = 0;
    let consumed = 0;
    let peak = 0;
    async function* items() {
      for (let i = 0; i < 600; i++) {
        // Now and then the input lags: meanwhile the worker finishes all it has, and its slots find the queue empty.
        if (i % 25 === 24) await new Promise((r) => setTimeout(r, 50));
        pulled++;
        peak = Math.max(peak, pulled - consumed);
        yield i;
      }
    }
    // A consumer that keeps up: the refill is the slow part, so the window doubles (20, 40, 80) and stops there.
    for await (const _ of distributedStream(items(), {
      queue: 'deepening',
      connection: { path: redis.socket },
    })) {
      consumed++;
    }
    expect(consumed).toBe(600);
    // Deeper than twice the concurrency (where it starts, and where the old window stayed), never past eight times.
    // 80 on a quiet machine; how many doublings fit in 600 items depends on when the worker's slots run dry.
    expect(peak).toBeGreaterThan(2 * 10);
    expect(peak).toBeLessThanOrEqual(8 * 10);
  });

  it('a job that throws null or undefined runs once and fails', async () => {
    const calls = new Map<string, number>();
    local.push(
      runWorker(
        'nothing-thrown',
        (kind: string) => {
          calls.set(kind, (calls.get(kind) ?? 0) + 1);
          throw kind === 'null' ? null : undefined;
        },
        { connection: { path: redis.socket }, concurrency: 2 },
      ),
    );
    const outcomes = [];
    for await (const o of distributedStream(['null', 'undefined'], {
      queue: 'nothing-thrown',
      connection: { path: redis.socket },
    })) {
      outcomes.push(o);
    }
    expect(outcomes.map((o) => o.ok)).toEqual([false, false]);
    const messages = outcomes.map((o) => (o.ok ? '' : o.failure.getErrorMessage())).sort();
    expect(messages).toEqual(['The job threw null', 'The job threw undefined']);
    expect(Object.fromEntries(calls)).toEqual({ null: 1, undefined: 1 });
  });

  it('a thrown string is the failure message', async () => {
    local.push(
      runWorker(
        'string-thrown',
        () => {
          throw 'disk full';
        },
        { connection: { path: redis.socket } },
      ),
    );
    for await (const o of distributedStream([1], {
      queue: 'string-thrown',
      connection: { path: redis.socket },
    })) {
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.failure.getErrorMessage()).toBe('disk full');
    }
  });

  it('the job function receives the item, the job id and the attempt', async () => {
    local.push(
      runWorker(
        'job-info',
        (item: number, job) => ({ item, id: job.id, attempt: job.attempt, queue: job.queue }),
        {
          connection: { path: redis.socket },
          concurrency: 3,
        },
      ),
    );
    const ids = new Set<string>();
    for await (const o of distributedStream<
      number,
      { item: number; id: string; attempt: number; queue: string }
    >([10, 11, 12], { queue: 'job-info', connection: { path: redis.socket } })) {
      expect(o.ok).toBe(true);
      if (!o.ok) continue;
      expect(o.value.item).toBe(o.item);
      expect(o.value.id).toMatch(new RegExp(`-${o.index}$`));
      expect(o.value.attempt).toBe(1);
      expect(o.value.queue).toBe('job-info');
      ids.add(o.value.id);
    }
    expect(ids.size).toBe(3);
  });

  it('an abort while Redis is down ends the iteration and names what it could not clean up', async () => {
    const w = fork('abort-down', 'sleepThen', 4);
    await w.ready;
    const controller = new AbortController();
    let seen = 0;
    const run = async () => {
      const items = Array.from({ length: 200 }, () => ({ ms: 20 }));
      for await (const _ of distributedStream(items, {
        queue: 'abort-down',
        connection: { path: redis.socket },
        window: 20,
        signal: controller.signal,
        cleanupTimeout: 1_000,
      })) {
        if (++seen === 10) {
          await redis.kill();
          controller.abort(new Error('enough'));
        }
      }
    };
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as Error).message).toMatch(
      /Redis did not answer within 1000 ms, so \d+ job\(s\) of this run may remain there/,
    );
  });

  it('after a break, the jobs still running leave nothing in Redis, failed ones included', async () => {
    const w = fork('break', 'sleepThen', 3);
    await w.ready;
    const items = [{ ms: 10 }, { ms: 600 }, { ms: 600, fail: true }, { ms: 600 }, { ms: 600 }, { ms: 600 }];
    for await (const o of distributedStream(items, { queue: 'break', connection: { path: redis.socket } })) {
      expect(o.item.ms).toBe(10);
      break;
    }
    // The two jobs still running finish (one fails) on the worker; then nothing of the run is left.
    await vi.waitFor(async () => expect(await jobsIn('break')).toBe(0), { timeout: 20_000, interval: 200 });
  });
});
