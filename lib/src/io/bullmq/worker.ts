import { channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import type { ConnectionOptions, Job, Worker } from 'bullmq';
import { DeferredSemaphore } from '../../blocks/semaphore/index.js';
import { checkFn, checkNonEmptyString, checkObject, checkWhole, describe } from '../../core/args.js';
import { checkConnection, withPatientRetries } from './connection.js';
import { bullmq } from './peers.js';
import {
  HEARTBEAT_MS,
  type JobData,
  resultsKey,
  runScript,
  type ScriptClient,
  toError,
  WORKERS_KEY,
} from './protocol.js';

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

/** What the job function learns about the job besides its item: enough to make a side effect idempotent. */
export interface JobInfo {
  /** The BullMQ job id: the same on every run of the same item (distributedStream's ids are `<run id>-<index>`). */
  readonly id: string;
  /** Which run of this job this is, from 1: a retry, or a re-run after a worker lost the job's lock, counts up. */
  readonly attempt: number;
  /** The queue name. */
  readonly queue: string;
}

/** A job whose lock this worker could not renew: another worker may take it (and run it again). */
export interface LockLostEvent {
  /** The BullMQ job id. */
  readonly jobId: string;
  /** The queue's name. */
  readonly queue: string;
}

/**
 * A job this worker finished after it had lost the job's lock: BullMQ refused the outcome (the job was taken back,
 * and ran or runs again elsewhere). The outcome still reached distributedStream if it was listening (its first
 * outcome wins); what the job did happened once more than the item's single outcome says.
 */
export interface LateCompletionEvent {
  /** The BullMQ job id. */
  readonly jobId: string;
  /** The queue's name. */
  readonly queue: string;
  /** Which run of the job finished late, from 1 (as {@link JobInfo.attempt}). */
  readonly attempt: number;
  /** BullMQ's refusal (`Missing lock for job …`, `Missing key for job …`). */
  readonly error: Error;
}

/** Events of {@link DistributedWorker}. */
export interface DistributedWorkerEvents {
  /** This worker could not renew a running job's lock: another worker may run the job again. */
  lockLost: [LockLostEvent];
  /** A job finished here after its lock was lost, and BullMQ refused its outcome. */
  lateCompletion: [LateCompletionEvent];
  /** Any other error BullMQ reported that is not about the connection (those are retried: see `connectionErrors`). */
  workerError: [Error];
}

/** A running worker: see {@link runWorker}. */
export interface DistributedWorker extends EventEmitter<DistributedWorkerEvents> {
  /** The BullMQ worker underneath. */
  readonly worker: Worker;
  /** How many jobs this worker has started, retries and re-runs included. */
  readonly executed: number;
  /** How many jobs run here now. */
  readonly running: number;
  /** How many job locks this worker failed to renew (`lockLost` events). */
  readonly lostLocks: number;
  /** How many jobs finished here after their lock was lost (`lateCompletion` events). */
  readonly lateCompletions: number;
  /** How many connection errors BullMQ reported (they are retried: a Redis restart or a partition shows here). */
  readonly connectionErrors: number;
  /** Stops taking jobs, waits for the running ones, and disconnects. */
  close(): Promise<void>;
}

/**
 * Lost locks and late completions are also published on this `node:diagnostics_channel` channel, as
 * `{ type: 'lockLost' | 'lateCompletion', queue, jobId, worker }`.
 */
export const WORKER_DIAGNOSTICS_CHANNEL = 'async-batching:bullmq:worker';
const diagnostics = channel(WORKER_DIAGNOSTICS_CHANNEL);

/**
 * A worker's connection (made from ioredis options) that waits this long, in ms, for an answer is taken for dead and
 * made again: a worker cut off from Redis notices, and once its network returns it is connected again within about a
 * second, instead of waiting for TCP's retransmission back-off (which had a healed worker idle 5.7 s).
 */
const WORKER_SOCKET_TIMEOUT = 3_000;

// BullMQ's error codes for a job this worker no longer owns: missing job, missing lock, lock of another worker.
const NOT_OURS = new Set([-1, -2, -6]);
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOENT',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function isConnectionError(e: Error): boolean {
  const code = (e as { code?: unknown }).code;
  return (
    (typeof code === 'string' && CONNECTION_CODES.has(code)) ||
    /Connection is closed|connect ETIMEDOUT|Socket timeout|ECONNREFUSED|ECONNRESET/.test(e.message)
  );
}

/**
 * Runs `fn(item, job)` for the jobs of `queue` that {@link distributedStream} adds, at most `concurrency` at once. `fn`
 * may return a value, a Promise or a Deferred; a throw or a failure fails the job (its message travels back, whatever
 * was thrown: `null` and strings included). The value travels back as JSON. `job` gives the job id and the attempt, so
 * a side effect can be made idempotent: delivery is at least once. Unless a job's own options say otherwise, a
 * completed job is removed as it completes (its outcome went to its producer) and a failed one is kept at most a day.
 *
 * Lost locks and late completions are counted, emitted (`lockLost`, `lateCompletion`), published on
 * {@link WORKER_DIAGNOSTICS_CHANNEL}, and, when nothing listens for the event, written as a process warning.
 */
export function runWorker<T, R>(
  queue: string,
  fn: (item: T, job: JobInfo) => R | PromiseLike<R>,
  options: RunWorkerOptions,
): DistributedWorker {
  checkNonEmptyString(queue, 'queue');
  checkFn(fn, 'fn');
  checkObject(options, 'options');
  checkConnection(options.connection, 'options.connection');
  const concurrency = checkWhole(options.concurrency ?? 1, 'options.concurrency', 1);
  const lockDuration = checkWhole(options.lockDuration ?? 4_000, 'options.lockDuration', 100);
  const stalledInterval = checkWhole(options.stalledInterval ?? 2_000, 'options.stalledInterval', 100);
  const maxStalledCount = checkWhole(options.maxStalledCount ?? 3, 'options.maxStalledCount', 0);
  if (options.name !== undefined && typeof options.name !== 'string') {
    throw new TypeError(`Expected \`options.name\` to be a string, got ${describe(options.name)}`);
  }
  const sem = new DeferredSemaphore(concurrency);
  const events = new EventEmitter<DistributedWorkerEvents>();
  let executed = 0;
  let running = 0;
  let lostLocks = 0;
  let lateCompletions = 0;
  let connectionErrors = 0;
  // Jobs whose function has returned here and whose outcome BullMQ has not yet recorded: the candidates for a late
  // completion, with the attempt they were.
  const finishing = new Map<string, number>();

  const report = <K extends 'lockLost' | 'lateCompletion'>(type: K, event: DistributedWorkerEvents[K][0]) => {
    if (diagnostics.hasSubscribers) {
      diagnostics.publish({ type, queue, jobId: event.jobId, worker: options.name ?? worker.id });
    }
    if (events.listenerCount(type) > 0) (events.emit as (t: K, e: typeof event) => boolean)(type, event);
    else {
      process.emitWarning(
        type === 'lockLost'
          ? `async-batching/bullmq: worker lost the lock of job ${event.jobId} on queue ${queue}; another worker may run it again`
          : `async-batching/bullmq: job ${event.jobId} on queue ${queue} finished after its lock was lost; BullMQ refused the outcome`,
        { code: type === 'lockLost' ? 'AB_BULLMQ_LOCK_LOST' : 'AB_BULLMQ_LATE_COMPLETION' },
      );
    }
  };

  // Which jobs started in a slot that had found no job waiting. BullMQ hands a slot's next job over in the same
  // script that records the previous one's outcome, under the same lock token; a slot that found the queue empty
  // fetches again later under a new token. So a token not seen before marks a slot that ran dry (or the first job
  // of a slot), and the producers of those jobs learn of it with their outcomes. Tokens of live slots are at the back
  // of the set (each use moves its token there); the oldest beyond a few times `concurrency` are dead and dropped.
  const tokens = new Set<string>();
  const startedDry = new WeakSet<Job>();
  const keptTokens = 4 * concurrency + 16;
  const client = async () => (await worker.getBackend().client) as unknown as ScriptClient;
  const worker: Worker<JobData<T>, R> = new bullmq.Worker<JobData<T>, R>(
    queue,
    async (job: Job<JobData<T>, R>, token?: string) => {
      executed++;
      running++;
      if (token !== undefined) {
        if (!tokens.delete(token)) startedDry.add(job);
        tokens.add(token);
        if (tokens.size > keptTokens) tokens.delete(tokens.values().next().value as string);
      }
      const id = job.id ?? '';
      const attempt = Math.max(1, job.attemptsStarted);
      try {
        return (await sem.run(fn, job.data.item, { id, attempt, queue })) as R;
      } catch (e) {
        throw toError(e);
      } finally {
        finishing.set(id, attempt);
        running--;
      }
    },
    {
      connection: withPatientRetries(options.connection, WORKER_SOCKET_TIMEOUT),
      // An idle worker's blocking wait for a job lasts 1 s (BullMQ's default is 5 s), well inside the socket timeout.
      drainDelay: 1,
      concurrency,
      lockDuration,
      stalledInterval,
      maxStalledCount,
      name: options.name,
      // Unless a job's own options say otherwise: a completed job's outcome goes to its producer's results stream, so
      // the job itself is not needed; a failed one is removed once its producer reads the outcome, and the age limit
      // only cleans up after a producer that died.
      removeOnComplete: { count: 0 },
      removeOnFail: { age: 86_400 },
    },
  );
  // Outcomes go to the producer's results stream once BullMQ has recorded them (and removed the completed job), so
  // Redis never holds more of a run's jobs than its window. A worker that dies in between leaves a job that is gone
  // with no outcome: the producer adds it again (at least once). Only the producer creates the stream: once it has
  // ended, nothing is written.
  // Outcomes that finish within the same millisecond share one script call and one stream entry: fewer Redis commands
  // per job, and fewer entries for the producer to read. An entry ends with `d <count>` when that many of its jobs
  // started in a slot that had run dry.
  const pending = new Map<string, { fields: string[]; waiters: ((added: unknown) => void)[]; dry: number }>();
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    const batches = [...pending];
    pending.clear();
    for (const [run, { fields, waiters, dry }] of batches) {
      if (dry > 0) fields.push('d', String(dry));
      client()
        .then((c) => runScript(c, 'abReport', worker.toKey(resultsKey(run)), fields))
        .then(
          (added) => {
            for (const w of waiters) w(added);
          },
          (e: unknown) => onError(toError(e)),
        );
    }
  };
  const reportOutcome = (run: string, job: Job, fields: string[]) =>
    new Promise<unknown>((resolve) => {
      let batch = pending.get(run);
      if (batch === undefined) {
        batch = { fields: [], waiters: [], dry: 0 };
        pending.set(run, batch);
      }
      if (startedDry.delete(job)) batch.dry++;
      batch.fields.push(...fields);
      batch.waiters.push(resolve);
      if (!flushScheduled) {
        flushScheduled = true;
        setTimeout(flush, 1);
      }
    });
  worker.on('completed', (job, value) => {
    if (job.id === undefined) return;
    finishing.delete(job.id);
    const run = job.data?.run;
    if (typeof run !== 'string') return;
    const json = value === undefined ? undefined : JSON.stringify(value);
    reportOutcome(run, job, ['j', job.id, ...(json === undefined ? ['u', ''] : ['v', json])]).catch(
      (e: unknown) => onError(toError(e)),
    );
  });
  worker.on('failed', (job, err) => {
    if (job === undefined || job.id === undefined) return;
    finishing.delete(job.id);
    const run = job.data?.run;
    // A job with attempts left goes back to waiting; only a failure that is final is an outcome.
    if (typeof run !== 'string' || !job.finishedOn) return;
    const jobId = job.id;
    (async () => {
      const added = await reportOutcome(run, job, [
        'j',
        jobId,
        'e',
        job.failedReason ?? err.message,
        'a',
        String(job.attemptsMade),
      ]);
      // Nobody reads that run's outcomes any more (it ended, or the consumer broke out of it): nobody will remove
      // the failed job either, so it goes now instead of staying for its 24 hours.
      if (added === null) await job.remove();
    })().catch((e: unknown) => onError(toError(e)));
  });
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const jobId of jobIds) {
      lostLocks++;
      report('lockLost', { jobId, queue });
    }
  });
  // BullMQ emits its errors on the worker; unhandled, an 'error' event would end the process. Connection errors are
  // retried by ioredis (a Redis restart, a partition) and counted; a refused late outcome is a `lateCompletion`; any
  // other error is a `workerError`, or a process warning when nothing listens.
  const onError = (e: Error) => {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && NOT_OURS.has(code)) {
      const jobId = [...finishing.keys()].find((id) => e.message.includes(`job ${id}`));
      if (jobId === undefined) return; // the same refusal again, for the failure BullMQ tried next
      const attempt = finishing.get(jobId) ?? 1;
      finishing.delete(jobId);
      lateCompletions++;
      report('lateCompletion', { jobId, queue, attempt, error: e });
      return;
    }
    if (/could not renew lock for job/.test(e.message)) return; // counted by 'lockRenewalFailed'
    if (isConnectionError(e)) {
      connectionErrors++;
      return;
    }
    if (events.listenerCount('workerError') > 0) events.emit('workerError', e);
    else
      process.emitWarning(`async-batching/bullmq: worker on queue ${queue}: ${e.message}`, {
        code: 'AB_BULLMQ_WORKER_ERROR',
      });
  };
  worker.on('error', onError);

  // The worker announces its concurrency, so that distributedStream's default window keeps every slot busy.
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const member = `${worker.id}|${concurrency}`;
  const announce = async () => {
    await runScript(await client(), 'abAnnounce', worker.toKey(WORKERS_KEY), [
      String(Date.now() + 3 * HEARTBEAT_MS),
      member,
    ]);
  };
  worker
    .waitUntilReady()
    .then(() => {
      if (closing !== null) return;
      announce().catch(() => {});
      heartbeat = setInterval(() => announce().catch(() => {}), HEARTBEAT_MS);
      heartbeat.unref?.();
    })
    .catch(() => {});

  let closing: Promise<void> | null = null;
  const close = () => {
    if (closing === null) {
      clearInterval(heartbeat);
      closing = (async () => {
        await Promise.race([
          client()
            .then((c) => runScript(c, 'abWithdraw', worker.toKey(WORKERS_KEY), [member]))
            .catch(() => {}),
          new Promise((r) => setTimeout(r, 1_000).unref?.()),
        ]);
        await worker.close();
      })();
    }
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
  return Object.defineProperties(events, {
    worker: { value: worker, enumerable: true },
    executed: { get: () => executed, enumerable: true },
    running: { get: () => running, enumerable: true },
    lostLocks: { get: () => lostLocks, enumerable: true },
    lateCompletions: { get: () => lateCompletions, enumerable: true },
    connectionErrors: { get: () => connectionErrors, enumerable: true },
    close: { value: close },
  }) as DistributedWorker;
}
