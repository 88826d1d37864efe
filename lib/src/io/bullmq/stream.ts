import { randomBytes } from 'node:crypto';
import type { ConnectionOptions, JobsOptions } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import type { ParallelOutcome } from '../../compositions/parallel/options.js';
import { checkIterable, checkNonEmptyString, checkObject, checkSignal, checkWhole } from '../../core/args.js';
import { channels } from '../../core/diagnostics.js';
import { CancelledError } from '../../core/errors.js';
import { Failure } from '../../core/failure.js';
import { CONNECTION_DEFAULTS, checkConnection, withPatientRetries } from './connection.js';
import { DistributedJobError } from './errors.js';
import { bullmq, ioredis } from './peers.js';
import { type JobData, resultsKey, WORKERS_KEY } from './protocol.js';

/** One item's outcome, in completion order — the same shape as `parallelStream`'s. */
export type DistributedOutcome<T, R> = ParallelOutcome<T, R>;

/** Options of {@link distributedStream}. */
export interface DistributedStreamOptions {
  /** The BullMQ queue name; workers started with {@link runWorker} on the same name run the jobs. */
  queue: string;
  /** How to reach Redis: ioredis options (`{ path: '/tmp/…/redis.sock' }`, `{ host, port }`) or a client. */
  connection: ConnectionOptions;
  /**
   * At most this many items are pulled and not yet handed to the consumer: jobs outstanding in Redis (waiting, active
   * or delayed) plus outcomes waiting for the consumer. The stream tops it up to exactly this many, in one `addBulk`,
   * whenever an eighth of it is free. Default: twice the total concurrency of the workers started with `runWorker`
   * that are registered on the queue (each slot running one job with the next one waiting), re-read every
   * `pollInterval`, and at least 16. It doubles, up to eight times the total concurrency, when the workers report jobs
   * that started in a slot that had found the queue empty while this stream had items left and its consumer was not
   * the slow part (it held the outcomes less than half the time): the refill took longer than the jobs waiting in
   * Redis lasted, on a loaded machine for instance, and a deeper window covers it.
   */
  window?: number;
  /** Aborting it stops pulling items, removes the jobs not yet started, waits for the running ones (at most
   * `cleanupTimeout`), then the iteration throws {@link CancelledError}. */
  signal?: AbortSignal;
  /**
   * How long, in ms, the clean-up after an abort, a `break` or an error may take, whatever Redis does (it may be down).
   * What could not be cleaned up in that time is named: in the {@link CancelledError}'s message after an abort, in a
   * process warning after a `break`. Default 10,000.
   */
  cleanupTimeout?: number;
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
  /** How many times the job was found gone from Redis with no outcome, and added again. */
  lost: number;
  /** Found gone with no outcome at the last look: lost, if it still is at the next. */
  gone: boolean;
  /** Its `bullmq:added` message is published (once its `addBulk` answered, or before its outcome's if that came first). */
  announced: boolean;
}

/** The smallest default window, while few or no workers are registered. */
const MIN_WINDOW = 16;
/** The default window starts at this many times the registered workers' total concurrency... */
const START_DEPTH = 2;
/** ...and doubles when a worker runs dry, to at most this many times it. */
const MAX_DEPTH = 8;
/** How long a run's results stream lives without its producer renewing it, in ms (its producer died). */
const STREAM_TTL = 86_400_000;
/** How many times a job may vanish from Redis without an outcome before its item fails. */
const MAX_LOST = 3;

/**
 * The walkthrough's lazy recipe across machines: pulls `items` (any iterable or async iterable) one at a time, keeps at
 * most `window` of them outstanding as BullMQ jobs in Redis, and yields each item's outcome as its job finishes on
 * whichever worker ran it. Items are sent as job data, so they must survive JSON.
 *
 * - Exactly one outcome per item, even when a job runs twice (BullMQ delivers at least once: a job whose worker died
 *   is run again by another).
 * - Outcomes come back through one Redis stream per run that only the workers of {@link runWorker} write to, one entry
 *   per outcome, with a periodic look-up of the oldest outstanding jobs as a safety net (a job Redis lost in a crash is
 *   added again).
 * - Every run uses job ids of its own, so rerunning the same batch never waits on ids that already completed.
 * - A completed job is removed by its worker as it completes, a failed one once its outcome is read, so memory in
 *   Redis stays bounded by the window too.
 */
export function distributedStream<T, R = unknown>(
  items: Iterable<T> | AsyncIterable<T>,
  options: DistributedStreamOptions,
): AsyncGenerator<DistributedOutcome<T, R>, void, undefined> {
  checkIterable(items, 'items');
  checkObject(options, 'options');
  checkNonEmptyString(options.queue, 'options.queue');
  checkConnection(options.connection, 'options.connection');
  const window = options.window === undefined ? undefined : checkWhole(options.window, 'options.window', 1);
  const cleanupTimeout = checkWhole(options.cleanupTimeout ?? 10_000, 'options.cleanupTimeout', 0);
  const pollInterval = checkWhole(options.pollInterval ?? 1_000, 'options.pollInterval', 1);
  checkSignal(options.signal, 'options.signal');
  if (options.jobOptions !== undefined) checkObject(options.jobOptions, 'options.jobOptions');
  const jobName = checkNonEmptyString(options.jobName ?? 'item', 'options.jobName');
  return run<T, R>(items, options, { window, pollInterval, jobName, cleanupTimeout });
}

interface RunSettings {
  /** Fixed by the caller, or undefined for the default that follows the registered workers. */
  window: number | undefined;
  pollInterval: number;
  jobName: string;
  cleanupTimeout: number;
}

type Settled<R> = { ok: true; value: R } | { ok: false; failure: Failure };

/** One more connection like the caller's: a duplicate of a client passed in, or a new client from ioredis options. */
function connectionLike(connection: ConnectionOptions): Redis {
  const client = connection as { duplicate?: () => Redis };
  const redis =
    typeof client.duplicate === 'function'
      ? client.duplicate()
      : new ioredis.Redis({ ...CONNECTION_DEFAULTS, ...(connection as RedisOptions) });
  // Connection errors are retried by ioredis; unhandled, an 'error' event would end the process.
  redis.on('error', () => {});
  return redis;
}

/** Resolves with `p`'s value, or with `undefined` once `signal` aborts or `deadline` passes, whichever comes first. */
function until<V>(
  p: Promise<V>,
  { signal, deadline }: { signal?: AbortSignal; deadline?: number },
): Promise<V | undefined> {
  return new Promise<V | undefined>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      stop();
      resolve(undefined);
    };
    if (signal?.aborted) return resolve(undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (deadline !== undefined) timer = setTimeout(onAbort, Math.max(0, deadline - Date.now()));
    p.then(
      (v) => {
        stop();
        resolve(v);
      },
      (e: unknown) => {
        stop();
        reject(e);
      },
    );
  });
}

function idList(ids: string[]): string {
  const shown = ids.slice(0, 5).join(', ');
  return ids.length > 5 ? `${shown} and ${ids.length - 5} more` : shown;
}

async function* run<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  options: DistributedStreamOptions,
  settings: RunSettings,
): AsyncGenerator<DistributedOutcome<T, R>, void, undefined> {
  const { pollInterval, jobName, cleanupTimeout } = settings;
  const { signal } = options;
  signal?.throwIfAborted();
  const queue = new bullmq.Queue(options.queue, { connection: withPatientRetries(options.connection) });
  queue.on('error', () => {});
  // Commands of this stream's own (the safety net, the stream's upkeep), and a connection that blocks on XREAD.
  const cmd = connectionLike(options.connection);
  const reader = connectionLike(options.connection);
  // 96 random bits, short: job ids, keys and job data stay small, so Redis keeps each job's hash in its compact
  // encoding (values of at most 64 bytes), as it does for raw BullMQ's jobs.
  const runId = randomBytes(12).toString('base64url');
  const streamKey = queue.toKey(resultsKey(runId));
  const workersKey = queue.toKey(WORKERS_KEY);
  const failedKey = queue.toKey('failed');
  const outstanding = new Map<string, Outstanding<T>>();
  // Only the id: runWorker's workers remove a completed job as they record it and keep a failed one a day at most (it
  // goes once its outcome is read), which options here would repeat in every job's stored options.
  const jobOptionsFor = (jobId: string): JobsOptions => ({ ...options.jobOptions, jobId });
  const dataFor = (item: T): JobData<T> => ({ item, run: runId });
  const ready: DistributedOutcome<T, R>[] = [];
  let failedIds: string[] = [];
  let wake: (() => void) | null = null;
  let background: Error | null = null;
  let stopping = false;
  let window = settings.window ?? MIN_WINDOW;
  // The default window: `depth` times the registered workers' total concurrency (`slots`).
  let slots = 0;
  let depth = START_DEPTH;
  // Outcomes handed to the consumer and the time it spent with them (between a `yield` and the next request), in
  // all and when the window last grew (or the first outcome was handed over).
  let yielded = 0;
  let consumerMs = 0;
  const grown = { yielded: 0, consumerMs: 0, at: 0 };
  let exhausted = false;
  const notify = () => wake?.();

  const settle = (jobId: string, outcome: Settled<R>) => {
    const entry = outstanding.get(jobId);
    if (entry === undefined) return; // a second execution of the same job, or an outcome read twice
    outstanding.delete(jobId);
    if (!entry.announced && channels.bullmqAdded.hasSubscribers) publishAdded(jobId, entry);
    if (channels.bullmqSettled.hasSubscribers) {
      channels.bullmqSettled.publish({
        queue: options.queue,
        jobId,
        index: entry.index,
        ok: outcome.ok,
        ...(outcome.ok ? {} : { error: outcome.failure.value }),
      });
    }
    ready.push({ index: entry.index, item: entry.item, ...outcome });
    notify();
  };
  /** Redis has the job: after its `addBulk`, or after a lost job is added again. */
  const publishAdded = (jobId: string, entry: Outstanding<T>) => {
    entry.announced = true;
    channels.bullmqAdded.publish({ queue: options.queue, jobId, index: entry.index });
  };
  const fail = (e: unknown) => {
    background ??= e instanceof Error ? e : new Error(String(e));
    notify();
  };
  const failureOf = (jobId: string, reason: string | undefined, attempts: string | null | undefined) =>
    new Failure(new DistributedJobError(reason ?? 'the job failed', jobId, Number(attempts ?? 0) || 0));
  /**
   * Jobs started in worker slots that had found the queue empty: those slots idled while this stream refilled. If the
   * stream has items left and its consumer is not the slow part (it held the outcomes for less than half the time
   * since the last step), a deeper default window keeps more jobs waiting in Redis, enough to cover the refill. Not
   * before a whole window has been handed over since the start or the last step: the first jobs of a run start in
   * idle slots anyway, and a deeper window needs a refill to show.
   */
  const grow = () => {
    if (settings.window !== undefined || exhausted || slots === 0 || depth >= MAX_DEPTH) return;
    if (yielded - grown.yielded < window) return;
    const now = performance.now();
    if (consumerMs - grown.consumerMs >= (now - grown.at) / 2) return;
    depth = Math.min(MAX_DEPTH, 2 * depth);
    grown.yielded = yielded;
    grown.consumerMs = consumerMs;
    grown.at = now;
    window = Math.max(MIN_WINDOW, depth * slots);
    notify();
  };
  // One stream entry holds one or more outcomes: `j <job id>` then `v <json>`, `u ''` or `e <reason> a <attempts>`;
  // then `d <count>` if some of those jobs started in a slot that had found the queue empty.
  const take = (flat: string[]) => {
    let i = 0;
    while (i + 3 < flat.length && flat[i] === 'j') {
      const jobId = flat[i + 1];
      const kind = flat[i + 2];
      const value = flat[i + 3];
      if (jobId === undefined || value === undefined) break;
      if (kind === 'e') {
        if (outstanding.has(jobId)) failedIds.push(jobId);
        settle(jobId, { ok: false, failure: failureOf(jobId, value, flat[i + 5]) });
        i += 6;
        continue;
      }
      if (kind === 'v') settle(jobId, { ok: true, value: JSON.parse(value) as R });
      else if (kind === 'u') settle(jobId, { ok: true, value: undefined as R });
      i += 4;
    }
    if (flat[i] === 'd') grow();
  };

  // The results stream: made here (workers never create it), read in order from its first entry.
  let lastId = '0-0';
  const makeStream = async () => {
    const id = await cmd.xadd(streamKey, '*', 's', runId);
    await cmd.pexpire(streamKey, STREAM_TTL);
    return id as string;
  };
  let readSinceTrim = 0;
  const readLoop = async () => {
    while (!stopping) {
      const answer = (await reader.xread(
        'COUNT',
        1_000,
        'BLOCK',
        pollInterval,
        'STREAMS',
        streamKey,
        lastId,
      )) as [string, [string, string[]][]][] | null;
      for (const [, entries] of answer ?? []) {
        for (const [id, flat] of entries) {
          lastId = id;
          readSinceTrim++;
          take(flat);
        }
      }
      if (readSinceTrim >= 256) {
        readSinceTrim = 0;
        cmd.xtrim(streamKey, 'MINID', lastId).catch(() => {});
      }
    }
  };
  // What the reader has not read yet, read now (the safety net needs the stream read up to this moment).
  const readNow = async () => {
    const entries = (await cmd.xrange(streamKey, `(${lastId}`, '+')) as [string, string[]][];
    for (const [, flat] of entries) take(flat);
  };

  const adaptWindow = (members: string[]) => {
    if (settings.window !== undefined) return;
    slots = 0;
    for (const m of members) slots += Number(m.slice(m.lastIndexOf('|') + 1)) || 0;
    window = Math.max(MIN_WINDOW, depth * slots);
  };
  const readWorkers = async () => {
    if (settings.window !== undefined) return;
    await cmd.zremrangebyscore(workersKey, '-inf', String(Date.now()));
    adaptWindow(await cmd.zrange(workersKey, '0', '-1'));
  };

  // The safety net, every pollInterval: the stream's upkeep, the registered workers, and the oldest outstanding jobs
  // looked up in Redis. A job that failed for good (or completed, if jobOptions keep completed jobs) is settled from
  // its hash; a job that is gone is settled from the stream, or, if the stream has no outcome for it, was lost by
  // Redis (a crash under `appendfsync everysec` can lose the last second of writes) and is added again.
  const reconcile = async () => {
    const due = Date.now() - pollInterval;
    const ids: string[] = [];
    for (const [id, entry] of outstanding) {
      if (entry.since > due || ids.length >= 500) break;
      ids.push(id);
    }
    const p = cmd.pipeline();
    p.pexpire(streamKey, STREAM_TTL);
    if (settings.window === undefined) {
      p.zremrangebyscore(workersKey, '-inf', String(Date.now()));
      p.zrange(workersKey, '0', '-1');
    }
    for (const id of ids) {
      p.exists(queue.toKey(id));
      p.hmget(queue.toKey(id), 'finishedOn', 'failedReason', 'returnvalue', 'atm');
      p.zscore(failedKey, id);
    }
    const answers = ((await p.exec()) ?? []).map(([e, v]) => {
      if (e) throw e;
      return v;
    });
    let at = 0;
    if (answers[at++] === 0) {
      // The stream is gone (Redis lost it, or it expired while nobody iterated): made again, read from its start.
      lastId = '0-0';
      await makeStream();
    }
    if (settings.window === undefined) {
      at++;
      adaptWindow(answers[at++] as string[]);
    }
    const gone: string[] = [];
    for (const id of ids) {
      const exists = answers[at++] as number;
      const [finishedOn, failedReason, returnvalue, atm] = answers[at++] as (string | null)[];
      const failed = answers[at++] !== null;
      if (exists === 0) gone.push(id);
      else if (failed) {
        if (outstanding.has(id)) failedIds.push(id);
        settle(id, { ok: false, failure: failureOf(id, failedReason ?? undefined, atm) });
      } else if (finishedOn !== null && finishedOn !== undefined) {
        settle(id, {
          ok: true,
          value: (returnvalue === null || returnvalue === undefined
            ? undefined
            : JSON.parse(returnvalue)) as R,
        });
      } else {
        const entry = outstanding.get(id);
        if (entry === undefined) continue;
        entry.gone = false;
        entry.since = Date.now();
        outstanding.delete(id);
        outstanding.set(id, entry); // to the back of the line
      }
    }
    if (gone.length === 0) return;
    // A worker writes a job's outcome just after BullMQ removes the completed job: read the stream up to now, and
    // call a job lost only when it is still gone with no outcome at the next look, a pollInterval later.
    await readNow();
    for (const id of gone) {
      const entry = outstanding.get(id);
      if (entry === undefined || stopping) continue;
      if (!entry.gone) {
        entry.gone = true;
        entry.since = 0;
        continue;
      }
      entry.gone = false;
      entry.lost++;
      entry.since = Date.now();
      if (entry.lost > MAX_LOST) {
        settle(id, {
          ok: false,
          failure: new Failure(
            new DistributedJobError(
              `the job left Redis ${MAX_LOST} times without an outcome: are the workers on this queue started with runWorker?`,
              id,
              0,
            ),
          ),
        });
      } else {
        await queue.add(jobName, dataFor(entry.item), jobOptionsFor(id));
        if (channels.bullmqAdded.hasSubscribers) publishAdded(id, entry);
      }
    }
  };
  let reconciling: Promise<void> | null = null;
  const reconcileOnce = () => {
    reconciling ??= reconcile().finally(() => {
      reconciling = null;
    });
    return reconciling;
  };
  const removeFailed = async () => {
    if (failedIds.length === 0) return;
    const ids = failedIds;
    failedIds = [];
    await Promise.all(ids.map((id) => queue.remove(id)));
  };

  const onAbort = () => notify();
  signal?.addEventListener('abort', onAbort, { once: true });
  const iterator: Iterator<T> | AsyncIterator<T> =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]();
  let nextIndex = 0;
  let completed = false;
  let reading: Promise<void> | undefined;
  try {
    const first = await until(makeStream(), { signal });
    if (first !== undefined) {
      lastId = first;
      reading = readLoop().catch((e: unknown) => {
        if (!stopping) fail(e);
      });
      await until(readWorkers(), { signal });
    }
    for (;;) {
      if (background !== null) throw background;
      if (signal?.aborted) break;
      // Top the window up to exactly `window` in one round trip, once an eighth of it is free (one `addBulk` per
      // outcome would make the producer's round trips the bottleneck). Pulled items are in `outstanding` already.
      if (!exhausted && window - outstanding.size - ready.length >= Math.max(1, Math.floor(window / 8))) {
        const batch: { name: string; data: JobData<T>; opts: JobsOptions }[] = [];
        while (outstanding.size + ready.length < window) {
          const step = await iterator.next();
          if (step.done) {
            exhausted = true;
            break;
          }
          const index = nextIndex++;
          const jobId = `${runId}-${index}`;
          outstanding.set(jobId, {
            index,
            item: step.value,
            since: Date.now(),
            lost: 0,
            gone: false,
            announced: false,
          });
          batch.push({ name: jobName, data: dataFor(step.value), opts: jobOptionsFor(jobId) });
        }
        if (batch.length > 0) {
          const added = await until(queue.addBulk(batch), { signal });
          if (added !== undefined && channels.bullmqAdded.hasSubscribers) {
            for (const { opts } of batch) {
              const entry = outstanding.get(opts.jobId as string);
              if (entry !== undefined && !entry.announced) publishAdded(opts.jobId as string, entry);
            }
          }
        }
        if (signal?.aborted) break;
      }
      if (ready.length > 0) {
        // Failed jobs leave Redis in batches; one outcome at a time, so an abort is seen between two of them.
        if (failedIds.length >= 64) removeFailed().catch(fail);
        const handed = performance.now();
        if (yielded++ === 0) grown.at = handed;
        yield ready.shift() as DistributedOutcome<T, R>;
        consumerMs += performance.now() - handed;
        continue;
      }
      if (exhausted && outstanding.size === 0) break;
      removeFailed().catch(fail);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(() => {
          reconcileOnce().then(resolve, (e: unknown) => {
            fail(e);
            resolve();
          });
        }, pollInterval);
      });
      clearTimeout(timer);
      wake = null;
    }
    if (signal?.aborted) {
      const left = await drainAfterAbort(Date.now() + cleanupTimeout);
      const detail = left === '' ? '' : `; ${left}`;
      throw new CancelledError(`The operation was aborted${detail}`, { cause: signal.reason });
    }
    completed = true;
  } finally {
    stopping = true;
    signal?.removeEventListener('abort', onAbort);
    const deadline = Date.now() + cleanupTimeout;
    let left = '';
    if (!completed && !signal?.aborted) {
      // Stopped early (a break, or an error): the jobs nobody started are taken back; the running ones finish on
      // their workers, which find the results stream gone and leave nothing behind.
      left = await removeNotStarted(deadline);
    }
    if (!completed && typeof iterator.return === 'function') {
      try {
        await iterator.return();
      } catch {
        // The input's own clean-up failing must not hide why the stream stopped.
      }
    }
    const tidied = await until(
      Promise.all([removeFailed(), cmd.del(streamKey)]).then(
        () => true,
        () => false,
      ),
      { deadline },
    );
    if (tidied !== true && left === '') {
      left = `the results stream ${streamKey} could not be deleted (it expires within 24 h)`;
    }
    if (left !== '' && !signal?.aborted) {
      process.emitWarning(`async-batching/bullmq: distributedStream stopped early; ${left}`, {
        code: 'AB_BULLMQ_CLEANUP',
      });
    }
    // The reader may be blocked in XREAD for up to pollInterval: a QUIT would wait behind it, so it is cut off.
    stopping = true;
    reader.disconnect();
    const closed = await until(
      Promise.allSettled([queue.close(), cmd.quit()]).then(() => true),
      { deadline: Math.max(deadline, Date.now() + 500) },
    );
    if (closed !== true) {
      cmd.disconnect();
      // BullMQ's disconnect waits for the connection's end, which a Redis that does not answer may never bring.
      queue.disconnect().catch(() => {});
    }
    reader.disconnect();
    if (reading !== undefined) await until(reading, { deadline: Date.now() + 500 });
  }

  /** Removes the outstanding jobs no worker has started; says what could not be removed by `deadline`. */
  async function removeNotStarted(deadline: number): Promise<string> {
    const ids = [...outstanding.keys()];
    const answered = await until(Promise.all(ids.map(async (id) => [id, await queue.remove(id)] as const)), {
      deadline,
    });
    if (answered === undefined) {
      return `Redis did not answer within ${cleanupTimeout} ms, so ${ids.length} job(s) of this run may remain there (${idList(ids)})`;
    }
    for (const [id, n] of answered) if (n === 1) outstanding.delete(id);
    return '';
  }

  /**
   * After an abort: remove every outstanding job that has not started, and wait for the running ones to finish, so
   * that nothing of this run is left in Redis or running; by `deadline` at the latest, saying what is left.
   */
  async function drainAfterAbort(deadline: number): Promise<string> {
    for (;;) {
      const left = await removeNotStarted(deadline);
      if (left !== '') return left;
      if (outstanding.size === 0) return '';
      // Those still there are running (locked) or already finished and gone.
      const ids = [...outstanding.keys()];
      const exists = await until(Promise.all(ids.map((id) => cmd.exists(queue.toKey(id)))), { deadline });
      if (exists !== undefined) {
        for (const [i, id] of ids.entries()) if (exists[i] === 0) outstanding.delete(id);
      }
      if (outstanding.size === 0) return '';
      if (exists === undefined || Date.now() >= deadline) {
        const running = [...outstanding.keys()];
        return `${running.length} job(s) were still running after ${cleanupTimeout} ms (${idList(running)}); they finish on their workers and leave Redis then`;
      }
      await new Promise((r) => setTimeout(r, Math.min(pollInterval, 100)));
    }
  }
}
