// async-batching/bullmq: the walkthrough's lazy batch across processes and machines, on BullMQ and Redis.
// `bullmq` and `ioredis` are optional peer dependencies: install them to use this entry point.
export { DistributedJobError, RedisServerError } from '../../core/errors.js';
export { type ForkWorkerOptions, forkWorker, type WorkerProcess } from './fork.js';
export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.js';
export { type DistributedOutcome, type DistributedStreamOptions, distributedStream } from './stream.js';
export { type DistributedWorker, type RunWorkerOptions, runWorker } from './worker.js';
