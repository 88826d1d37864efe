/**
 * The walkthrough's lazy batch across processes and machines, on BullMQ and Redis.
 *
 * When one process is not enough, the walkthrough's lazy recipe carries over to a job queue: instead of adding every job
 * to Redis up front (the semaphore's mistake, now in Redis's memory), `distributedStream` keeps a bounded window of jobs
 * outstanding and pulls the next item only as one finishes. `bullmq` (6.7+) and `ioredis` are optional peer dependencies;
 * install them to use this entry point.
 *
 * ```ts
 * import { getPage } from 'async-batching';
 * import { distributedStream, runWorker, startRedisServer } from 'async-batching/bullmq';
 *
 * const redis = await startRedisServer({ aof: true }); // Debian's redis-server, on a Unix socket in a temp folder
 * const connection = { path: redis.socket };
 * // Workers: in this process here, in practice on any number of machines (runWorker) or child processes (forkWorker).
 * runWorker('pages', async (url: string) => (await getPage(url)).length, { connection, concurrency: 25 });
 * function* urls() {
 *   for (let i = 0; i < 1_000_000; i++) yield `http://127.0.0.1:8080/page/${i}`;
 * }
 * for await (const o of distributedStream<string, number>(urls(), { queue: 'pages', connection, window: 100 })) {
 *   console.log(o.index, o.ok ? o.value : o.failure.getErrorMessage());
 * }
 * ```
 *
 * - `distributedStream(items, { queue, connection, window = 100, signal, jobOptions, jobName, pollInterval = 1000 })`:
 *   any iterable or async iterable, pulled lazily; at most `window` items are pulled and not yet handed over (jobs in
 *   Redis plus outcomes waiting for the consumer). Yields `{ index, item, ok, value | failure }` in completion order,
 *   like `parallelStream`. **Exactly one outcome per item**, even when a job runs twice: BullMQ delivers at least once (a
 *   dead worker's jobs run again elsewhere), so jobs with side effects should be safe to repeat. Results come back
 *   through BullMQ's own `QueueEvents`, with a look-up of the job itself every `pollInterval` ms as a safety net (a job
 *   Redis lost in a crash is added again). Each run uses job ids of its own, so a rerun never waits on stale ids; settled
 *   jobs are removed. Aborting `signal` removes the jobs not yet started, waits for the running ones, then the iteration
 *   throws `CancelledError`; a `break` removes the jobs not yet started. A job that failed on its worker arrives as a
 *   `DistributedJobError` (`AB_ERR_DISTRIBUTED_JOB`: the message, `jobId`, `attemptsMade`).
 * - `runWorker(queue, fn, { connection, concurrency = 1, lockDuration = 4000, stalledInterval = 2000, maxStalledCount =
 *   3, name, closeOnSignals })`: runs `fn(item)` (a value, Promise or Deferred) through a local `DeferredSemaphore`.
 *   The lock settings make a dead worker's jobs run again within seconds instead of BullMQ's half a minute: killed with
 *   SIGKILL while running 500 ms jobs, their outcomes arrived 6.9–7.2 s after the kill (three runs, loaded machine).
 *   `close()` finishes the running jobs and takes no new ones; `closeOnSignals` does that on SIGTERM/SIGINT.
 * - `forkWorker(queue, { connection, module, exportName, concurrency, ... })`: the same in a child process that imports
 *   `fn` from `module`, reports `executed`, and ends with its parent whichever way the parent ends; `stop()` (SIGTERM,
 *   graceful) and `kill()` (SIGKILL, as a crash). `async-batching/demo` ships `JOBS_MODULE` with `pageLength(url)`.
 * - `startRedisServer({ aof, dir, binary, startTimeout })`: starts `redis-server` on a Unix socket (no TCP port) under a
 *   watcher that kills it when this process ends, even by SIGKILL; `kill()` (a crash), `restart()`, `stop()` (also removes
 *   the folder). Fails with `RedisServerError` (`AB_ERR_REDIS_SERVER`) when the binary is missing or the server does not
 *   come up.
 *
 * Redis for all of this, on Debian or Ubuntu (CI does the first line itself):
 *
 * ```sh
 * sudo apt-get install -y redis-server         # Debian's server binary; no service needs to run
 * npm install async-batching bullmq ioredis    # bullmq and ioredis are optional peers of async-batching/bullmq
 * node app.js                                  # startRedisServer() runs it on a Unix socket; or pass your Redis's { host, port }
 * ```
 *
 * **When to use which.** One process: `parallel` / `parallelStream` (or the semaphore and the Cooperator), nothing to
 * install, microseconds per job. One machine with CPU-bound jobs: the same, with the jobs in `worker_threads` or child
 * processes. Several machines, or jobs that must survive a crash of the producer's process: `distributedStream` and
 * `runWorker` on one Redis; each job then costs a handful of Redis round trips, so it pays for jobs of milliseconds and up.
 *
 * @packageDocumentation
 */
// async-batching/bullmq: the walkthrough's lazy batch across processes and machines, on BullMQ and Redis.
// `bullmq` and `ioredis` are optional peer dependencies: install them to use this entry point.
export { DistributedJobError, RedisServerError } from '../../core/errors.js';
export { type ForkWorkerOptions, forkWorker, type WorkerProcess } from './fork.js';
export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.js';
export { type DistributedOutcome, type DistributedStreamOptions, distributedStream } from './stream.js';
export { type DistributedWorker, type RunWorkerOptions, runWorker } from './worker.js';
