/**
 * What getPage takes from undici besides the dispatch itself: the shared Agent, the queue hook, decompression.
 *
 * undici is loaded on the first getPage, not when the package is imported: a program that uses Deferreds, the
 * semaphore or the pools never loads an HTTP client (with undici loaded eagerly, `import 'async-batching'` loaded its
 * 109 CommonJS modules too). undici is a CommonJS package, so a `require` made for this module loads it synchronously, and
 * getPage stays synchronous in what it checks and throws.
 */

import type { Agent, Dispatcher } from 'undici';
import { nodeModule } from '../node-builtins.js';

type Undici = typeof import('undici');

let loaded: Undici | undefined;

/** undici, loaded once, on first use. */
export function undici(): Undici {
  loaded ??= nodeModule().createRequire(import.meta.url)('undici') as Undici;
  return loaded;
}

/** The most connections the shared Agent opens to one origin: well above any batch the walkthrough runs. */
export const DEFAULT_CONNECTIONS = 128;

let sharedAgent: Agent | undefined;

export function defaultDispatcher(): Agent {
  sharedAgent ??= new (undici().Agent)({ connections: DEFAULT_CONNECTIONS });
  return sharedAgent;
}

/**
 * Closes the keep-alive Agent `getPage` shares when no `dispatcher` is given, once its requests in flight have
 * finished (cancel any you no longer want first). The next `getPage` creates a fresh one. Idle connections never keep
 * a process alive, so scripts need this only to tidy up; tests use it to leave no socket behind.
 */
export async function closeDefaultAgent(): Promise<void> {
  const agent = sharedAgent;
  sharedAgent = undefined;
  if (agent !== undefined) await agent.close();
}

/**
 * The key of undici's hook for a request still waiting for a connection: a dispatcher that queues a request calls
 * `opts[key](cancel)`, and `cancel(reason)` takes it out of the queue. Without it, a request cancelled while queued
 * could only be aborted once it reached a connection, at the cost of that connection.
 *
 * undici does not export the symbol; its public `request()` puts it on the options it dispatches when given a
 * `signal`. So it is read from there, once, with a probe dispatcher that fails the request at once: no deep import,
 * nothing to break when undici moves its files. Should a new undici stop passing it, this is `undefined` and a
 * cancelled queued request is aborted as it starts: test/unit/io/get-page-demo.test.ts ("takes a request cancelled while it
 * waits for a connection out of the queue, keeping the busy connection") then fails, counting two connections.
 */
export function queuedAbortKey(): symbol | undefined {
  if (queuedAbort === null) queuedAbort = probeQueuedAbort();
  return queuedAbort;
}

let queuedAbort: symbol | undefined | null = null;

function probeQueuedAbort(): symbol | undefined {
  let found: symbol | undefined;
  class Probe extends undici().Dispatcher {
    override dispatch(opts: Dispatcher.DispatchOptions): boolean {
      for (const key of Object.getOwnPropertySymbols(opts)) {
        if (typeof (opts as unknown as Record<symbol, unknown>)[key] === 'function') found = key;
      }
      throw new Error('probe');
    }
  }
  try {
    new Probe()
      .request({
        origin: 'http://probe.invalid',
        path: '/',
        method: 'GET',
        signal: new AbortController().signal,
      })
      .catch(() => {});
  } catch {
    // An undici whose request() throws here has no hook to offer.
  }
  return found;
}

/** What undici's decompression wraps: the handler of one response. */
type Handler = Dispatcher.DispatchHandler;

/**
 * undici's decompression (its `interceptors.decompress()`), applied to one response's handler on demand. The
 * interceptor wraps a handler as it dispatches; dispatching into a function that returns the handler it is given hands
 * back the wrapped one without sending anything. getPage does so only when a response says `content-encoding`, so
 * uncompressed responses pay nothing. The wrapper drops `content-encoding` and `content-length` from the headers it
 * passes on, and hands on decoded chunks, which getPage counts against `maxBytes`.
 */
let wrapForDecompression: ((opts: { method: string }, handler: Handler) => Handler) | undefined;

const GET = { method: 'GET' };

/** A handler that decompresses what it is given (per undici's interceptor) and passes it on to `inner`. */
export function decompressing(inner: Handler): Handler {
  wrapForDecompression ??= undici().interceptors.decompress()(
    ((_opts: unknown, handler: Handler) => handler) as unknown as Dispatcher.Dispatch,
  ) as unknown as (opts: { method: string }, handler: Handler) => Handler;
  return wrapForDecompression(GET, inner);
}
