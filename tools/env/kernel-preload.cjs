// @ts-nocheck: it subclasses zeromq's socket classes generically at run time, which JSDoc cannot type without
// a wall of casts; test/tools/runner-robustness.test.ts runs it in real kernels.
// Loaded into the tslab kernel process with `node --require` by the runner (tools/runner/kernel.ts), before tslab.
// CommonJS because tslab loads zeromq with require(), and this must change what that require() returns.
'use strict';
const { rmSync } = require('node:fs');
const zmq = require('zeromq');

// Why a cell that prints more than ~500 lines used to stall the runner (the "506 messages" bug), in two parts:
// 1. zeromq.js 6 performs at most 512 operations on a socket synchronously; the next send waits asynchronously, and
//    while it waits every further send() throws EBUSY ("only one send operation may be in progress"). tslab sends
//    one iopub message per write and never awaits the send; console.log swallows the EBUSY, so every later output
//    and the final `status: idle` (the client's signal that the cell is done) were lost without a trace.
//    So each socket's sends are queued here, one after the other.
// 2. A PUB socket drops messages beyond its send high-water mark (1,000) while the subscriber is behind, so once
//    sends no longer fail, a fast cell would lose messages that way. No limit here (and none on the runner's SUB
//    socket): output waits in memory instead; the runner caps what it keeps per cell.
function queued(Socket, defaults) {
  return class extends Socket {
    #tail = Promise.resolve();
    constructor(options) {
      super({ ...defaults, ...options });
    }
    send(message) {
      const sent = this.#tail.then(() => super.send(message));
      this.#tail = sent.catch(() => {});
      return sent;
    }
  };
}
zmq.Publisher = queued(zmq.Publisher, { sendHighWaterMark: 0 });
zmq.Router = queued(zmq.Router, {});
zmq.Reply = queued(zmq.Reply, {});

// tslab 1.0 answers kernel_info with TypeScript "3.7.2" whatever it compiles with (a constant in its source). Jupyter
// writes that answer into a notebook's `language_info` on open, so a notebook recorded with the true version would
// be rewritten on every open. Here it reports the version of the TypeScript it runs, which every client then records.
try {
  const tslabDir = require('node:path').dirname(require.resolve('tslab/package.json'));
  const { JupyterHandlerImpl } = require(require.resolve('tslab/dist/jupyter.js', { paths: [tslabDir] }));
  const typescript = require(
    require.resolve('@tslab/typescript-for-tslab/package.json', { paths: [tslabDir] }),
  );
  const handleKernel = JupyterHandlerImpl?.prototype?.handleKernel;
  if (typeof handleKernel === 'function') {
    JupyterHandlerImpl.prototype.handleKernel = function handleKernelWithVersion() {
      const reply = handleKernel.call(this);
      if (!this.isJs && reply?.language_info) reply.language_info.version = typescript.version;
      return reply;
    };
  }
} catch {
  // Another tslab layout: its own answer stands.
}

// The runner holds the other end of pipe fd 3. When it ends in any way (SIGKILL included) the pipe closes, and the
// kernel goes too, with its connection folder (the file in it holds the HMAC key). The pipe is watched from a worker
// thread, because a cell stuck in a synchronous loop never lets the main thread see it close.
const connectionDir = process.env.ASYNC_BATCHING_KERNEL_DIR;
const lifeline = process.env.ASYNC_BATCHING_KERNEL_LIFELINE;
// None of this is for the processes a notebook starts (a forked worker, say): fork() passes on the environment and
// this process's execArgv, and in a forked child fd 3 is its IPC channel, which a watchdog here would read from (one
// cell of notebook 12, with a forked BullMQ worker, took 39 s instead of 13), and its exit would delete our
// connection folder.
delete process.env.ASYNC_BATCHING_KERNEL_DIR;
delete process.env.ASYNC_BATCHING_KERNEL_LIFELINE;
const preloadAt = process.execArgv.findIndex(
  (arg, i) => (arg === '--require' || arg === '-r') && process.execArgv[i + 1] === __filename,
);
if (preloadAt >= 0) process.execArgv.splice(preloadAt, 2);
process.on('exit', () => {
  if (connectionDir) rmSync(connectionDir, { recursive: true, force: true });
});
if (lifeline === '3') {
  const { Worker } = require('node:worker_threads');
  const watchdog = new Worker(
    `const { rmSync } = require('node:fs');
     const { workerData } = require('node:worker_threads');
     const lifeline = new (require('node:net').Socket)({ fd: 3, readable: true, writable: false });
     const end = () => {
       if (workerData.connectionDir) rmSync(workerData.connectionDir, { recursive: true, force: true });
       // The runner starts the kernel as the leader of a process group: what its cells started goes too.
       try {
         process.kill(-workerData.pid, 'SIGKILL');
       } catch {
         process.kill(workerData.pid, 'SIGKILL');
       }
     };
     lifeline.on('data', () => {});
     lifeline.on('close', end);
     lifeline.on('error', end);`,
    { eval: true, workerData: { pid: process.pid, connectionDir } },
  );
  // The watchdog must not keep the kernel alive on its own.
  watchdog.unref();
}
