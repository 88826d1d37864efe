import type { ConnectionOptions } from 'bullmq';

/** @throws {TypeError} unless `value` is an object (ioredis options or a client). */
export function checkConnection(value: unknown, name: string): asserts value is ConnectionOptions {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(
      `Expected \`${name}\` to be ioredis options (for example { path: socket }) or a client, got ${value === null ? 'null' : typeof value}`,
    );
  }
}

/**
 * For plain ioredis options: commands wait for Redis to come back instead of failing after a few retries, so a
 * Redis restart pauses a batch instead of failing it (BullMQ's workers need this anyway). A client passed in is used
 * as it is.
 */
export function withPatientRetries(connection: ConnectionOptions): ConnectionOptions {
  const isClient = typeof (connection as { duplicate?: unknown }).duplicate === 'function';
  if (isClient) return connection;
  return { maxRetriesPerRequest: null, ...connection } as ConnectionOptions;
}
