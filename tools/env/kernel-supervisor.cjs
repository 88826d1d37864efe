// Starts a kernel that is not a Node process (Deno's) under the runner's lifeline: run as
// `node kernel-supervisor.cjs <command> [args...]` with the runner holding the other end of pipe fd 3.
// The runner starts this process as the leader of a new process group, so killing the group ends the kernel too;
// and when the runner ends in any way (SIGKILL included) the pipe closes and the kernel is killed here, with its
// connection folder (the file in it holds the HMAC key). tslab gets the same guarantee from kernel-preload.cjs.
'use strict';
const { spawn } = require('node:child_process');
const { rmSync } = require('node:fs');
const { Socket } = require('node:net');

const [command, ...args] = process.argv.slice(2);
const connectionDir = process.env.ASYNC_BATCHING_KERNEL_DIR;
const cleanUp = () => {
  if (connectionDir) rmSync(connectionDir, { recursive: true, force: true });
};
process.on('exit', cleanUp);

const lifeline = process.env.ASYNC_BATCHING_KERNEL_LIFELINE;
// The kernel and what its notebooks start get neither: the lifeline and the folder are this supervisor's.
const env = { ...process.env };
delete env.ASYNC_BATCHING_KERNEL_DIR;
delete env.ASYNC_BATCHING_KERNEL_LIFELINE;
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
child.on('error', (error) => {
  process.stderr.write(`could not start ${command}: ${error.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
for (const signal of /** @type {NodeJS.Signals[]} */ (['SIGTERM', 'SIGINT', 'SIGHUP'])) {
  process.on(signal, () => child.kill(signal));
}

if (lifeline === '3') {
  const lifeline = new Socket({ fd: 3, readable: true, writable: false });
  // The whole group: Deno, and whatever a cell started in it, goes with this process.
  const end = () => {
    cleanUp();
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
      process.exit(137);
    }
  };
  lifeline.on('data', () => {});
  lifeline.on('close', end);
  lifeline.on('error', end);
}
