// A worker cut off from Redis by the network, as machines fail: Redis and two worker processes each in a network
// namespace this test makes (bench/netns.ts: a hub for Redis, a spoke per worker, joined by veth pairs with private
// addresses that exist only inside those namespaces). Needs root and iproute2 (`ip`): where the namespaces cannot be
// made, the test fails and says why. The bounds it holds the run to are the figures the README states for it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  distributedStream,
  forkWorker,
  type RedisServer,
  startRedisServer,
  type WorkerProcess,
} from 'async-batching/bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { NamespaceStar } from '../../../../bench/netns.ts';

const jobs = fileURLToPath(new URL('../../../fixtures/bullmq/jobs.ts', import.meta.url));
const README = new URL('../../../../README.md', import.meta.url);

/** The figures of the README's "A partition, tested." paragraph, in ms where they are times. */
interface Figures {
  slots: number;
  items: number;
  cutMs: number;
  lockMs: number;
  reclaimMs: number;
  rejoinMs: number;
  duplicates: number;
}

/** Reads the figures the README states for this test, so the two cannot drift apart. */
async function readmeFigures(): Promise<Figures> {
  const readme = await readFile(README, 'utf8');
  const paragraph = readme
    .split(/\n\s*\n/)
    .find((p) => p.startsWith('**A partition, tested.**'))
    ?.replace(/\s+/g, ' ');
  if (paragraph === undefined)
    throw new Error('The README has no paragraph starting "**A partition, tested.**"');
  const figure = (pattern: RegExp, what: string): number => {
    const m = pattern.exec(paragraph);
    if (m === null) throw new Error(`The README's partition paragraph no longer states ${what} (${pattern})`);
    return Number(m[1].replaceAll(',', ''));
  };
  return {
    slots: figure(/two worker processes \((\d+) slots/, 'the slots per worker'),
    items: figure(/in the middle of ([\d,]+) jobs/, 'the number of jobs'),
    cutMs: 1000 * figure(/link down for (\d+) s/, 'how long the link is down'),
    lockMs: 1000 * figure(/locks of (\d+) s/, 'the lock duration'),
    reclaimMs: 1000 * figure(/by the other worker within (\d+) s of the cut/, 'the reclaim bound'),
    rejoinMs: 1000 * figure(/new job within (\d+) s of its link coming back/, 'the rejoin bound'),
    duplicates: figure(/duplicates (\d+)/, 'the duplicate outcomes'),
  };
}

let star: NamespaceStar | undefined;
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
  const s = star;
  star = undefined;
  await s?.remove();
});

describe('a worker cut off from Redis by the network', { timeout: 180_000 }, () => {
  it('every item gets one outcome; its jobs are reclaimed by the other worker; healed, it rejoins', async () => {
    const f = await readmeFigures();
    star = await NamespaceStar.create(2, { prefix: 'abp' });
    const p = star;
    const [spokeA, spokeB] = p.spokes;
    // Redis in the hub namespace, on TCP on the hub's two link addresses only, and on a Unix socket for this producer.
    scratch = await mkdtemp(join(tmpdir(), 'ab-partition-'));
    const launcher = join(scratch, 'redis-in-netns');
    await writeFile(
      launcher,
      `#!/bin/sh\nexec ${p.exec(p.hub).join(' ')} redis-server "$@" --port 6379 --bind ${spokeA.hubAddress} ${spokeB.hubAddress} --protected-mode no\n`,
      { mode: 0o755 },
    );
    redis = await startRedisServer({ binary: launcher });
    const start = (ns: string, host: string) =>
      forkWorker('partition', {
        connection: { host, port: 6379 },
        module: jobs,
        exportName: 'tagged',
        concurrency: f.slots,
        lockDuration: f.lockMs,
        wrapper: p.exec(ns),
      });
    const a = start(spokeA.ns, spokeA.hubAddress);
    const b = start(spokeB.ns, spokeB.hubAddress);
    workers.push(a, b);
    await Promise.all([a.ready, b.ready]);
    await new Promise((r) => setTimeout(r, 1_500)); // both announce their concurrency: the default window follows

    const ITEMS = f.items;
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
        await p.link(0, false);
        cutAt = performance.now();
        healed = (async () => {
          await new Promise((r) => setTimeout(r, f.cutMs));
          executedAtHeal = a.executed;
          await p.link(0, true);
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
        `${reclaimed.length} jobs reclaimed, the last ${(reclaimMs / 1000).toFixed(1)} s after the cut (${f.cutMs / 1000} s, lock ${f.lockMs / 1000} s); ` +
        `healed worker took a job ${(rejoinMs / 1000).toFixed(2)} s after its link came back; ` +
        `its late completions ${a.lateCompletions}, lost locks ${a.lostLocks}`,
    );
    expect(failures).toBe(0);
    expect(outcomes.size).toBe(ITEMS);
    expect(duplicates).toBe(f.duplicates);
    // Run twice: only the cut-off worker's running jobs, at most its slots, each first finished by the other worker.
    expect(reclaimed.length).toBeGreaterThan(0);
    expect(reclaimed.length).toBeLessThanOrEqual(f.slots);
    for (const [, [first]] of reclaimed) expect(first.pid).toBe(b.pid);
    expect(reclaimMs).toBeLessThan(f.reclaimMs);
    expect(rejoinAt).toBeGreaterThan(0);
    expect(a.executed).toBeGreaterThan(executedAtHeal);
    expect(rejoinMs).toBeLessThan(f.rejoinMs);
    expect(a.lateCompletions).toBe(reclaimed.length);
  });
});
