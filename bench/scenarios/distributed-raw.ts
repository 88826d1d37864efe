import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type DistributedWorker,
  distributedStream,
  forkWorker,
  runWorker,
  startRedisServer,
  type WorkerProcess,
} from 'async-batching/bullmq';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type Comparison, interleave, range, ratio, times, type Variant } from '../harness.ts';

export interface DistributedRawParams {
  count: number;
  concurrency: number;
  /** Each job's wait, in ms: 0 for no-op jobs. */
  jobMs: number;
  warmup: number;
  rounds: number;
}

export const RAW_NOOP_FULL: DistributedRawParams = {
  count: 10_000,
  concurrency: 50,
  jobMs: 0,
  warmup: 1,
  rounds: 5,
};
export const RAW_NOOP_QUICK: DistributedRawParams = { ...RAW_NOOP_FULL, count: 3_000, rounds: 1 };
export const RAW_IO_FULL: DistributedRawParams = { ...RAW_NOOP_FULL, count: 3_000, jobMs: 20 };
export const RAW_IO_QUICK: DistributedRawParams = { ...RAW_IO_FULL, count: 1_000, rounds: 1 };

const JOBS = fileURLToPath(new URL('./distributed-jobs.ts', import.meta.url));
const RAW_WORKER = fileURLToPath(new URL('./distributed-raw-worker.ts', import.meta.url));

/** Redis's own counters around one run: commands executed and CPU seconds, from INFO. */
async function redisCounters(admin: Redis): Promise<{ calls: number; cpu: number }> {
  const info = await admin.info('all');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) calls += Number(m[1]);
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return { calls, cpu: user + sys };
}

/**
 * distributedStream side by side with raw BullMQ on the same Redis (a fresh redis-server on a Unix socket): the same
 * jobs, the same total concurrency, a worker in a process of its own and one in the producer's process. Raw BullMQ
 * is used as its guide shows: `addBulk` in chunks of 1,000 with `removeOnComplete`, a `QueueEvents` counting the
 * completions. Redis commands and Redis CPU per job come from INFO commandstats and INFO cpu around each run.
 */
export async function distributedRawComparison(p: DistributedRawParams): Promise<Comparison> {
  const { count, concurrency, jobMs } = p;
  const redis = await startRedisServer();
  const connection = { path: redis.socket };
  const admin = new Redis(connection);
  const exportName = jobMs > 0 ? 'waitJob' : 'noopJob';
  const jobs = (await import(JOBS)) as Record<string, (n: number) => unknown>;
  const cleanups: (() => Promise<unknown>)[] = [];
  const perJob = new Map<string, { calls: number; cpu: number; jobs: number }>();
  const measured = (name: string, run: () => Promise<void>) => async () => {
    const before = await redisCounters(admin);
    await run();
    const after = await redisCounters(admin);
    const acc = perJob.get(name) ?? { calls: 0, cpu: 0, jobs: 0 };
    acc.calls += after.calls - before.calls;
    acc.cpu += after.cpu - before.cpu;
    acc.jobs += count;
    perJob.set(name, acc);
  };

  const rawProducer = async (queue: string) => {
    // BullMQ trims its event stream to about 10,000 entries, four or five per job: a QueueEvents that falls behind by
    // a couple of thousand jobs (a busy machine) would miss completions and wait forever. Room for a whole run.
    const q = new Queue(queue, { connection, streams: { events: { maxLen: 10 * count } } });
    const events = new QueueEvents(queue, { connection });
    await events.waitUntilReady();
    cleanups.push(() => Promise.all([q.close(), events.close()]));
    return async () => {
      let done = 0;
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const all = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const onDone = () => {
        if (++done === count) resolve();
      };
      events.on('completed', onDone);
      // Should completions go missing all the same, the run fails instead of hanging the bench.
      let seen = -1;
      const watchdog = setInterval(() => {
        if (done === seen) {
          reject(new Error(`raw BullMQ on ${queue}: ${done} of ${count} completions seen, none for 30 s`));
        }
        seen = done;
      }, 30_000);
      for (let i = 0; i < count; i += 1_000) {
        const chunk = [];
        for (let k = i; k < Math.min(count, i + 1_000); k++) {
          chunk.push({ name: 'item', data: { item: k }, opts: { removeOnComplete: true } });
        }
        await q.addBulk(chunk);
      }
      try {
        await all;
      } finally {
        clearInterval(watchdog);
        events.off('completed', onDone);
      }
    };
  };
  const ours = (queue: string) => async () => {
    const values: unknown[] = [];
    for await (const o of distributedStream(range(count), { queue, connection })) {
      if (o.ok) values[o.index] = o.value;
    }
  };

  try {
    // Raw BullMQ, a worker process of its own.
    const rawChild: ChildProcess = fork(
      RAW_WORKER,
      [JSON.stringify({ socket: redis.socket, queue: 'raw-forked', concurrency, jobMs })],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    cleanups.push(async () => rawChild.kill('SIGKILL'));
    await new Promise<void>((r) => rawChild.once('message', () => r()));
    // Raw BullMQ, a worker in this process.
    const rawLocal = new Worker(
      'raw-local',
      async (job) => (jobMs > 0 ? jobs.waitJob(job.data.item) : jobs.noopJob(job.data.item)),
      { connection, concurrency },
    );
    rawLocal.on('error', () => {});
    cleanups.push(() => rawLocal.close());
    // distributedStream with forkWorker and with runWorker.
    const forked: WorkerProcess = forkWorker('ours-forked', {
      connection,
      module: JOBS,
      exportName,
      concurrency,
    });
    cleanups.push(() => forked.kill());
    const local: DistributedWorker = runWorker('ours-local', jobs[exportName], { connection, concurrency });
    cleanups.push(() => local.close());
    await Promise.all([forked.ready, rawLocal.waitUntilReady(), local.worker.waitUntilReady()]);
    await new Promise((r) => setTimeout(r, 1_500)); // our workers announce their concurrency: the default window

    const names = {
      rawForked: 'raw BullMQ, forked worker',
      oursForked: 'distributedStream + forkWorker',
      rawLocal: 'raw BullMQ, worker in-process',
      oursLocal: 'distributedStream + runWorker in-process',
    };
    const oursHow = `default window (2 x ${concurrency}, doubling up to 8 x when worker slots run dry), outcomes gathered`;
    const rawHow = 'addBulk by 1,000, removeOnComplete, QueueEvents counts completions';
    const variants: Variant[] = [
      {
        name: names.oursForked,
        ours: true,
        how: oursHow,
        run: measured(names.oursForked, ours('ours-forked')),
      },
      {
        name: names.rawForked,
        ours: false,
        how: rawHow,
        run: measured(names.rawForked, await rawProducer('raw-forked')),
      },
      {
        name: names.oursLocal,
        ours: true,
        how: oursHow,
        run: measured(names.oursLocal, ours('ours-local')),
      },
      {
        name: names.rawLocal,
        ours: false,
        how: rawHow,
        run: measured(names.rawLocal, await rawProducer('raw-local')),
      },
    ];
    const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
    for (const row of rows) {
      const against =
        row.name === names.rawLocal || row.name === names.oursLocal ? names.oursLocal : names.oursForked;
      if (row.name !== against) row.against = against;
    }
    const stat = (name: string) => {
      const s = perJob.get(name) ?? { calls: 0, cpu: 0, jobs: 1 };
      return { calls: s.calls / s.jobs, cpuMicros: (s.cpu * 1e6) / s.jobs };
    };
    const forkedRatio = ratio(rows, names.rawForked, names.oursForked);
    const localRatio = ratio(rows, names.rawLocal, names.oursLocal);
    const line = (name: string) =>
      `${name}: ${stat(name).calls.toFixed(1)} Redis commands and ${stat(name).cpuMicros.toFixed(0)} µs of Redis CPU per job`;
    const cpuRatio = Math.max(
      stat(names.oursForked).cpuMicros / stat(names.rawForked).cpuMicros,
      stat(names.oursLocal).cpuMicros / stat(names.rawLocal).cpuMicros,
    );
    const target = jobMs > 0 ? 1 : 0.8;
    return {
      id: jobMs > 0 ? 'distributed-raw-io' : 'distributed-raw',
      title: `Across processes against raw BullMQ (${jobMs > 0 ? `${jobMs} ms jobs` : 'no-op jobs'})`,
      workload: `${count.toLocaleString('en-US')} ${jobMs > 0 ? `jobs of ${jobMs} ms of waiting` : 'no-op jobs'}, concurrency ${concurrency}, one fresh redis-server on a Unix socket`,
      unit: 'ms',
      baseline: names.oursForked,
      rows,
      targets: [
        {
          text: `distributedStream at least ${target}x raw BullMQ's jobs/s, forked and in-process`,
          holds: forkedRatio >= target && localRatio >= target,
          actual: `${times(forkedRatio)} forked, ${times(localRatio)} in-process`,
        },
        {
          text: "Redis CPU per job at most 1.2x raw BullMQ's",
          holds: cpuRatio <= 1.2,
          actual: times(cpuRatio),
        },
      ],
      notes: [names.oursForked, names.rawForked, names.oursLocal, names.rawLocal].map(line),
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await admin.quit().catch(() => {});
    await redis.stop();
  }
}
