// Loaded with `node --require` into every script tools/launch.mjs starts. The launcher holds the other end of pipe
// fd 3; when the launcher ends in any way (SIGKILL included) the pipe closes, and this script is told to stop with
// SIGTERM, so it cleans up as it would for a Ctrl-C (the runner kills its kernels and removes unfinished files).
// One that has not ended 10 s later (a main thread stuck in a loop never sees the signal) gets SIGKILL.
// The pipe is watched from a worker thread, which runs whatever the main thread is doing.
// Plain CommonJS for any Node the launcher may start; the same scheme as tools/env/kernel-preload.cjs.
'use strict';

const lifeline = process.env.ASYNC_BATCHING_LAUNCHER_LIFELINE;
// None of this is for what the script starts: fork() passes on the environment and this process's execArgv, and in
// a forked child fd 3 is its IPC channel, not our pipe.
delete process.env.ASYNC_BATCHING_LAUNCHER_LIFELINE;
const preloadAt = process.execArgv.findIndex(
  (arg, i) => (arg === '--require' || arg === '-r') && process.execArgv[i + 1] === __filename,
);
if (preloadAt >= 0) process.execArgv.splice(preloadAt, 2);

if (lifeline === '3') {
  const { Worker } = require('node:worker_threads');
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     const lifeline = new (require('node:net').Socket)({ fd: 3, readable: true, writable: false });
     let ended = false;
     const end = () => {
       if (ended) return;
       ended = true;
       try {
         process.kill(workerData.pid, 'SIGTERM');
       } catch {}
       setTimeout(() => {
         try {
           process.kill(workerData.pid, 'SIGKILL');
         } catch {}
       }, workerData.graceMs);
     };
     lifeline.on('data', () => {});
     lifeline.on('close', end);
     lifeline.on('error', end);`,
    { eval: true, workerData: { pid: process.pid, graceMs: 10_000 } },
  );
  // The watchdog must not keep the script alive on its own.
  watchdog.unref();
}
