// The benchmark harness, run with tiny counts: it must produce a well-formed result for every comparison. Timings and
// ratios are never asserted — on a busy machine they mean nothing in a test.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMPARISON_IDS } from '../../../bench/comparisons.ts';
import type { Comparison } from '../../../bench/harness.ts';
import {
  formatConsole,
  formatMarkdown,
  machine,
  type Results,
  validateComparison,
} from '../../../bench/report.ts';
import { awaitPathComparison } from '../../../bench/scenarios/await-path.ts';
import { deferredListComparison } from '../../../bench/scenarios/deferred-list.ts';
import { httpComparison } from '../../../bench/scenarios/http.ts';
import { lazyComparison } from '../../../bench/scenarios/lazy.ts';
import { memoryComparison } from '../../../bench/scenarios/memory.ts';
import { semaphoreComparison } from '../../../bench/scenarios/semaphore.ts';

const run = promisify(execFile);

function expectWellFormed(c: Comparison, rowNames: string[]): void {
  expect(validateComparison(c)).toEqual([]);
  expect(c.notMeasured).toBeUndefined();
  expect(c.rows.map((r) => r.name)).toEqual(rowNames);
  for (const t of c.targets) expect(typeof t.holds).toBe('boolean');
}

describe('benchmark harness (tiny counts)', () => {
  const results: Comparison[] = [];

  it('measures the semaphore comparison', async () => {
    const c = await semaphoreComparison({ count: 2_000, concurrency: 50, warmup: 0, rounds: 1 });
    expectWellFormed(c, [
      'DeferredSemaphore.run',
      'DeferredSemaphore.run, no DeferredList',
      'DeferredSemaphore.run(fn, item) + gatherResults',
      'Promise.all over sem.run(fn, item)',
      'await in a loop over sem.run(fn, item)',
      'minimal eager semaphore (floor)',
      'minimal eager semaphore, thenable handles (floor)',
      'p-limit(fn, item)',
      'p-limit(fn, item), await in a loop',
      'p-limit',
      'p-queue',
      'async.queue',
      'bare workers (floor)',
    ]);
    results.push(c);
  });

  it('measures the lazy batching comparison', async () => {
    const c = await lazyComparison({ count: 2_000, concurrency: 50, warmup: 0, rounds: 1 });
    expectWellFormed(c, [
      'parallel',
      'parallelStream',
      'parallelStream, inBatches',
      'Cooperator.coiterate',
      'p-map',
      'p-map pMapIterable',
      'async.mapLimit',
      'bare workers (floor)',
    ]);
    results.push(c);
  });

  it('measures DeferredList and gatherResults against Promise.allSettled and Promise.all', async () => {
    const c = await deferredListComparison({ count: 2_000, warmup: 0, rounds: 1 });
    expectWellFormed(c, ['DeferredList', 'gatherResults', 'Promise.all', 'Promise.allSettled']);
    expect(c.notes?.[0]).toMatch(/^gatherResults takes [\d.]+x the time of Promise\.all/);
    results.push(c);
  });

  it('measures awaiting Deferreds beside native Promises settled at the same moments', async () => {
    const c = await awaitPathComparison({ count: 2_000, warmup: 0, rounds: 1 });
    expectWellFormed(c, [
      'Promise.all over Deferreds settled after it',
      'Promise.all over native Promises settled after it',
      'Promise.all over plain thenables settled after it (floor)',
      'Promise.allSettled over Deferreds settled after it',
      'Promise.allSettled over native Promises settled after it',
      'Promise.all over fired Deferreds',
      'Promise.all over resolved native Promises',
      'Promise.all over settled plain thenables (floor)',
      'await in a loop over fired Deferreds',
      'await in a loop over resolved native Promises',
      'await in a loop over settled plain thenables (floor)',
    ]);
    expect(c.targets[0].actual).toMatch(/^[\d.]+x, [\d.]+x, [\d.]+x, [\d.]+x$/);
    results.push(c);
  });

  it('measures peak heap growth in child processes', async () => {
    const c = await memoryComparison({ count: 5_000, concurrencies: [10], rounds: 1 });
    expectWellFormed(c, ['parallelStream, n=10', 'p-limit, n=10']);
    expect(c.rows[1].against).toBe('parallelStream, n=10');
    results.push(c);
  });

  it('measures HTTP clients against a server in another process', async () => {
    const c = await httpComparison({ count: 100, concurrency: 10, warmupCount: 20, rounds: 1, bytes: 2048 });
    expectWellFormed(c, ['getPage', 'undici request', 'fetch', 'got', 'axios']);
    results.push(c);
  });

  it('formats every measured comparison for the console and for RESULTS.md', () => {
    const all: Results = {
      generatedAt: new Date(0).toISOString(),
      mode: 'quick',
      ...machine(),
      loadBefore: 0,
      loadAfter: 0,
      durationSeconds: 1,
      comparisons: results,
    };
    const text = formatConsole(all);
    const md = formatMarkdown(all);
    for (const c of results) {
      expect(text).toContain(c.title);
      expect(md).toContain(`## `);
      expect(md).toContain(c.title);
      for (const row of c.rows) expect(md).toContain(row.name.replaceAll('|', '\\|'));
      for (const t of c.targets) expect(md).toContain(t.text);
    }
    expect(JSON.parse(JSON.stringify(all))).toEqual(all);
  });

  it('flags a malformed result', () => {
    const broken: Comparison = {
      id: 'x',
      title: 'x',
      workload: '',
      unit: 'ms',
      baseline: 'ours',
      rows: [{ name: 'theirs', ours: false, how: '', value: Number.NaN, samples: [] }],
      targets: [],
    };
    expect(validateComparison(broken).length).toBeGreaterThan(2);
  });

  it('lists every comparison in --help and rejects an unknown one', async () => {
    const { stdout } = await run(process.execPath, ['bench/run.ts', '--help']);
    for (const id of COMPARISON_IDS) expect(stdout).toContain(id);
    await expect(run(process.execPath, ['bench/run.ts', '--only', 'nonsense'])).rejects.toThrow(/--only/);
  });
});
