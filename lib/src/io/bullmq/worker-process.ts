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
let reported = -1;
const report = () => {
  if (w.executed !== reported && process.connected) {
    reported = w.executed;
    process.send?.({ type: 'executed', executed: reported });
  }
};
setInterval(report, 50).unref();
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
  if (m?.type === 'report') report();
});
