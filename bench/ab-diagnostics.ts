// What publishing on diagnostics_channel costs with no subscriber: two builds side by side on the hot paths that
// gained a publisher (a pool's jobs, the rate limiter, batcher), in one process, rows interleaved, no forced GC:
// `node bench/ab-diagnostics.ts OLD/dist/index.js NEW/dist/index.js [rounds]`. See ab-semaphore.ts for the semaphore.

import { loadavg } from 'node:os';
import { interleaveNamed, loadBuilds } from './harness.ts';

type Lib = typeof import('async-batching');
const { OLD, NEW, rest } = await loadBuilds<Lib>('ab-diagnostics.ts', '[rounds]');
const [rounds = '9'] = rest;
const task = async (item: number) => item;
const items = Array.from({ length: 200_000 }, (_, i) => i);
const fewer = items.slice(0, 50_000);
const rows = (L: Lib): Record<string, () => Promise<unknown>> => ({
  'parallel 200k': () => Promise.resolve(L.parallel(items, 50, task)),
  'RateLimiter.run 50k': async () => {
    const limiter = new L.RateLimiter({ max: 500_000, per: 1000 });
    await L.gatherResults(fewer.map((item) => limiter.run(task, item)));
  },
  'batcher 100k': async () => {
    const b = L.batcher((keys: readonly number[]) => keys, { maxSize: 100 });
    await L.gatherResults(items.slice(0, 100_000).map((i) => b.load(i)));
  },
});
const variants: Record<string, () => Promise<unknown>> = {};
const newRows = rows(NEW);
const oldRows = rows(OLD);
for (const name of Object.keys(newRows)) {
  variants[`new ${name}`] = newRows[name];
  variants[`old ${name}`] = oldRows[name];
}
const measured = await interleaveNamed(variants, Number(rounds));
console.log(`medians of ${rounds} rounds, load ${loadavg()[0].toFixed(1)}`);
for (const row of measured) console.log(`${row.name.padEnd(24)} ${row.value.toFixed(1).padStart(8)} ms`);
