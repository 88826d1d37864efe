// The entry point of a worker process started by forkWorker(): imports the job module, runs the worker, reports
// how many jobs it has started, and ends when its parent does (the IPC channel closes even on the parent's SIGKILL).
import { pathToFileURL } from 'node:url';
import type { ForkedWorkerConfig } from './fork.js';
import { runWorker } from './worker.js';

const config = JSON.parse(process.argv[2] ?? '{}') as ForkedWorkerConfig;
const mod = (await import(
  config.module.startsWith('file:') ? config.module : pathToFileURL(config.module).href
)) as Record<string, unknown>;
const fn = mod[config.exportName];
if (typeof fn !== 'function') {
  process.stderr.write(`forkWorker: ${config.module} has no function export named ${config.exportName}\n`);
  process.exit(2);
}
const w = runWorker(config.queue, fn as (item: unknown) => unknown, {
  ...config.options,
  closeOnSignals: true,
});
// Lost locks and late completions are reported to the parent (which counts them); this process says so on stderr.
const tell = (what: string, jobId: string) =>
  process.stderr.write(`forkWorker ${process.pid}: ${what} ${jobId}\n`);
w.on('lockLost', (e) => tell('lost the lock of job', e.jobId));
w.on('lateCompletion', (e) => tell('finished after losing the lock of job', e.jobId));
let reported = '';
const report = (force = false) => {
  const counts = { executed: w.executed, lostLocks: w.lostLocks, lateCompletions: w.lateCompletions };
  const key = JSON.stringify(counts);
  if ((force || key !== reported) && process.connected) {
    reported = key;
    process.send?.({ type: 'executed', ...counts });
  }
};
setInterval(() => report(), 50).unref();
await w.worker.waitUntilReady();
process.send?.({ type: 'ready' });
// SIGTERM/SIGINT: finish the running jobs, send the final count, and exit.
const leave = () => {
  w.close().then(
    () => {
      report();
      process.exitCode = 0;
      if (process.connected) process.disconnect();
      setTimeout(() => process.exit(0), 100).unref();
    },
    () => process.exit(1),
  );
};
process.once('SIGTERM', leave);
process.once('SIGINT', leave);
process.on('disconnect', () => {
  // The parent is gone: finish what runs (bounded), then leave.
  setTimeout(() => process.exit(1), 10_000).unref();
  w.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'report') report(true);
});
