import type { ConnectionOptions } from 'bullmq';
import { describe } from '../../core/args.js';

/** @throws {TypeError} unless `value` is an object (ioredis options or a client). */
export function checkConnection(value: unknown, name: string): asserts value is ConnectionOptions {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(
      `Expected \`${name}\` to be ioredis options (for example { path: socket }) or a client, got ${describe(value)}`,
    );
  }
}

/** ioredis options this package sets unless the caller's options say otherwise: see {@link withPatientRetries}. */
export const CONNECTION_DEFAULTS = {
  maxRetriesPerRequest: null,
  // TCP keep-alive probes after 1 s of silence, so a peer that vanished is noticed.
  keepAlive: 1_000,
  // A connection attempt into a partition is given up after 1 s and tried again, instead of waiting out the kernel's
  // SYN back-off (1, 2, 4, 8 s...): a worker whose network returns reconnects within about a second.
  connectTimeout: 1_000,
  // BullMQ's own back-off grows to 20 s between attempts; a quarter of a second keeps the reconnection prompt.
  retryStrategy: (times: number) => Math.min(50 * times, 250),
} as const;

/**
 * For plain ioredis options: commands wait for Redis to come back instead of failing after a few retries, so a
 * Redis restart pauses a batch instead of failing it (BullMQ's workers need this anyway), and a lost connection is
 * noticed and remade within about a second ({@link CONNECTION_DEFAULTS}); with `socketTimeout`, a connection that
 * waits that long for an answer is dropped and made again. A client passed in is used as it is.
 */
export function withPatientRetries(connection: ConnectionOptions, socketTimeout?: number): ConnectionOptions {
  const isClient = typeof (connection as { duplicate?: unknown }).duplicate === 'function';
  if (isClient) return connection;
  return {
    ...CONNECTION_DEFAULTS,
    ...(socketTimeout === undefined ? {} : { socketTimeout }),
    ...connection,
  } as ConnectionOptions;
}
