import { type ConnectionOptions, Worker } from 'bullmq';
import { DeferredSemaphore } from '../../blocks/semaphore/index.js';
import { checkConnection, withPatientRetries } from './connection.js';

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  /** How to reach Redis: ioredis options (`{ path: socket }`) or a client. */
  connection: ConnectionOptions;
  /** How many jobs this worker runs at once (a local `DeferredSemaphore` of this size). Default 1. */
  concurrency?: number;
  /**
   * How long a running job's lock lasts, in ms; the worker renews it at half this interval while the job runs. A
   * worker that dies stops renewing, so its jobs are taken back after about `lockDuration + stalledInterval`. Default
   * 4,000 (BullMQ's own is 30,000). Raise it for jobs that block the event loop for long stretches.
   */
  lockDuration?: number;
  /** How often, in ms, workers look for jobs whose lock expired. Default 2,000 (BullMQ's own is 30,000). */
  stalledInterval?: number;
  /** How many times a job may be taken back from a dead worker before it fails. Default 3. */
  maxStalledCount?: number;
  /** A name for this worker, stored with the jobs it runs (`job.processedBy`). */
  name?: string;
  /** Close gracefully (finish the running jobs, take no new ones) on SIGTERM and SIGINT, then exit. Default false. */
  closeOnSignals?: boolean;
}

/** A running worker: see {@link runWorker}. */
export interface DistributedWorker {
  /** The BullMQ worker underneath. */
  readonly worker: Worker;
  /** How many jobs this worker has started, retries and re-runs included. */
  readonly executed: number;
  /** How many jobs run here now. */
  readonly running: number;
  /** Stops taking jobs, waits for the running ones, and disconnects. */
  close(): Promise<void>;
}

function checkWhole(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be a whole number >= ${min}, got ${String(value)}`);
  }
  return value;
}

/**
 * Runs `fn(item)` for the jobs of `queue` that {@link distributedStream} adds, at most `concurrency` at once. `fn` may
 * return a value, a Promise or a Deferred; a throw or a failure fails the job (its message travels back). The value
 * travels back as JSON.
 */
export function runWorker<T, R>(
  queue: string,
  fn: (item: T) => R | PromiseLike<R>,
  options: RunWorkerOptions,
): DistributedWorker {
  if (typeof queue !== 'string' || queue === '')
    throw new TypeError('Expected `queue` to be a non-empty string');
  if (typeof fn !== 'function') throw new TypeError(`Expected \`fn\` to be a function, got ${typeof fn}`);
  if (options === null || typeof options !== 'object')
    throw new TypeError('Expected `options` to be an object');
  checkConnection(options.connection, 'options.connection');
  const concurrency = checkWhole(options.concurrency ?? 1, 'options.concurrency', 1);
  const lockDuration = checkWhole(options.lockDuration ?? 4_000, 'options.lockDuration', 100);
  const stalledInterval = checkWhole(options.stalledInterval ?? 2_000, 'options.stalledInterval', 100);
  const maxStalledCount = checkWhole(options.maxStalledCount ?? 3, 'options.maxStalledCount', 0);
  if (options.name !== undefined && typeof options.name !== 'string') {
    throw new TypeError('Expected `options.name` to be a string');
  }
  const sem = new DeferredSemaphore(concurrency);
  let executed = 0;
  let running = 0;
  const worker = new Worker<{ item: T }, R>(
    queue,
    async (job) => {
      executed++;
      running++;
      try {
        return (await sem.run(fn, job.data.item)) as R;
      } finally {
        running--;
      }
    },
    {
      connection: withPatientRetries(options.connection),
      concurrency,
      lockDuration,
      stalledInterval,
      maxStalledCount,
      name: options.name,
    },
  );
  // Connection errors while Redis restarts are retried; unhandled, an 'error' event would end the process.
  worker.on('error', () => {});
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= worker.close();
    return closing;
  };
  if (options.closeOnSignals === true) {
    const onSignal = () => {
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return {
    worker,
    get executed() {
      return executed;
    },
    get running() {
      return running;
    },
    close,
  };
}
