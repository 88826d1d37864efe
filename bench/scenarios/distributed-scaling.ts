import { type ChildProcess, execFile, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  distributedStream,
  forkWorker,
  type RedisServer,
  startRedisServer,
  type WorkerProcess,
} from 'async-batching/bullmq';
import { Redis } from 'ioredis';
import { type Comparison, interleave, rowNamed, type Variant } from '../harness.ts';
import { checkNamespaceSupport, NamespaceStar } from '../netns.ts';

export interface ScalingParams {
  /** The worker counts compared; the first is the one "linear" is taken from (1 in the bench). */
  workers: readonly number[];
  /** Jobs per run, the same for every worker count. */
  count: number;
  /** Each job's wait, in ms. */
  jobMs: number;
  /** Concurrency of each worker process. */
  slots: number;
  /** The proxy's delay each way, in ms, between a worker and Redis. */
  delayMs: number;
  warmup: number;
  rounds: number;
}

export const SCALING_FULL: ScalingParams = {
  workers: [1, 2, 4],
  count: 3_000,
  jobMs: 50,
  slots: 10,
  delayMs: 3,
  warmup: 1,
  rounds: 5,
};
export const SCALING_QUICK: ScalingParams = { ...SCALING_FULL, count: 120, warmup: 0, rounds: 1 };

const JOBS = fileURLToPath(new URL('./distributed-scaling-jobs.ts', import.meta.url));
const PROXY = fileURLToPath(new URL('./distributed-scaling-proxy.ts', import.meta.url));
const REDIS_PORT = 6379;

/** The row name of `n` workers. */
export function scalingRowName(n: number): string {
  return `${n} worker${n > 1 ? 's' : ''}`;
}

/** Starts the delay proxy in the hub namespace, listening on the hub's address of every spoke link. */
async function startProxy(star: NamespaceStar, socket: string, delayMs: number): Promise<ChildProcess> {
  const [command, ...args] = star.exec(star.hub);
  const config = {
    listen: star.spokes.map((s) => ({ host: s.hubAddress, port: REDIS_PORT })),
    target: socket,
    delayMs,
  };
  const child = fork(PROXY, [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execPath: command,
    execArgv: [...args, process.execPath],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code, signal) =>
      reject(new Error(`the delay proxy exited (${signal ?? code}) before it was listening`)),
    );
    child.once('error', reject);
  });
  return child;
}

const cores = () => availableParallelism();

/** CPU seconds (user + system) `pid` has used, from /proc (clock ticks of 10 ms); 0 once it is gone. */
function processCpu(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Redis's CPU seconds (user + system), from INFO. */
async function redisCpu(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  return (
    Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) +
    Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0)
  );
}

/**
 * PING round trips from spoke 0 to Redis through the proxy for `ms`, with redis-cli's latency mode: min, max and mean
 * in ms, or a sentence saying why not.
 */
function roundTrip(star: NamespaceStar, ms: number): Promise<string> {
  const spoke = star.spokes[0];
  const [command, ...args] = star.exec(spoke.ns);
  const cli = [...args, 'redis-cli', '-h', spoke.hubAddress, '-p', String(REDIS_PORT), '--latency', '--raw'];
  return new Promise((resolve) => {
    execFile(command, [...cli, '-i', String(ms / 1000)], { timeout: ms + 2_000 }, (error, stdout) => {
      const last = stdout.trim().split('\n').pop()?.split(' ').map(Number) ?? [];
      if (error !== null || last.length < 4 || !last.every(Number.isFinite)) {
        resolve(`not measured (redis-cli: ${error?.message ?? stdout.trim()})`);
        return;
      }
      const [min, max, mean, count] = last;
      resolve(`${mean.toFixed(1)} ms on average, ${min} to ${max} ms (${count} PINGs over ${ms / 1000} s)`);
    });
  });
}

/** SIGTERM, then SIGKILL if the worker has not left within `ms` (a worker cut from Redis may not finish closing). */
async function stopWorker(w: WorkerProcess, ms = 5_000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    w.stop(),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => void w.kill().then(resolve), ms);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Across machines, as far as one machine can show it: 1, 2 and 4 worker processes, each in a network namespace of its
 * own joined by a veth pair to a hub namespace, where a proxy delays every byte between the workers and Redis by
 * `delayMs` each way. The producer sits next to Redis (its Unix socket); the jobs wait (I/O-bound), so the workers'
 * slots, the round trips and the producer decide the throughput. Jobs per second at each worker count, against
 * linear: `n` times the first count's rate. Namespaces, links, proxy, workers and Redis are removed afterwards, also
 * on an error, SIGINT or SIGTERM. Needs root and iproute2 (`ip`).
 */
export async function distributedScalingComparison(p: ScalingParams): Promise<Comparison> {
  const { count, jobMs, slots, delayMs } = p;
  if (p.workers.length === 0 || !p.workers.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`Expected \`workers\` to be whole numbers >= 1, got ${JSON.stringify(p.workers)}`);
  }
  for (const [name, value, least] of [
    ['count', count, 1],
    ['slots', slots, 1],
    ['jobMs', jobMs, 0],
    ['delayMs', delayMs, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < least) {
      throw new RangeError(`Expected \`${name}\` to be a whole number >= ${least}, got ${value}`);
    }
  }
  await checkNamespaceSupport('The distributed-scaling comparison');
  const most = Math.max(...p.workers);
  const loadBefore = loadavg()[0];
  const workers: WorkerProcess[] = [];
  let star: NamespaceStar | undefined;
  let redis: RedisServer | undefined;
  let proxy: ChildProcess | undefined;
  let admin: Redis | undefined;
  let torn: Promise<void> | undefined;
  const tearDown = () => {
    torn ??= (async () => {
      await admin?.quit().catch(() => {});
      await Promise.all(workers.map((w) => stopWorker(w)));
      if (proxy !== undefined && proxy.exitCode === null && proxy.signalCode === null) {
        const exited = new Promise((r) => proxy?.once('exit', r));
        proxy.kill('SIGKILL');
        await exited;
      }
      await redis?.stop();
      await star?.remove();
    })();
    return torn;
  };
  // A signal mid-run: clean up, then end as the signal would have. The exit hooks of forkWorker, startRedisServer
  // and NamespaceStar catch whatever a hung clean-up leaves once the deadline passes.
  const onSignal = (signal: NodeJS.Signals) => {
    setTimeout(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)), 10_000).unref();
    void tearDown().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    star = await NamespaceStar.create(most, { prefix: 'abs' });
    redis = await startRedisServer();
    proxy = await startProxy(star, redis.socket, delayMs);
    const connection = { path: redis.socket };
    admin = new Redis(connection);
    const a = admin;
    const s = star;
    // One queue per worker count, its workers in spokes 1..n: idle ones wait on Redis and cost next to nothing.
    const byCount = new Map<number, WorkerProcess[]>();
    for (const n of p.workers) {
      const started = s.spokes.slice(0, n).map((spoke) =>
        forkWorker(`scaling-${n}`, {
          connection: { host: spoke.hubAddress, port: REDIS_PORT },
          module: JOBS,
          exportName: 'waitFor',
          concurrency: slots,
          wrapper: s.exec(spoke.ns),
        }),
      );
      workers.push(...started);
      byCount.set(n, started);
    }
    await Promise.all(workers.map((w) => w.ready));
    const rtt = await roundTrip(s, 2_000);

    const lost: string[] = [];
    // CPU seconds per job of each worker count, summed over the measured rounds: Redis, the workers, the proxy.
    const cpu = new Map<number, { redis: number; workers: number; proxy: number; jobs: number }>();
    let warm = p.warmup * p.workers.length;
    const variants: Variant[] = p.workers.map((n) => ({
      name: scalingRowName(n),
      ours: true,
      how: `distributedStream, window ${2 * n * slots}; ${n} forkWorker process${n > 1 ? 'es' : ''} x ${slots} slots, each in a namespace of its own, ${delayMs} ms each way to Redis`,
      run: async () => {
        const mine = byCount.get(n) ?? [];
        const sample = async () => ({
          redis: await redisCpu(a),
          workers: mine.reduce((sum, w) => sum + processCpu(w.pid), 0),
          proxy: processCpu(proxy?.pid),
        });
        const before = await sample();
        let ok = 0;
        for await (const o of distributedStream<number, number>(
          Array.from({ length: count }, () => jobMs),
          { queue: `scaling-${n}`, connection, window: 2 * n * slots },
        )) {
          if (o.ok) ok++;
        }
        if (ok !== count) lost.push(`${n} workers: ${ok} of ${count} jobs succeeded`);
        const after = await sample();
        if (warm-- > 0) return;
        const acc = cpu.get(n) ?? { redis: 0, workers: 0, proxy: 0, jobs: 0 };
        acc.redis += after.redis - before.redis;
        acc.workers += after.workers - before.workers;
        acc.proxy += after.proxy - before.proxy;
        acc.jobs += count;
        cpu.set(n, acc);
      },
    }));
    const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
    if (lost.length > 0) throw new Error(`jobs failed or went missing: ${lost.join('; ')}`);
    await Promise.all(workers.map((w) => w.refresh()));

    const base = rowNamed(rows, scalingRowName(p.workers[0]));
    const perSecond = (n: number) => rowNamed(rows, scalingRowName(n)).perSecond ?? 0;
    const linear = (n: number) => perSecond(n) / ((n / p.workers[0]) * (base.perSecond ?? 0));
    const last = p.workers[p.workers.length - 1];
    const shares = (byCount.get(last) ?? []).map((w) => w.executed);
    const total = shares.reduce((a, b) => a + b, 0);
    const loadAfter = loadavg()[0];
    const micros = (n: number) => {
      const c = cpu.get(n) ?? { redis: 0, workers: 0, proxy: 0, jobs: 1 };
      const producer = rowNamed(rows, scalingRowName(n)).cpuMicrosPerItem ?? 0;
      const per = (x: number) => (x * 1e6) / c.jobs;
      return { producer, redis: per(c.redis), workers: per(c.workers), proxy: per(c.proxy) };
    };
    const totalMicros = (n: number) => {
      const m = micros(n);
      return m.producer + m.redis + m.workers + m.proxy;
    };
    return {
      id: 'distributed-scaling',
      title: 'Across machines: worker processes in network namespaces',
      workload: `${count.toLocaleString('en-US')} jobs of ${jobMs} ms of waiting, ${slots} slots per worker, ${delayMs} ms each way between the workers and Redis`,
      unit: 'ms',
      baseline: base.name,
      rows,
      targets: [
        {
          text: `${scalingRowName(last)} at least 0.8 of linear (${last} x one worker's jobs/s)`,
          holds: linear(last) >= 0.8,
          actual: `${linear(last).toFixed(2)}`,
        },
      ],
      notes: [
        `Jobs/s against linear: ${p.workers
          .map(
            (n) =>
              `${n}: ${Math.round(perSecond(n))}/s (${(perSecond(n) / (base.perSecond ?? 1)).toFixed(2)}x one, ${linear(n).toFixed(2)} of linear)`,
          )
          .join(
            '; ',
          )}. Medians of ${p.rounds} interleaved round${p.rounds > 1 ? 's' : ''} after ${p.warmup} warm-up.`,
        `Jobs/s of each round: ${p.workers
          .map((n) => {
            const samples = rowNamed(rows, scalingRowName(n)).samples.map((ms) => count / (ms / 1000));
            return `${n}: ${Math.round(Math.min(...samples))} to ${Math.round(Math.max(...samples))}`;
          })
          .join('; ')}.`,
        `The ceiling of one worker, were Redis free and near: ${slots} slots / ${jobMs} ms = ${Math.round((slots * 1000) / jobMs)} jobs/s. ` +
          `Measured, each slot spends ${((slots * 1000) / (base.perSecond ?? 1) - jobMs).toFixed(1)} ms per job besides its ${jobMs} ms ` +
          `wait: its worker's round trips to Redis through the proxy (${2 * delayMs} ms each) and the work at both ends.`,
        `CPU per job, in µs (producer, Redis, workers, proxy = total): ${p.workers
          .map((n) => {
            const m = micros(n);
            return `${n}: ${[m.producer, m.redis, m.workers, m.proxy].map((x) => x.toFixed(0)).join(' + ')} = ${totalMicros(n).toFixed(0)}`;
          })
          .join(
            '; ',
          )}. At ${Math.round(totalMicros(last))} µs per job in all, this machine's ${cores()} cores would be saturated near ${Math.round((cores() * 1e6) / totalMicros(last)).toLocaleString('en-US')} jobs/s with nothing else running. Across real machines the workers' and the proxy's share moves off the producer's machine, leaving the producer's ${Math.round(micros(last).producer)} µs and Redis's ${Math.round(micros(last).redis)} µs per job, each on a core of its own: roughly ${Math.round(1e6 / Math.max(micros(last).producer, micros(last).redis)).toLocaleString('en-US')} jobs/s before one of them is the limit (an estimate from these figures, not a measurement).`,
        `Jobs each of the ${last} workers started over the whole run: ${shares.join(', ')} (${shares
          .map((x) => `${Math.round((100 * x) / Math.max(1, total))}%`)
          .join(', ')}).`,
        `Layout: a hub namespace and ${most} worker namespaces, each joined to the hub by a veth pair of its own ` +
          `(10.231.0.x/30, inside the namespaces only); redis-server on a Unix socket, the producer beside it; a Node ` +
          `proxy in the hub, on each link's hub address, passes every chunk on ${delayMs} ms after it came (netem is ` +
          `not in this kernel). A round trip from a worker's namespace to Redis, before the runs: ${rtt}. Load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`,
      ],
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await tearDown();
  }
}
