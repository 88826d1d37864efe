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
 * for await (const o of distributedStream<string, number>(urls(), { queue: 'pages', connection })) {
 *   console.log(o.index, o.ok ? o.value : o.failure.getErrorMessage());
 * }
 * ```
 *
 * - `distributedStream(items, { queue, connection, window, signal, cleanupTimeout = 10000, jobOptions, jobName,
 *   pollInterval = 1000 })`: any iterable or async iterable, pulled lazily; at most `window` items are pulled and not
 *   yet handed over (jobs in Redis plus outcomes waiting for the consumer), and the stream tops the window up to exactly
 *   `window`, in one `addBulk`, whenever an eighth of it is free. **The default window** is twice the total concurrency
 *   of the workers started with `runWorker`/`forkWorker` that are registered on the queue (each announces its
 *   concurrency in Redis every second), at least 16, re-read every `pollInterval`: every worker slot runs a job and has
 *   the next one waiting, so no worker runs dry while the producer refills. When one does all the same (the workers
 *   report jobs that started in a slot that had found the queue empty) and the consumer is not the slow part (it
 *   holds the outcomes less than half the time), the refill took longer than the waiting jobs lasted, as on a loaded
 *   machine: the default window doubles, once per window's worth of outcomes, up to eight times the total
 *   concurrency. Pass `window` for a fixed one (workers of raw BullMQ do not register). Yields
 *   `{ index, item, ok, value | failure }` in completion order, like `parallelStream`. **Exactly one outcome per
 *   item**, even when a job runs twice: BullMQ delivers at least once (a dead or cut-off worker's jobs run again
 *   elsewhere), so a job with side effects should be idempotent: `runWorker` gives it the job id and the attempt for
 *   that. Outcomes come back through one Redis stream per run that the workers append to once BullMQ has recorded the
 *   job (`runWorker`'s workers remove completed jobs as they complete, failed ones go once their outcome is read,
 *   unless `jobOptions` say otherwise), with a look-up of the oldest outstanding jobs every `pollInterval` ms as a
 *   safety net (a job Redis lost in a crash is added again). Each run uses job ids of its own, so a rerun never waits
 *   on stale ids.
 *   Aborting `signal` removes the jobs not yet started, waits for the running ones, then the iteration throws
 *   `CancelledError`; a `break` removes the jobs not yet started, and the running ones leave nothing behind when they
 *   finish (their worker finds the run gone). Either clean-up takes at most `cleanupTimeout` ms whatever Redis does;
 *   what it could not do (jobs left in an unreachable Redis, jobs still running) is named in the `CancelledError`'s
 *   message, or in a process warning (`AB_BULLMQ_CLEANUP`) after a `break`. A job that failed on its worker arrives as
 *   a `DistributedJobError` (`AB_ERR_DISTRIBUTED_JOB`: the message, `jobId`, `attemptsMade`), whatever the job threw:
 *   `throw 'disk full'` arrives as `disk full`, `throw null` as `The job threw null` (once: BullMQ alone would stall
 *   on it and run it again).
 * - `runWorker(queue, fn, { connection, concurrency = 1, lockDuration = 4000, stalledInterval = 2000, maxStalledCount =
 *   3, name, closeOnSignals })`: runs `fn(item, job)` (a value, Promise or Deferred) through a local
 *   `DeferredSemaphore`; `job` is `{ id, attempt, queue }`: the id is the same on every run of an item, the attempt
 *   counts runs from 1 (retries and re-runs after a lost lock), so `fn` can key a side effect on the id and skip or
 *   overwrite what an earlier attempt did. The lock settings make a dead worker's jobs run again within seconds instead
 *   of BullMQ's half a minute: killed with SIGKILL while running 500 ms jobs, their outcomes arrived 6.9–7.2 s after
 *   the kill (three runs, loaded machine). A worker that cannot renew a job's lock, or finishes a job after losing its
 *   lock (BullMQ refuses the outcome: the job runs again elsewhere), counts it (`lostLocks`, `lateCompletions`), emits
 *   `lockLost` / `lateCompletion`, publishes it on the `node:diagnostics_channel` channel
 *   `async-batching:bullmq:worker`, and writes a process warning when nothing listens; other BullMQ errors arrive as
 *   `workerError`, connection errors are retried and counted (`connectionErrors`). Connections made from ioredis options
 *   use TCP keep-alive (1 s), a 1 s connect timeout and reconnect attempts at most 250 ms apart, so a worker whose
 *   network returns takes jobs again within about a second. `close()` finishes the running jobs and takes no new ones;
 *   `closeOnSignals` does that on SIGTERM/SIGINT.
 * - `forkWorker(queue, { connection, module, exportName, concurrency, wrapper, ... })`: the same in a child process that
 *   imports `fn` from `module` (started under `wrapper`, such as `['ip', 'netns', 'exec', 'ns1']`, when given), reports
 *   `executed`, `lostLocks` and `lateCompletions`, and ends with its parent whichever way the parent ends; `stop()` (SIGTERM,
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
export { DistributedJobError, RedisServerError } from './errors.js';
export { type ForkWorkerOptions, forkWorker, type WorkerProcess } from './fork.js';
export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.js';
export { type DistributedOutcome, type DistributedStreamOptions, distributedStream } from './stream.js';
export {
  type DistributedWorker,
  type DistributedWorkerEvents,
  type JobInfo,
  type LateCompletionEvent,
  type LockLostEvent,
  type RunWorkerOptions,
  runWorker,
  WORKER_DIAGNOSTICS_CHANNEL,
} from './worker.js';
