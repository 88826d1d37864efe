import { randomUUID } from 'node:crypto';
import { type ConnectionOptions, Job, type JobsOptions, Queue, QueueEvents } from 'bullmq';
import { CancelledError, DistributedJobError } from '../../core/errors.js';
import { Failure } from '../../core/failure.js';
import { checkConnection, withPatientRetries } from './connection.js';

/** One item's outcome, in completion order — the same shape as `parallelStream`'s. */
export type DistributedOutcome<T, R> =
  | { index: number; item: T; ok: true; value: R }
  | { index: number; item: T; ok: false; failure: Failure };

/** Options of {@link distributedStream}. */
export interface DistributedStreamOptions {
  /** The BullMQ queue name; workers started with {@link runWorker} on the same name run the jobs. */
  queue: string;
  /** How to reach Redis: ioredis options (`{ path: '/tmp/…/redis.sock' }`, `{ host, port }`) or a client. */
  connection: ConnectionOptions;
  /**
   * At most this many items are pulled and not yet handed to the consumer: jobs outstanding in Redis (waiting, active
   * or delayed) plus outcomes waiting for the consumer. Default 100.
   */
  window?: number;
  /** Aborting it stops pulling items, removes the jobs not yet started, waits for the running ones, then the
   * iteration throws {@link CancelledError}. */
  signal?: AbortSignal;
  /** BullMQ options for every job (`attempts`, `backoff`, `priority`…). `jobId` is this function's own. */
  jobOptions?: Omit<JobsOptions, 'jobId'>;
  /** The job name. Default `'item'`. */
  jobName?: string;
  /**
   * How often, in ms, outstanding jobs are also looked up directly in Redis, in case an event was missed (events are
   * the fast path; this is the safety net across a Redis restart). Default 1,000.
   */
  pollInterval?: number;
}

interface Outstanding<T> {
  index: number;
  item: T;
  since: number;
}

function checkWhole(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be a whole number >= ${min}, got ${String(value)}`);
  }
  return value;
}

/**
 * The walkthrough's lazy recipe across machines: pulls `items` (any iterable or async iterable) one at a time, keeps at
 * most `window` of them outstanding as BullMQ jobs in Redis, and yields each item's outcome as its job finishes on
 * whichever worker ran it. Items are sent as job data, so they must survive JSON.
 *
 * - Exactly one outcome per item, even when a job runs twice (BullMQ delivers at least once: a job whose worker died
 *   is run again by another).
 * - Results come back through BullMQ's own mechanisms: the `completed`/`failed` events of `QueueEvents`, with a
 *   periodic look-up of the job itself as a safety net for an event lost across a Redis restart.
 * - Every run uses job ids of its own, so rerunning the same batch never waits on ids that already completed.
 * - A settled job is removed from Redis, so memory there stays bounded by the window too.
 */
export function distributedStream<T, R = unknown>(
  items: Iterable<T> | AsyncIterable<T>,
  options: DistributedStreamOptions,
): AsyncGenerator<DistributedOutcome<T, R>, void, undefined> {
  if (
    items === null ||
    typeof items !== 'object' ||
    !(Symbol.iterator in items || Symbol.asyncIterator in items)
  ) {
    throw new TypeError('Expected `items` to be an iterable or an async iterable');
  }
  if (options === null || typeof options !== 'object')
    throw new TypeError('Expected `options` to be an object');
  if (typeof options.queue !== 'string' || options.queue === '') {
    throw new TypeError('Expected `options.queue` to be a non-empty string');
  }
  checkConnection(options.connection, 'options.connection');
  const window = checkWhole(options.window ?? 100, 'options.window', 1);
  const pollInterval = checkWhole(options.pollInterval ?? 1_000, 'options.pollInterval', 1);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError('Expected `options.signal` to be an AbortSignal');
  }
  if (
    options.jobOptions !== undefined &&
    (options.jobOptions === null || typeof options.jobOptions !== 'object')
  ) {
    throw new TypeError('Expected `options.jobOptions` to be an object');
  }
  const jobName = options.jobName ?? 'item';
  if (typeof jobName !== 'string' || jobName === '')
    throw new TypeError('Expected `options.jobName` to be a string');
  return run<T, R>(items, options, window, pollInterval, jobName);
}

async function* run<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  options: DistributedStreamOptions,
  window: number,
  pollInterval: number,
  jobName: string,
): AsyncGenerator<DistributedOutcome<T, R>, void, undefined> {
  const { signal } = options;
  signal?.throwIfAborted();
  const connection = withPatientRetries(options.connection);
  const queue = new Queue(options.queue, { connection });
  const events = new QueueEvents(options.queue, { connection });
  const runId = randomUUID();
  const outstanding = new Map<string, Outstanding<T>>();
  // Settled jobs are removed by this stream itself; the age limits only clean up after a producer that died.
  const jobOptionsFor = (jobId: string): JobsOptions => ({
    removeOnComplete: { age: 86_400 },
    removeOnFail: { age: 86_400 },
    ...options.jobOptions,
    jobId,
  });
  const ready: DistributedOutcome<T, R>[] = [];
  let settledIds: string[] = [];
  let wake: (() => void) | null = null;
  let background: Error | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };

  const settle = (jobId: string, outcome: { ok: true; value: R } | { ok: false; failure: Failure }) => {
    const entry = outstanding.get(jobId);
    if (entry === undefined) return; // a second execution of the same job, or another run's job
    outstanding.delete(jobId);
    ready.push({ index: entry.index, item: entry.item, ...outcome });
    settledIds.push(jobId);
    notify();
  };
  // A job that failed but has attempts left goes back to waiting; only a job in the failed state is final.
  const settleIfFailed = async (jobId: string, reason: string) => {
    const job = await Job.fromId(queue, jobId);
    if (job !== undefined && (await job.getState()) === 'failed') {
      settle(jobId, {
        ok: false,
        failure: new Failure(new DistributedJobError(reason, jobId, job.attemptsMade)),
      });
    }
  };
  const fail = (e: unknown) => {
    background ??= e instanceof Error ? e : new Error(String(e));
    notify();
  };
  events.on('completed', ({ jobId, returnvalue }) => settle(jobId, { ok: true, value: returnvalue as R }));
  events.on('failed', ({ jobId, failedReason }) => {
    if (outstanding.has(jobId)) settleIfFailed(jobId, failedReason).catch(fail);
  });
  // Connection errors while Redis restarts are retried by ioredis; they must not crash the process as unhandled
  // 'error' events would.
  events.on('error', () => {});
  queue.on('error', () => {});

  // The safety net: look the oldest outstanding jobs up in Redis.
  const reconcile = async () => {
    const due = Date.now() - pollInterval;
    const ids: string[] = [];
    for (const [id, entry] of outstanding) {
      if (entry.since > due || ids.length >= 200) break;
      ids.push(id);
    }
    await Promise.all(
      ids.map(async (id) => {
        const job = await Job.fromId(queue, id);
        if (job === undefined) {
          // Redis lost the job (a crash under `appendfsync everysec` can lose the last second of writes): it was
          // never settled, so it is added again. Delivery stays at least once; the outcome still comes once.
          const entry = outstanding.get(id);
          if (entry !== undefined) {
            await queue.add(jobName, { item: entry.item }, jobOptionsFor(id));
          }
          return;
        }
        const state = await job.getState();
        if (state === 'completed') settle(id, { ok: true, value: job.returnvalue as R });
        else if (state === 'failed') {
          settle(id, {
            ok: false,
            failure: new Failure(new DistributedJobError(job.failedReason, id, job.attemptsMade)),
          });
        } else {
          const entry = outstanding.get(id);
          if (entry !== undefined) entry.since = Date.now();
          outstanding.delete(id);
          if (entry !== undefined) outstanding.set(id, entry); // to the back of the line
        }
      }),
    );
  };
  const removeSettled = async () => {
    if (settledIds.length === 0) return;
    const ids = settledIds;
    settledIds = [];
    await Promise.all(ids.map((id) => queue.remove(id)));
  };

  const onAbort = () => notify();
  signal?.addEventListener('abort', onAbort, { once: true });
  const iterator: Iterator<T> | AsyncIterator<T> =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]();
  let exhausted = false;
  let nextIndex = 0;
  const refill = Math.max(1, Math.floor(window / 8));
  let completed = false;
  try {
    await events.waitUntilReady();
    for (;;) {
      if (background !== null) throw background;
      if (signal?.aborted) break;
      // Top the window up in one round trip, once an eighth of it is free (one `addBulk` per outcome would make the
      // producer's round trips the bottleneck: the distributed bench rows).
      const batch: { name: string; data: { item: T }; opts: JobsOptions }[] = [];
      const free = window - outstanding.size - ready.length;
      while (!exhausted && free >= refill && outstanding.size + ready.length + batch.length < window) {
        const step = await iterator.next();
        if (step.done) {
          exhausted = true;
          break;
        }
        const index = nextIndex++;
        const jobId = `${runId}-${index}`;
        outstanding.set(jobId, { index, item: step.value, since: Date.now() });
        batch.push({ name: jobName, data: { item: step.value }, opts: jobOptionsFor(jobId) });
      }
      if (batch.length > 0) await queue.addBulk(batch);
      if (ready.length > 0) {
        // Settled jobs leave Redis in batches; one outcome at a time, so an abort is seen between two of them.
        if (settledIds.length >= 64) removeSettled().catch(fail);
        yield ready.shift() as DistributedOutcome<T, R>;
        continue;
      }
      if (exhausted && outstanding.size === 0) break;
      removeSettled().catch(fail);
      await new Promise<void>((resolve) => {
        wake = resolve;
        const timer = setTimeout(() => {
          if (wake === resolve) {
            wake = null;
            reconcile().then(resolve, (e) => {
              fail(e);
              resolve();
            });
          }
        }, pollInterval);
        timer.unref?.();
      });
    }
    if (signal?.aborted) {
      await drainAfterAbort(queue, outstanding, reconcile, pollInterval);
      throw new CancelledError('The operation was aborted', { cause: signal.reason });
    }
    completed = true;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!completed) {
      // Stopped early (abort, break, or an error): the jobs nobody started are taken back.
      await Promise.allSettled([...outstanding.keys()].map((id) => queue.remove(id)));
      if (typeof iterator.return === 'function') {
        try {
          await iterator.return();
        } catch {
          // The input's own clean-up failing must not hide why the stream stopped.
        }
      }
    }
    await removeSettled().catch(() => {});
    await Promise.allSettled([events.close(), queue.close()]);
  }
}

/**
 * After an abort: remove every outstanding job that has not started, and wait for the running ones to finish (or to
 * come back as stalled, and then be removed), so that nothing of this run is left in Redis or running.
 */
async function drainAfterAbort<T>(
  queue: Queue,
  outstanding: Map<string, Outstanding<T>>,
  reconcile: () => Promise<void>,
  pollInterval: number,
): Promise<void> {
  for (;;) {
    const removed = await Promise.all(
      [...outstanding.keys()].map(async (id) => [id, await queue.remove(id)] as const),
    );
    for (const [id, n] of removed) if (n === 1) outstanding.delete(id);
    if (outstanding.size === 0) return;
    for (const entry of outstanding.values()) entry.since = 0;
    await reconcile();
    if (outstanding.size === 0) return;
    await new Promise((r) => setTimeout(r, Math.min(pollInterval, 250)));
  }
}
