// The optional peer dependencies of async-batching/bullmq, loaded when the entry point is imported. A static
// `import ... from 'bullmq'` would fail while Node links the modules, before any of ours runs, with a bare
// ERR_MODULE_NOT_FOUND naming only bullmq; this module checks both first and says what to install. bullmq is
// CommonJS (no `exports`, no `type`), so `require` gives the same instance an `import 'bullmq'` in the user's program
// does, and synchronously: a CommonJS program, tslab's compiled cells among them, can still require() this entry.
import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';
import type * as IORedis from 'ioredis';

const require = createRequire(import.meta.url);

/** The packages this entry point needs besides async-batching, as `npm install` takes them. */
const PEERS = ['bullmq', 'ioredis'] as const;

function loadBullMQ(): typeof BullMQ {
  const missing = PEERS.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    const names = missing.join(' and ');
    throw new Error(
      `async-batching/bullmq needs ${names}, optional peer ${missing.length > 1 ? 'dependencies' : 'dependency'} ` +
        `of async-batching that ${missing.length > 1 ? 'are' : 'is'} not installed: npm install ${missing.join(' ')}`,
    );
  }
  return require('bullmq') as typeof BullMQ;
}

/** BullMQ's module, present once this module has loaded. */
export const bullmq = loadBullMQ();

/** ioredis's module (checked with bullmq above), for the stream's own connections. */
export const ioredis = require('ioredis') as typeof IORedis;
