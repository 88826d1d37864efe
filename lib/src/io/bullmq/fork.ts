import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkNonEmptyString, checkObject, describe } from '../../core/args.js';
import type { DistributedWorker, RunWorkerOptions } from './worker.js';

/** Options of {@link forkWorker}. */
export interface ForkWorkerOptions extends Omit<RunWorkerOptions, 'connection' | 'closeOnSignals'> {
  /** ioredis options as plain data (they cross a process boundary): `{ path: socket }` or `{ host, port }`. */
  connection: Record<string, unknown>;
  /** The ES module (a path or a `file:` URL) that exports the job function. */
  module: string | URL;
  /** The name of the export. Default `'default'`. */
  exportName?: string;
  /**
   * A command to start the worker's Node under, with its arguments: `['ip', 'netns', 'exec', 'worker-1']` runs the
   * worker in a network namespace, `['nice', '-n', '10']` at a lower priority. The IPC channel and the watch on this
   * process go through it (the command must exec its arguments with inherited file descriptors, as these do).
   */
  wrapper?: string[];
}

/** @internal What the worker process receives. */
export interface ForkedWorkerConfig {
  queue: string;
  module: string;
  exportName: string;
  options: Omit<RunWorkerOptions, 'closeOnSignals'>;
}

/** A worker in a child process: see {@link forkWorker}. */
export interface WorkerProcess {
  /** The child's process id. */
  readonly pid: number;
  /** How many jobs it had started at its last report (it reports every 50 ms while a count changes). */
  readonly executed: number;
  /** Its `lostLocks` at its last report: see {@link DistributedWorker}. */
  readonly lostLocks: number;
  /** Its `lateCompletions` at its last report: see {@link DistributedWorker}. */
  readonly lateCompletions: number;
  /** Asks the worker for its counts now; resolves once they have arrived (or the process has ended). */
  refresh(): Promise<void>;
  /** Resolves once the worker is connected and taking jobs. */
  readonly ready: Promise<void>;
  /** Resolves when the process has ended, with its exit code or signal. */
  readonly exited: Promise<{
    /** The exit code, or `null` when a signal ended it. */
    code: number | null;
    /** The signal that ended it, or `null`. */
    signal: NodeJS.Signals | null;
  }>;
  /** SIGTERM: the worker finishes its running jobs, takes no new ones, and exits. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would: its running jobs come back to other workers once their locks expire. */
  kill(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Starts {@link runWorker} in a child process of its own, running the function that `module` exports, so a notebook
 * or a test can show several machines' worth of workers on one machine — and kill one. The child ends when this process
 * does, however it ends: it watches its IPC channel.
 */
export function forkWorker(queue: string, options: ForkWorkerOptions): WorkerProcess {
  checkNonEmptyString(queue, 'queue');
  checkObject(options, 'options');
  const { module, exportName = 'default', connection, wrapper, ...rest } = options;
  if (
    wrapper !== undefined &&
    (!Array.isArray(wrapper) ||
      wrapper.length === 0 ||
      !wrapper.every((a) => typeof a === 'string' && a !== ''))
  ) {
    throw new TypeError(
      `Expected \`options.wrapper\` to be a non-empty array of non-empty strings, got ${describe(wrapper)}`,
    );
  }
  if (!(typeof module === 'string' || module instanceof URL) || String(module) === '') {
    throw new TypeError(`Expected \`options.module\` to be a path or a file: URL, got ${describe(module)}`);
  }
  if (connection === null || typeof connection !== 'object') {
    throw new TypeError(
      `Expected \`options.connection\` to be ioredis options as plain data, e.g. { path: socket }, got ${describe(connection)}`,
    );
  }
  const config: ForkedWorkerConfig = {
    queue,
    module: module instanceof URL ? module.href : module,
    exportName,
    options: { ...rest, connection },
  };
  const entry = fileURLToPath(new URL('./worker-process.js', import.meta.url));
  const child = fork(entry, [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(wrapper === undefined
      ? {}
      : { execPath: wrapper[0], execArgv: [...wrapper.slice(1), process.execPath, ...process.execArgv] }),
  });
  children.add(child);
  let executed = 0;
  let lostLocks = 0;
  let lateCompletions = 0;
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  ready.catch(() => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      readyReject(new Error(`the worker process exited (${signal ?? code}) before it was ready`));
      resolve({ code, signal });
    });
  });
  let refreshed: (() => void)[] = [];
  child.on(
    'message',
    (m: { type?: string; executed?: number; lostLocks?: number; lateCompletions?: number }) => {
      if (m?.type === 'ready') readyResolve();
      else if (m?.type === 'executed' && typeof m.executed === 'number') {
        executed = m.executed;
        lostLocks = m.lostLocks ?? lostLocks;
        lateCompletions = m.lateCompletions ?? lateCompletions;
        const waiting = refreshed;
        refreshed = [];
        for (const r of waiting) r();
      }
    },
  );
  const refresh = () => {
    if (child.exitCode !== null || child.signalCode !== null || !child.connected) return Promise.resolve();
    return new Promise<void>((resolve) => {
      refreshed.push(resolve);
      void exited.then(() => resolve());
      child.send({ type: 'report' });
    });
  };
  const send = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    get pid() {
      return child.pid ?? -1;
    },
    get executed() {
      return executed;
    },
    get lostLocks() {
      return lostLocks;
    },
    get lateCompletions() {
      return lateCompletions;
    },
    refresh,
    ready,
    exited,
    stop: () => send('SIGTERM'),
    kill: () => send('SIGKILL'),
  };
}
