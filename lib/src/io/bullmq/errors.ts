// The errors of async-batching/bullmq, under the package's root AsyncBatchingError (see core/errors.ts).
import { AsyncBatchingError, brand } from '../../core/errors.js';

/** `redis-server` could not be started, or did not answer in time. */
export class RedisServerError extends AsyncBatchingError {
  override readonly code = 'AB_ERR_REDIS_SERVER' as const;

  static {
    brand(RedisServerError, 'AB_ERR_REDIS_SERVER');
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisServerError';
  }
}

/**
 * A job of a distributed batch failed on a worker. A worker sends back only the error's message (BullMQ's
 * `failedReason`), so this carries it, with the job's id and how many attempts were made.
 */
export class DistributedJobError extends AsyncBatchingError {
  override readonly code = 'AB_ERR_DISTRIBUTED_JOB' as const;

  static {
    brand(DistributedJobError, 'AB_ERR_DISTRIBUTED_JOB');
  }

  /** The BullMQ job id. */
  readonly jobId: string;
  /** The attempts made, retries included. */
  readonly attemptsMade: number;

  constructor(reason: string, jobId: string, attemptsMade: number) {
    super(reason);
    this.name = 'DistributedJobError';
    this.jobId = jobId;
    this.attemptsMade = attemptsMade;
  }
}
