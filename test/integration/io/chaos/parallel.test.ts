/**
 * 5,000 URLs against the chaos server (200, 404, 500, 503, resets mid-body, stalls past the timeout, slow trickles,
 * oversize bodies, redirect loops, redirects to file:), through `parallel` and `parallelStream` with getPage.
 */
import {
  CancelledError,
  type Failure,
  getPage,
  type ParallelOutcome,
  parallel,
  parallelStream,
  TimeoutError,
} from 'async-batching';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gc } from '../../../helpers/gc.ts';
import {
  type ChaosServer,
  checkOutcomes,
  PAGE_OPTIONS,
  resourceCounts,
  settleResources,
  startChaosServer,
  waitFor,
  watchProcessErrors,
} from './harness.ts';
import { planFor } from './plan.ts';

const COUNT = 5000;
const CONCURRENCY = 50;
const ids = Array.from({ length: COUNT }, (_, i) => i);

let server: ChaosServer;
let baseline: Map<string, number>;

beforeAll(async () => {
  server = await startChaosServer();
  baseline = resourceCounts();
});
afterAll(async () => {
  await server?.close();
});

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** With CHAOS_VERBOSE=1, prints what a run measured (the tests never assert timings, but people like to see). */
function verbose(what: object): void {
  if (process.env.CHAOS_VERBOSE) console.log(what);
}

function idOf(url: string): number {
  return Number(new URL(url).pathname.split('/')[2]);
}

describe('parallel(urls, 50, getPage) under chaos', () => {
  it('gives one outcome per URL, the planned failure class for each, at most 50 at the server, and leaks nothing', async () => {
    await server.reset();
    const errors = watchProcessErrors();
    const heapBefore = heapAfterGc();
    const urls = ids.map((id) => server.url(id));
    const calls = new Array<number>(COUNT).fill(0);

    const results = await parallel(urls, CONCURRENCY, (url) => {
      calls[idOf(url)]++;
      return getPage(url, PAGE_OPTIONS);
    });

    expect(results).toHaveLength(COUNT);
    expect(calls.every((n) => n === 1)).toBe(true);
    const outcomes = new Map<number, [boolean, unknown]>();
    results.forEach(([ok, value], id) => {
      outcomes.set(id, [ok, ok ? value : (value as Failure).value]);
    });
    checkOutcomes(server.seed, outcomes, ids);

    const stats = await server.stats();
    expect(new Set(stats.seenIds).size).toBe(COUNT);
    expect(stats.peakActive).toBeLessThanOrEqual(CONCURRENCY);
    // Sockets too, with getPage's shared Agent: a result (or failure) is delivered only once undici can lend its
    // connection again, so the next request reuses one instead of opening a 51st.
    expect(stats.peakSockets).toBeLessThanOrEqual(CONCURRENCY);

    outcomes.clear();
    results.length = 0;
    expect(await settleResources(baseline)).toEqual([]);
    const growth = heapAfterGc() - heapBefore;
    verbose({
      ...stats,
      seenIds: stats.seenIds.length,
      abortedIds: stats.abortedIds.length,
      heapGrowth: growth,
    });
    // A generous bound: what matters is that 5,000 responses and failures are not all kept.
    expect(growth).toBeLessThan(32 * 1024 * 1024);
    expect(errors.stop()).toEqual([]);
  });
});

describe('parallelStream(urls, 50, getPage, { signal }) aborted half-way', () => {
  it('reports what finished, cancels what was in flight (the server sees those sockets close), and pulls nothing more', async () => {
    await server.reset();
    const errors = watchProcessErrors();
    const controller = new AbortController();
    let pulls = 0;
    let closed = false;
    function* source(): Generator<string> {
      try {
        for (const id of ids) {
          pulls++;
          yield server.url(id);
        }
      } finally {
        closed = true;
      }
    }
    // What each started job came to, seen from its own Deferred, whatever the stream did with it.
    const started = new Set<number>();
    const settled = new Map<number, unknown>();
    const seen: ParallelOutcome<string, unknown>[] = [];
    let pullsAtAbort = -1;
    let inFlightAtAbort: number[] = [];
    let thrown: unknown;

    const stream = parallelStream(
      source(),
      CONCURRENCY,
      (url) => {
        const id = idOf(url);
        started.add(id);
        return getPage(url, PAGE_OPTIONS).addBoth((r) => {
          settled.set(id, r);
          return r;
        });
      },
      { signal: controller.signal },
    );
    try {
      for await (const outcome of stream) {
        seen.push(outcome);
        if (seen.length === COUNT / 2) {
          pullsAtAbort = pulls;
          inFlightAtAbort = [...started].filter((id) => !settled.has(id));
          controller.abort();
        }
      }
    } catch (e) {
      thrown = e;
    }

    expect(thrown).toBeInstanceOf(CancelledError);
    expect(seen).toHaveLength(COUNT / 2);
    const outcomes = new Map<number, [boolean, unknown]>();
    for (const o of seen) {
      expect(outcomes.has(o.index)).toBe(false);
      outcomes.set(o.index, [o.ok, o.ok ? o.value : o.failure.value]);
      expect(o.item).toBe(server.url(o.index));
    }
    checkOutcomes(server.seed, outcomes, outcomes.keys());

    // Everything in flight at the abort was cancelled; nothing else was. A cancelled getPage fails at once, but its
    // chain (and so `settled`) goes on only once its socket has closed.
    expect(await waitFor(() => settled.size === started.size)).toBe(true);
    expect(inFlightAtAbort.length).toBeGreaterThan(0);
    const cancelled = [...settled].filter(([, r]) => (r as Failure)?.value instanceof CancelledError);
    expect(cancelled.map(([id]) => id).sort((a, b) => a - b)).toEqual(inFlightAtAbort.sort((a, b) => a - b));
    expect(started.size).toBe(settled.size);

    // The source was closed and never pulled again, even after everything in flight has gone.
    expect(closed).toBe(true);
    expect(pullsAtAbort).toBeLessThanOrEqual(seen.length + 2 * CONCURRENCY + 1);
    expect(await waitFor(async () => (await server.stats()).active === 0)).toBe(true);
    expect(pulls).toBe(pullsAtAbort);
    expect(started.size).toBe(pulls);

    // Every stalled request the server was holding ended because the client closed it, within far less than the
    // server's own 30 s cap; every socket the client dropped belongs to a cancelled, timed-out or oversize item.
    const stats = await server.stats();
    const aborted = new Set(stats.abortedIds);
    const cancelledIds = new Set(cancelled.map(([id]) => id));
    const seenByServer = new Set(stats.seenIds);
    const cancelledStalls = [...cancelledIds].filter(
      (id) => planFor(server.seed, id).behaviour === 'stall' && seenByServer.has(id),
    );
    expect(cancelledStalls.filter((id) => !aborted.has(id))).toEqual([]);
    verbose({
      pullsAtAbort,
      inFlightAtAbort: inFlightAtAbort.length,
      cancelledStalls: cancelledStalls.length,
      abortedAtServer: aborted.size,
      peakActive: stats.peakActive,
      peakSockets: stats.peakSockets,
    });
    const unexplained = [...aborted].filter((id) => {
      if (cancelledIds.has(id)) return false;
      const r = settled.get(id) as Failure | undefined;
      const { behaviour } = planFor(server.seed, id);
      return !((behaviour === 'stall' && r?.value instanceof TimeoutError) || behaviour === 'oversize');
    });
    expect(unexplained).toEqual([]);
    expect(stats.peakActive).toBeLessThanOrEqual(CONCURRENCY);

    expect(await settleResources(baseline)).toEqual([]);
    expect(errors.stop()).toEqual([]);
  });
});
