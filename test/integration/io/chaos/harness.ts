/** What the chaos tests share: the server in a child process, the expected outcome per item, and leak checks. */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  ConnectionLostError,
  closeDefaultAgent,
  Failure,
  GetPageError,
  HttpError,
  InvalidURLError,
  ResponseTooLargeError,
  TimeoutError,
  TooManyRedirectsError,
} from 'async-batching';
import { expect } from 'vitest';
import { bodyFor, DEFAULT_SEED, itemPath, planFor } from './plan.ts';
import type { ChaosStats } from './server.ts';

/**
 * The options every chaos test passes to getPage. The timeout ends the stalls. It is 3 s, and a redirect loop is cut
 * after 3 hops rather than the default 20, because on a machine loaded far past its cores (two cores, load average
 * 20, several vitest workers starting at once) a request of the first wave took up to half a second: with 500 ms and
 * 5 hops, ordinary items and the first redirect loops came out as TimeoutError, old code and new alike.
 */
export const PAGE_OPTIONS = { timeout: 3_000, maxBytes: 256 * 1024, maxRedirects: 3 } as const;

/** A chaos server running in a child process. */
export interface ChaosServer {
  readonly seed: number;
  /** The URL of item `id`. */
  url(id: number): string;
  /** The URL of `path` on the server (`/hang/<id>`, `/stale/<id>`). */
  at(path: string): string;
  stats(): Promise<ChaosStats>;
  /**
   * Zeroes the accumulating counters. First closes getPage's shared Agent and waits until the server sees no socket
   * open: a peak of sockets is then this test's own, not one that counts what an earlier test left open (a test that
   * fails before its clean-up leaves its Agent's keep-alive connections behind).
   */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** Forks `server.ts` and waits until it listens. */
export async function startChaosServer(seed = DEFAULT_SEED): Promise<ChaosServer> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./server.ts', import.meta.url)),
    ['--seed', String(seed)],
    {
      // Not vitest's loader flags: the server is plain Node with type stripping.
      execArgv: [],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  const ask = async <M extends { type: string }>(type: string): Promise<M> => {
    const reply = new Promise<M>((resolve, reject) => {
      const onMessage = (m: M) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m);
      };
      const onExit = (code: number | null) =>
        reject(new Error(`chaos server exited (${code}) before replying`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    if (type !== 'ready') child.send({ type });
    return reply;
  };
  const { port } = await ask<{ type: 'ready'; port: number }>('ready');
  return {
    seed,
    url: (id) => `http://127.0.0.1:${port}${itemPath(id)}`,
    at: (path) => `http://127.0.0.1:${port}${path}`,
    stats: async () => (await ask<{ type: 'stats'; stats: ChaosStats }>('stats')).stats,
    reset: async () => {
      await closeDefaultAgent();
      const idle = await waitFor(
        async () => (await ask<{ type: 'stats'; stats: ChaosStats }>('stats')).stats.sockets === 0,
      );
      if (!idle) throw new Error('the chaos server still sees sockets open from an earlier test');
      await ask('reset');
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'close' });
      await exited;
    },
  };
}

/** What getPage must deliver for item `id`: its body, or a failure of exactly this class (and status). */
export type Expected = { ok: true; body: string } | { ok: false; type: Function; status?: number };

export function expectedFor(seed: number, id: number): Expected {
  const { behaviour } = planFor(seed, id);
  switch (behaviour) {
    case 'ok':
    case 'trickle':
      return { ok: true, body: bodyFor(id) };
    case 'notFound':
      return { ok: false, type: HttpError, status: 404 };
    case 'serverError':
      return { ok: false, type: HttpError, status: 500 };
    case 'unavailable':
      return { ok: false, type: HttpError, status: 503 };
    case 'reset':
      return { ok: false, type: ConnectionLostError };
    case 'stall':
      return { ok: false, type: TimeoutError };
    case 'oversize':
      return { ok: false, type: ResponseTooLargeError };
    case 'redirectLoop':
      return { ok: false, type: TooManyRedirectsError };
    case 'redirectFile':
      return { ok: false, type: InvalidURLError };
  }
}

/** Describes an outcome compactly, so a mismatch in a 5,000-item run reads as one line per item. */
export function describeOutcome(ok: boolean, value: unknown): string {
  if (ok) return `ok ${JSON.stringify(value)}`;
  const error = value instanceof Failure ? value.value : value;
  if (error instanceof HttpError) return `HttpError ${error.status}`;
  if (error instanceof Error)
    return `${error.constructor.name}${error instanceof GetPageError ? '' : ` (${error.message})`}`;
  return `non-error ${String(error)}`;
}

export function describeExpected(e: Expected): string {
  if (e.ok) return `ok ${JSON.stringify(e.body)}`;
  return e.status === undefined ? e.type.name : `${e.type.name} ${e.status}`;
}

/** Asserts that item `id` came out as planned; returns nothing, fails with a readable diff. */
export function checkOutcomes(
  seed: number,
  outcomes: ReadonlyMap<number, [boolean, unknown]>,
  ids: Iterable<number>,
) {
  const wrong: string[] = [];
  for (const id of ids) {
    const got = outcomes.get(id);
    const expected = describeExpected(expectedFor(seed, id));
    const actual = got === undefined ? 'missing' : describeOutcome(got[0], got[1]);
    if (actual !== expected)
      wrong.push(`#${id} (${planFor(seed, id).behaviour}): expected ${expected}, got ${actual}`);
  }
  expect(wrong.slice(0, 20), `${wrong.length} items came out wrong`).toEqual([]);
}

/** Watches for errors that escape to the process; `stop()` returns what was caught. */
export function watchProcessErrors(): { stop(): unknown[] } {
  const caught: unknown[] = [];
  const onRejection = (reason: unknown) => caught.push(reason);
  const onException = (error: unknown) => caught.push(error);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    stop() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
      return caught;
    },
  };
}

/** How many active resources of each kind the process holds (sockets, timers, ...). */
export function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

/**
 * Closes getPage's shared Agent, then waits (a bounded number of turns) until the process holds no more resources of
 * any kind than at `baseline`. Returns the kinds that stayed above it, empty when none did.
 */
export async function settleResources(baseline: Map<string, number>): Promise<string[]> {
  await closeDefaultAgent();
  let excess: string[] = [];
  for (let turn = 0; turn < 100; turn++) {
    excess = [];
    for (const [name, n] of resourceCounts()) {
      const before = baseline.get(name) ?? 0;
      if (n > before) excess.push(`${name}: ${n} (was ${before})`);
    }
    if (excess.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return excess;
}

/** Waits until `check()` holds, for at most `turns` × 20 ms; returns whether it did. */
export async function waitFor(check: () => Promise<boolean> | boolean, turns = 250): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
