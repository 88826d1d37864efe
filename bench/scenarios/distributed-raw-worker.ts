// A raw BullMQ worker in a process of its own, the baseline's forked row: `node distributed-raw-worker.ts <json>`.
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';

const { socket, queue, concurrency, jobMs } = JSON.parse(process.argv[2] ?? '{}') as {
  socket: string;
  queue: string;
  concurrency: number;
  jobMs: number;
};
const worker = new Worker(
  queue,
  async (job) => {
    if (jobMs > 0) await sleep(jobMs);
    return job.data.item as number;
  },
  { connection: { path: socket }, concurrency },
);
worker.on('error', () => {});
await worker.waitUntilReady();
process.send?.('ready');
process.on('disconnect', () => {
  worker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
