// async-batching/bullmq against a real redis-server (Debian's) on a Unix socket, with real worker processes.
import { fileURLToPath } from 'node:url';
import { CancelledError } from 'async-batching';
import {
  DistributedJobError,
  distributedStream,
  forkWorker,
  type RedisServer,
  runWorker,
  startRedisServer,
  type WorkerProcess,
} from 'async-batching/bullmq';
import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const jobs = fileURLToPath(new URL('../../../fixtures/bullmq/jobs.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let redis: RedisServer;
let workers: WorkerProcess[] = [];
let pids: number[] = [];

async function startWorkers(
  n: number,
  queue: string,
  exportName: string,
  concurrency = 20,
): Promise<WorkerProcess[]> {
  const started = Array.from({ length: n }, () =>
    forkWorker(queue, { connection: { path: redis.socket }, module: jobs, exportName, concurrency }),
  );
  workers.push(...started);
  pids.push(...started.map((w) => w.pid));
  await Promise.all(started.map((w) => w.ready));
  return started;
}

/** How many jobs of the queue are outstanding in Redis right now (waiting, active, delayed or prioritized). */
async function outstandingIn(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('startRedisServer', () => {
  it('starts redis-server on a Unix socket and leaves no process or folder behind after stop()', async () => {
    const server = await startRedisServer();
    expect(alive(server.pid)).toBe(true);
    const q = new Queue('ping', { connection: { path: server.socket } });
    await q.add('x', { item: 1 });
    expect(await q.count()).toBe(1);
    await q.close();
    await server.stop();
    expect(alive(server.pid)).toBe(false);
    const { existsSync } = await import('node:fs');
    expect(existsSync(server.dir)).toBe(false);
  });

  it('names the option that is wrong', async () => {
    await expect(startRedisServer({ aof: 'yes' as unknown as boolean })).rejects.toThrow(/options\.aof/);
    await expect(startRedisServer({ startTimeout: 0 })).rejects.toThrow(RangeError);
    await expect(startRedisServer({ binary: '/nonexistent/redis-server' })).rejects.toMatchObject({
      code: 'AB_ERR_REDIS_SERVER',
    });
  });
});

// Real processes and a real Redis: generous time limits, so a loaded machine slows these tests down without failing them.
describe('distributedStream and workers on a real Redis', { timeout: 180_000 }, () => {
  beforeEach(async () => {
    redis = await startRedisServer({ aof: true });
    pids = [redis.pid];
    workers = [];
  });

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await redis.stop();
    // Nothing of a test may outlive it: the server, every worker process.
    expect(pids.filter(alive)).toEqual([]);
  });

  it('rejects bad arguments with errors that name them', () => {
    const connection = { path: '/nonexistent' };
    expect(() => distributedStream(null as unknown as number[], { queue: 'q', connection })).toThrow(
      /`items`/,
    );
    expect(() => distributedStream([1], { queue: '', connection })).toThrow(/options\.queue/);
    expect(() => distributedStream([1], { queue: 'q', connection, window: 0 })).toThrow(RangeError);
    expect(() => distributedStream([1], { queue: 'q', connection: null as unknown as object })).toThrow(
      /options\.connection/,
    );
    expect(() => runWorker('q', 'nope' as unknown as () => 1, { connection })).toThrow(/`fn`/);
    expect(() => forkWorker('q', { connection, module: '' })).toThrow(/options\.module/);
  });

  it('gives exactly one outcome per item, failures included, and keeps at most `window` jobs in Redis', async () => {
    await startWorkers(2, 'squares', 'square');
    const probe = new Queue('squares', { connection: { path: redis.socket } });
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await outstandingIn(probe));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const seen = new Map<number, number>();
    let failures = 0;
    for await (const o of distributedStream(
      Array.from({ length: 2_000 }, (_, i) => i),
      { queue: 'squares', connection: { path: redis.socket }, window: 40 },
    )) {
      seen.set(o.index, (seen.get(o.index) ?? 0) + 1);
      if (o.ok) expect(o.value).toBe(o.item * o.item);
      else {
        failures++;
        expect(o.item).toBe(13);
        expect(o.failure.value).toBeInstanceOf(DistributedJobError);
        expect((o.failure.value as Error).message).toBe('13 is unlucky');
      }
    }
    sampling = false;
    await sampler;
    expect(seen.size).toBe(2_000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(failures).toBe(1);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(40);
    // Settled jobs are taken out of Redis: nothing of the run is left.
    await new Promise((r) => setTimeout(r, 200));
    expect(await probe.getJobCountByTypes('completed', 'failed', 'wait', 'active')).toBe(0);
    await probe.close();
  });

  it('pulls a lazy input only as the window frees up', async () => {
    await startWorkers(1, 'lazy', 'square', 5);
    let pulled = 0;
    let maxAhead = 0;
    let consumed = 0;
    function* items() {
      for (let i = 0; i < 300; i++) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - consumed);
        yield i;
      }
    }
    for await (const _ of distributedStream(items(), {
      queue: 'lazy',
      connection: { path: redis.socket },
      window: 10,
    })) {
      consumed++;
    }
    expect(consumed).toBe(300);
    expect(maxAhead).toBeLessThanOrEqual(10);
  });

  it('still gives exactly one outcome per item over 5,000 items when a worker is SIGKILLed mid-run', async () => {
    const [doomed, survivor] = await startWorkers(2, 'crash', 'square', 25);
    const seen = new Map<number, number>();
    let killed = false;
    for await (const o of distributedStream(
      Array.from({ length: 5_000 }, (_, i) => i),
      { queue: 'crash', connection: { path: redis.socket }, window: 100 },
    )) {
      seen.set(o.index, (seen.get(o.index) ?? 0) + 1);
      if (o.ok) expect(o.value).toBe(o.item * o.item);
      if (!killed && seen.size === 1_000) {
        killed = true;
        await doomed.kill();
      }
    }
    expect(killed).toBe(true);
    expect(seen.size).toBe(5_000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(survivor.executed).toBeGreaterThan(0);
  });

  it('still gives exactly one outcome per item over 5,000 items when Redis is SIGKILLed and restarted (AOF)', async () => {
    await startWorkers(2, 'restart', 'square', 25);
    const seen = new Map<number, number>();
    let restarted = false;
    for await (const o of distributedStream(
      Array.from({ length: 5_000 }, (_, i) => i),
      { queue: 'restart', connection: { path: redis.socket }, window: 100, pollInterval: 500 },
    )) {
      seen.set(o.index, (seen.get(o.index) ?? 0) + 1);
      if (o.ok) expect(o.value).toBe(o.item * o.item);
      if (!restarted && seen.size === 1_500) {
        restarted = true;
        const before = redis.pid;
        await redis.kill();
        expect(alive(before)).toBe(false);
        setTimeout(() => {
          redis.restart().then(() => pids.push(redis.pid));
        }, 1_000);
      }
    }
    expect(restarted).toBe(true);
    expect(seen.size).toBe(5_000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it('on abort removes the jobs not yet started, lets the running ones finish, and throws CancelledError', async () => {
    await startWorkers(1, 'abort', 'square', 10);
    const controller = new AbortController();
    let count = 0;
    const run = async () => {
      for await (const _ of distributedStream(
        Array.from({ length: 5_000 }, (_, i) => i),
        { queue: 'abort', connection: { path: redis.socket }, window: 200, signal: controller.signal },
      )) {
        if (++count === 500) controller.abort(new Error('enough'));
      }
    };
    await expect(run()).rejects.toBeInstanceOf(CancelledError);
    expect(count).toBe(500);
    const probe = new Queue('abort', { connection: { path: redis.socket } });
    expect(await outstandingIn(probe)).toBe(0);
    await probe.close();
  });

  it('never waits on stale job ids when the same batch runs twice on one queue', async () => {
    await startWorkers(1, 'twice', 'square', 10);
    for (let round = 0; round < 2; round++) {
      let n = 0;
      for await (const o of distributedStream([1, 2, 3, 4, 5], {
        queue: 'twice',
        connection: { path: redis.socket },
      })) {
        expect(o.ok).toBe(true);
        n++;
      }
      expect(n).toBe(5);
    }
  });
});
