/**
 * The package's `diagnostics_channel` channels: what a batch does (jobs queued, started and ended, rate waits, retries,
 * batches sent, BullMQ jobs), for a subscriber to watch in production without wrapping any call.
 *
 * Node's module is obtained at run time through `process.getBuiltinModule`, never imported, so the core still bundles
 * for browsers, Deno and workers; where there is none, each channel is a no-op one whose `hasSubscribers` is false.
 * Publishers test `hasSubscribers` before building a message, so with no subscriber an event costs one field read.
 */

/** What a publisher needs of a channel: Node's `Channel` has this shape. */
export interface DiagnosticsChannel {
  readonly name: string | symbol;
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
}

interface DiagnosticsModule {
  channel(name: string): DiagnosticsChannel;
}

function diagnosticsModule(): DiagnosticsModule | null {
  try {
    const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const m = p?.getBuiltinModule?.('node:diagnostics_channel') as DiagnosticsModule | undefined;
    return typeof m?.channel === 'function' ? m : null;
  } catch {
    return null;
  }
}

const dc = diagnosticsModule();

function channel(name: string): DiagnosticsChannel {
  if (dc !== null) return dc.channel(name);
  return { name, hasSubscribers: false, publish() {} };
}

/** What runs a job: a semaphore's or lock's `run()`/`acquire()`, or a pool (`parallel`, `parallelStream`...). */
export type JobSource = 'semaphore' | 'lock' | 'pool';

/**
 * Published on `async-batching:job:queued`: a `run()` or `acquire()` found no free token and waits. Not published by
 * pools, which pull an item only when a slot is free.
 */
export interface JobQueuedMessage {
  /** What runs the job: a semaphore, a lock or a pool. */
  kind: JobSource;
  /** The semaphore or lock; for a pool, the pool (for `parallelStream`, the iterator it returned). */
  source: object;
  /**
   * A semaphore's or lock's job: the Deferred `run()` returned, the same object in the job's queued, start and end
   * messages. Absent for a pool's job, which its `index` names.
   */
  job?: object;
}

/** Published on `async-batching:job:start`: a `run()` job takes a token, or a pool starts an item's job. */
export interface JobStartMessage extends JobQueuedMessage {
  /** For a pool's job: the item's index in the input. */
  index?: number;
}

/** Published on `async-batching:job:end`: a job's outcome is known, and its token (or slot) is free. */
export interface JobEndMessage extends JobStartMessage {
  /** True when the job succeeded, false when it threw, rejected or was cancelled. */
  ok: boolean;
  /** When `ok` is false: what the job threw or rejected with. */
  error?: unknown;
}

/** Published on `async-batching:rate:wait`: the next start must wait `delay` ms for a rate limit's window. */
export interface RateWaitMessage {
  /** The RateLimiter. */
  limiter: object;
  /** How long the next start waits, in ms. */
  delay: number;
  /** How many starts wait for the rate. */
  waiting: number;
}

/** Published on `async-batching:retry`: an attempt failed and another follows after `delay` ms. */
export interface RetryMessage {
  /** The attempt that failed, from 1. */
  attempt: number;
  /** The wait before the next attempt, in ms. */
  delay: number;
  /** What the failed attempt threw or rejected with. */
  reason: unknown;
}

/** Published on `async-batching:batch`: a batcher hands `keys` to its bulk function. */
export interface BatchMessage {
  /** The batcher. */
  batcher: object;
  /** The keys of this batch, in the order the bulk function receives them. */
  keys: readonly unknown[];
}

/** Published on `async-batching:bullmq:added`: a job was added to a BullMQ queue. */
export interface BullmqAddedMessage {
  /** The BullMQ queue's name. */
  queue: string;
  /** The BullMQ job id (for `distributedStream`, `<run id>-<index>`). */
  jobId: string | undefined;
  /** The item's index in the input, where there is one. */
  index?: number;
}

/** Published on `async-batching:bullmq:settled`: a BullMQ job's outcome arrived. */
export interface BullmqSettledMessage extends BullmqAddedMessage {
  /** True when the job succeeded, false when it failed. */
  ok: boolean;
  /** When `ok` is false: why the job failed (a `DistributedJobError` from `distributedStream`). */
  error?: unknown;
}

/** The channels' names, by what they report. Subscribe with `diagnostics_channel.subscribe(name, fn)`. */
export const CHANNEL_NAMES = {
  /** A job waits for a semaphore's or lock's token: {@link JobQueuedMessage}. */
  jobQueued: 'async-batching:job:queued',
  /** A job starts: {@link JobStartMessage}. */
  jobStart: 'async-batching:job:start',
  /** A job's outcome is known: {@link JobEndMessage}. */
  jobEnd: 'async-batching:job:end',
  /** A start waits for a rate limit: {@link RateWaitMessage}. */
  rateWait: 'async-batching:rate:wait',
  /** An attempt failed and is retried: {@link RetryMessage}. */
  retry: 'async-batching:retry',
  /** A batcher sends a batch: {@link BatchMessage}. */
  batch: 'async-batching:batch',
  /** A BullMQ job is added: {@link BullmqAddedMessage}. */
  bullmqAdded: 'async-batching:bullmq:added',
  /** A BullMQ job's outcome arrives: {@link BullmqSettledMessage}. */
  bullmqSettled: 'async-batching:bullmq:settled',
} as const;

/** The channels, by what they report, for the package's publishers (and the BullMQ helpers). */
export const channels: { readonly [K in keyof typeof CHANNEL_NAMES]: DiagnosticsChannel } = {
  jobQueued: channel(CHANNEL_NAMES.jobQueued),
  jobStart: channel(CHANNEL_NAMES.jobStart),
  jobEnd: channel(CHANNEL_NAMES.jobEnd),
  rateWait: channel(CHANNEL_NAMES.rateWait),
  retry: channel(CHANNEL_NAMES.retry),
  batch: channel(CHANNEL_NAMES.batch),
  bullmqAdded: channel(CHANNEL_NAMES.bullmqAdded),
  bullmqSettled: channel(CHANNEL_NAMES.bullmqSettled),
};
