// What distributedStream and runWorker agree on in Redis, beside BullMQ's own keys. Each key sits under the queue's
// BullMQ prefix (`bull:<queue>:ab:…`), so it shares the queue's hash slot on a Redis Cluster.
import { inspect } from 'node:util';
import { Failure } from '../../core/failure.js';

/** The job data distributedStream adds: the item, and the run whose results stream expects its outcome. */
export interface JobData<T> {
  item: T;
  /** The producer's run id; absent for jobs added by something else. */
  run?: string;
}

/**
 * The stream one run of distributedStream reads its outcomes from; workers append to it only while it exists. An entry
 * holds one or more outcomes, each `j <job id>` followed by `v <JSON value>`, `u ''` (undefined) or
 * `e <reason> a <attempts made>` (a final failure), and ends with `d <count>` when that many of those jobs started in a
 * worker slot that had found the queue empty (the producer may deepen its window).
 */
export const resultsKey = (run: string): string => `ab:results:${run}`;

/** The sorted set where each runWorker announces its concurrency: member `<worker id>|<concurrency>`, score its expiry. */
export const WORKERS_KEY = 'ab:workers';

/** How often a worker renews its entry in {@link WORKERS_KEY}, in ms; an entry lives three times as long. */
export const HEARTBEAT_MS = 1_000;

/**
 * What a job threw, as an Error BullMQ can store: BullMQ reads `.message` of whatever was thrown, so `null` or
 * `undefined` would break its failure path (the job then stalls and runs again) and a string would be stored as `null`.
 */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown);
  if (thrown instanceof Failure) return toError(thrown.value);
  return new Error(`The job threw ${inspect(thrown, { depth: 2, breakLength: Number.POSITIVE_INFINITY })}`);
}

/** The part of BullMQ's client adapter (ioredis, node-redis or Bun underneath) the worker uses. */
export interface ScriptClient {
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  runCommand(name: string, args: unknown[]): Promise<unknown>;
}

const SCRIPTS = {
  // Appends an outcome to a run's results stream only while that stream exists (the producer made it): a late
  // outcome for a run that ended writes nothing and answers nil.
  abReport: `if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV))`,
  abAnnounce: `return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])`,
  abWithdraw: `return redis.call('ZREM', KEYS[1], ARGV[1])`,
} as const;

const defined = new WeakSet<object>();

/** Runs one of this package's small scripts on a BullMQ client adapter, defining them on first use. */
export function runScript(
  client: ScriptClient,
  name: keyof typeof SCRIPTS,
  key: string,
  args: string[],
): Promise<unknown> {
  if (!defined.has(client)) {
    for (const [n, lua] of Object.entries(SCRIPTS)) client.defineCommand(n, { numberOfKeys: 1, lua });
    defined.add(client);
  }
  return client.runCommand(name, [key, ...args]);
}
