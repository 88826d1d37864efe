import { fileURLToPath } from 'node:url';
import { parallelStream } from 'async-batching';
import { distributedStream, forkWorker, startRedisServer, type WorkerProcess } from 'async-batching/bullmq';
import { type Comparison, interleave, range, ratio, times, type Variant } from '../harness.ts';

export interface DistributedParams {
  count: number;
  /** The total concurrency: of the local stream, and summed over the worker processes. */
  concurrency: number;
  window: number;
  warmup: number;
  rounds: number;
}

export const DISTRIBUTED_FULL: DistributedParams = {
  count: 5_000,
  concurrency: 48,
  window: 96,
  warmup: 1,
  rounds: 5,
};
export const DISTRIBUTED_QUICK: DistributedParams = {
  count: 2_000,
  concurrency: 48,
  window: 96,
  warmup: 1,
  rounds: 2,
};

const JOBS = fileURLToPath(new URL('./distributed-jobs.ts', import.meta.url));

/**
 * Comparison 7: the same lazy batch in one process (parallelStream) and across processes (distributedStream on BullMQ
 * and a local redis-server over a Unix socket), 1, 2 and 4 worker processes sharing the same total concurrency.
 */
export async function distributedComparison(p: DistributedParams): Promise<Comparison> {
  const { count, concurrency, window } = p;
  const redis = await startRedisServer();
  const connection = { path: redis.socket };
  const workers: WorkerProcess[] = [];
  const { ioJob } = (await import(JOBS)) as { ioJob: (n: number) => Promise<number> };
  try {
    const distributed = async (processes: number): Promise<Variant> => {
      const queue = `bench-${processes}`;
      const each = concurrency / processes;
      const started = Array.from({ length: processes }, () =>
        forkWorker(queue, { connection, module: JOBS, exportName: 'ioJob', concurrency: each }),
      );
      workers.push(...started);
      await Promise.all(started.map((w) => w.ready));
      return {
        name: `distributedStream, ${processes} worker${processes > 1 ? 's' : ''} x ${each}`,
        ours: true,
        how: `${processes} worker process${processes > 1 ? 'es' : ''}, window ${window}, outcomes gathered`,
        run: async () => {
          const values: number[] = [];
          for await (const o of distributedStream<number, number>(range(count), {
            queue,
            connection,
            window,
          })) {
            if (o.ok) values[o.index] = o.value;
          }
        },
      };
    };
    const variants: Variant[] = [
      {
        name: 'parallelStream, one process',
        ours: true,
        how: `for await over parallelStream(generator, ${concurrency}, job)`,
        run: async () => {
          const values: number[] = [];
          for await (const o of parallelStream(range(count), concurrency, ioJob)) {
            if (o.ok) values[o.index] = o.value;
          }
        },
      },
      await distributed(1),
      await distributed(2),
      await distributed(4),
    ];
    const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
    const one = variants[1].name;
    const two = variants[2].name;
    const four = variants[3].name;
    return {
      id: 'distributed',
      title: 'Across processes (BullMQ on Redis)',
      workload: `${count.toLocaleString('en-US')} jobs of ~2 ms of waiting each, total concurrency ${concurrency}, results kept`,
      unit: 'ms',
      baseline: 'parallelStream, one process',
      rows,
      targets: [
        {
          text: '2 worker processes faster than 1',
          holds: ratio(rows, one, two) > 1,
          actual: times(ratio(rows, one, two)),
        },
      ],
      notes: [
        `From 1 to 4 worker processes: ${times(ratio(rows, one, four))} the throughput of one. Every job costs ` +
          'a few Redis round trips (add, take, complete, the completion event, removal), all served by one ' +
          'single-threaded Redis that shares this machine with the producer and the workers.',
        'Beyond one Redis (an estimate, not a measurement): across machines the limit moves to Redis itself. Each job ' +
          "is a handful of short Lua scripts on Redis's single command thread; a Redis serves on the order of 100,000 " +
          "simple commands per second per core and BullMQ's scripts are several times heavier, so one Redis should " +
          'carry roughly ten to twenty thousand small jobs per second, whatever the number of workers. Past that: ' +
          'several queues on their own Redis, a Redis Cluster (one hash tag per queue, as BullMQ requires), or a ' +
          'multi-threaded Redis-compatible server such as Dragonfly. Jobs of milliseconds or more (a page fetch) are ' +
          "far from that limit: there the window and the workers' concurrency decide the throughput.",
      ],
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await redis.stop();
  }
}
