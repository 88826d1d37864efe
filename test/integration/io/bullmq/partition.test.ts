// A worker cut off from Redis by the network, as machines fail: Redis and two worker processes each in a network
// namespace this test makes, joined by veth pairs it creates (addresses in 10.200-249.x.x/30, on those links only).
// Needs root and iproute2 (`ip`): where the namespaces cannot be made, the test fails and says why.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  distributedStream,
  forkWorker,
  type RedisServer,
  startRedisServer,
  type WorkerProcess,
} from 'async-batching/bullmq';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const jobs = fileURLToPath(new URL('../../../fixtures/bullmq/jobs.ts', import.meta.url));

/** What the README states and this test checks (lock 4 s, stalled check every 2 s, a cut of 8 s). */
const RECLAIM_LIMIT_MS = 12_000;
const REJOIN_LIMIT_MS = 3_000;
const CUT_MS = 8_000;

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Redis's namespace R, worker namespaces A and B, each joined to R by a veth pair of its own. */
class Partition {
  readonly tag = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`.slice(-7);
  readonly ns = { r: `abr-${this.tag}`, a: `aba-${this.tag}`, b: `abb-${this.tag}` };
  readonly net = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
  readonly redisA = `${this.net}.1`;
  readonly redisB = `${this.net}.5`;
  readonly linkToA = `vra${this.tag}`;
  private made: string[] = [];

  async create(): Promise<void> {
    for (const name of Object.values(this.ns)) {
      try {
        await ip('netns', 'add', name);
      } catch (e) {
        throw new Error(
          `network namespaces could not be made (the partition test needs root and iproute2): ${(e as Error).message}`,
        );
      }
      this.made.push(name);
      await ip('-n', name, 'link', 'set', 'lo', 'up');
    }
    await this.join(this.ns.a, `vra${this.tag}`, `vaa${this.tag}`, 1);
    await this.join(this.ns.b, `vrb${this.tag}`, `vab${this.tag}`, 5);
  }

  private async join(ns: string, redisEnd: string, workerEnd: string, base: number): Promise<void> {
    await ip('link', 'add', redisEnd, 'type', 'veth', 'peer', 'name', workerEnd);
    await ip('link', 'set', redisEnd, 'netns', this.ns.r);
    await ip('link', 'set', workerEnd, 'netns', ns);
    await ip('-n', this.ns.r, 'addr', 'add', `${this.net}.${base}/30`, 'dev', redisEnd);
    await ip('-n', ns, 'addr', 'add', `${this.net}.${base + 1}/30`, 'dev', workerEnd);
    await ip('-n', this.ns.r, 'link', 'set', redisEnd, 'up');
    await ip('-n', ns, 'link', 'set', workerEnd, 'up');
  }

  /** Takes Redis's end of A's link down (A sees no carrier; its packets go nowhere), or up again. */
  link(up: boolean): Promise<void> {
    return ip('-n', this.ns.r, 'link', 'set', this.linkToA, up ? 'up' : 'down');
  }

  /** Deletes the namespaces, which deletes the veth pairs in them. */
  async remove(): Promise<void> {
    const errors: string[] = [];
    for (const name of this.made.splice(0))
      await ip('netns', 'del', name).catch((e: Error) => errors.push(e.message));
    if (errors.length > 0) throw new Error(errors.join('; '));
  }
}

let partition: Partition | undefined;
let redis: RedisServer | undefined;
let workers: WorkerProcess[] = [];
let scratch: string | undefined;

afterEach(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  workers = [];
  await redis?.stop();
  redis = undefined;
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
  const p = partition;
  partition = undefined;
  await p?.remove();
});

describe('a worker cut off from Redis by the network', { timeout: 180_000 }, () => {
  it('every item gets one outcome; its jobs are reclaimed by the other worker; healed, it rejoins', async () => {
    partition = new Partition();
    await partition.create();
    const p = partition;
    // Redis in namespace R, on TCP on R's two veth addresses only, and on a Unix socket for this producer.
    scratch = await mkdtemp(join(tmpdir(), 'ab-partition-'));
    const launcher = join(scratch, 'redis-in-netns');
    await writeFile(
      launcher,
      `#!/bin/sh\nexec ip netns exec ${p.ns.r} redis-server "$@" --port 6379 --bind ${p.redisA} ${p.redisB} --protected-mode no\n`,
      { mode: 0o755 },
    );
    redis = await startRedisServer({ binary: launcher });
    const start = (ns: string, host: string) =>
      forkWorker('partition', {
        connection: { host, port: 6379 },
        module: jobs,
        exportName: 'tagged',
        concurrency: 5,
        wrapper: ['ip', 'netns', 'exec', ns],
      });
    const a = start(p.ns.a, p.redisA);
    const b = start(p.ns.b, p.redisB);
    workers.push(a, b);
    await Promise.all([a.ready, b.ready]);
    await new Promise((r) => setTimeout(r, 1_500)); // both announce their concurrency: the default window is 20

    const ITEMS = 800;
    const outcomes = new Map<number, { pid: number; attempt: number; at: number }[]>();
    let cutAt = 0;
    let healAt = 0;
    let rejoinAt = 0;
    let executedAtHeal = 0;
    let healed: Promise<void> | undefined;
    let failures = 0;
    for await (const o of distributedStream<number, { n: number; pid: number; attempt: number }>(
      Array.from({ length: ITEMS }, (_, i) => i),
      { queue: 'partition', connection: { path: redis.socket } },
    )) {
      const at = performance.now();
      if (!o.ok) {
        failures++;
        continue;
      }
      outcomes.set(o.index, [
        ...(outcomes.get(o.index) ?? []),
        { pid: o.value.pid, attempt: o.value.attempt, at },
      ]);
      if (outcomes.size === 100 && cutAt === 0) {
        await p.link(false);
        cutAt = performance.now();
        healed = (async () => {
          await new Promise((r) => setTimeout(r, CUT_MS));
          executedAtHeal = a.executed;
          await p.link(true);
          healAt = performance.now();
          while (a.executed === executedAtHeal && performance.now() - healAt < 30_000) {
            await new Promise((r) => setTimeout(r, 20));
          }
          rejoinAt = performance.now();
        })();
      }
    }
    await healed;
    const duplicates = [...outcomes.values()].filter((list) => list.length > 1).length;
    const reclaimed = [...outcomes.entries()].filter(([, [first]]) => first.attempt > 1);
    const reclaimMs = Math.max(...reclaimed.map(([, [first]]) => first.at - cutAt));
    const rejoinMs = rejoinAt - healAt;
    // Give the healed worker's report a moment to carry its late completions.
    await new Promise((r) => setTimeout(r, 500));
    console.log(
      `partition: ${ITEMS} items, ${outcomes.size} outcomes, ${duplicates} duplicates, ${failures} failures; ` +
        `${reclaimed.length} jobs reclaimed, the last ${(reclaimMs / 1000).toFixed(1)} s after the cut (${CUT_MS / 1000} s, lock 4 s); ` +
        `healed worker took a job ${(rejoinMs / 1000).toFixed(2)} s after its link came back; ` +
        `its late completions ${a.lateCompletions}, lost locks ${a.lostLocks}`,
    );
    expect(failures).toBe(0);
    expect(outcomes.size).toBe(ITEMS);
    expect(duplicates).toBe(0);
    expect(reclaimed.length).toBeGreaterThan(0);
    for (const [, [first]] of reclaimed) expect(first.pid).toBe(b.pid);
    expect(reclaimMs).toBeLessThan(RECLAIM_LIMIT_MS);
    expect(rejoinAt).toBeGreaterThan(0);
    expect(a.executed).toBeGreaterThan(executedAtHeal);
    expect(rejoinMs).toBeLessThan(REJOIN_LIMIT_MS);
    expect(a.lateCompletions).toBe(reclaimed.length);
  });
});
