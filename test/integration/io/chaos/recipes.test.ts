/**
 * The walkthrough's own recipes against the chaos server, 1,000 items each to keep the suite fast: a
 * DeferredSemaphore with DeferredList, and a Cooperator with 50 coiterate calls over one shared generator.
 */
import {
  Cooperator,
  type Deferred,
  DeferredList,
  DeferredSemaphore,
  type Failure,
  type GetPageOptions,
  getPage,
} from 'async-batching';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChaosServer,
  checkOutcomes,
  PAGE_OPTIONS,
  resourceCounts,
  settleResources,
  startChaosServer,
  watchProcessErrors,
} from './harness.ts';

const COUNT = 1000;
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

/** The semaphore recipe; returns each item's outcome and how many times each item's chain fired. */
async function semaphoreRecipe(options: GetPageOptions) {
  const sem = new DeferredSemaphore(CONCURRENCY);
  const fired = new Array<number>(COUNT).fill(0);
  const deferreds = ids.map((id) =>
    sem.run(getPage, server.url(id), options).addBoth((r) => {
      fired[id]++;
      return r;
    }),
  );
  const results = await new DeferredList(deferreds, { consumeErrors: true });
  expect(sem.tokens).toBe(CONCURRENCY);
  expect(sem.waiting.length).toBe(0);
  const outcomes = new Map<number, [boolean, unknown]>();
  results.forEach(([ok, value], id) => {
    outcomes.set(id, [ok, ok ? value : (value as Failure).value]);
  });
  return { results, outcomes, fired };
}

describe('the walkthrough recipes under chaos', () => {
  it('DeferredSemaphore(50).run(getPage, url) + DeferredList: one outcome per URL, at most 50 at the server', async () => {
    await server.reset();
    const errors = watchProcessErrors();
    const { results, outcomes, fired } = await semaphoreRecipe(PAGE_OPTIONS);

    expect(results).toHaveLength(COUNT);
    expect(fired.every((n) => n === 1)).toBe(true);
    checkOutcomes(server.seed, outcomes, ids);
    const stats = await server.stats();
    expect(new Set(stats.seenIds).size).toBe(COUNT);
    expect(stats.peakActive).toBeLessThanOrEqual(CONCURRENCY);
    expect(await settleResources(baseline)).toEqual([]);
    expect(errors.stop()).toEqual([]);
  });

  it('with a dispatcher of 50 connections, the server never sees more than 50 sockets either', async () => {
    await server.reset();
    const errors = watchProcessErrors();
    const dispatcher = new Agent({ connections: CONCURRENCY });
    try {
      const { outcomes, fired } = await semaphoreRecipe({ ...PAGE_OPTIONS, dispatcher });
      expect(fired.every((n) => n === 1)).toBe(true);
      checkOutcomes(server.seed, outcomes, ids);
    } finally {
      await dispatcher.close();
    }
    const stats = await server.stats();
    expect(stats.peakActive).toBeLessThanOrEqual(CONCURRENCY);
    expect(stats.peakSockets).toBeLessThanOrEqual(CONCURRENCY);
    expect(await settleResources(baseline)).toEqual([]);
    expect(errors.stop()).toEqual([]);
  });

  it('Cooperator with 50 coiterate calls over one generator of getPage(url).addCallbacks(...): one outcome per URL', async () => {
    await server.reset();
    const errors = watchProcessErrors();
    const cooperator = new Cooperator();
    const outcomes = new Map<number, [boolean, unknown]>();
    const fired = new Array<number>(COUNT).fill(0);
    let created = 0;
    let peakCreatedNotDone = 0;
    function* work(): Generator<Deferred<void>> {
      for (const id of ids) {
        created++;
        peakCreatedNotDone = Math.max(peakCreatedNotDone, created - outcomes.size);
        yield getPage(server.url(id), PAGE_OPTIONS).addCallbacks(
          (page) => {
            fired[id]++;
            outcomes.set(id, [true, page]);
          },
          (failure) => {
            fired[id]++;
            outcomes.set(id, [false, failure.value]);
          },
        );
      }
    }
    const jobs = work();
    const tasks = Array.from({ length: CONCURRENCY }, () => cooperator.coiterate(jobs));
    const done = await new DeferredList(tasks);

    expect(done.every(([ok]) => ok)).toBe(true);
    expect(created).toBe(COUNT);
    expect(fired.every((n) => n === 1)).toBe(true);
    checkOutcomes(server.seed, outcomes, ids);
    // The Cooperator bounds how many jobs exist, not only how many run.
    expect(peakCreatedNotDone).toBeLessThanOrEqual(CONCURRENCY);
    const stats = await server.stats();
    expect(new Set(stats.seenIds).size).toBe(COUNT);
    expect(stats.peakActive).toBeLessThanOrEqual(CONCURRENCY);
    expect(await settleResources(baseline)).toEqual([]);
    expect(errors.stop()).toEqual([]);
  });
});
