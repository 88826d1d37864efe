// What each item waiting in `Promise.all` keeps alive, in bytes, for two builds of async-batching and the peers:
// `node bench/ab-retained.ts OLD/dist/index.js NEW/dist/index.js`. 100,000 jobs that never finish are handed to a
// semaphore of 50 and to `Promise.all`; once every microtask has run, the heap is collected and its growth divided
// by the number of items. This is a memory measurement, so it collects the heap (timed runs never do). Most of the
// time of the "Promise.all(sem.run)" row of bench/ab-await.ts is the garbage collector copying these bytes.

import { loadavg } from 'node:os';
import pLimit from 'p-limit';
import { gc, loadBuilds } from './harness.ts';
import { minimalSemaphore } from './minimal-semaphore.ts';

type Lib = typeof import('async-batching');
const { OLD, NEW } = await loadBuilds<Lib>('ab-retained.ts');
const N = 100_000;
const C = 50;
const items = Array.from({ length: N }, (_, i) => i);
const never = (_item: number) => new Promise<never>(() => {});

/** What the row being measured made: reachable from the module until it has been measured. */
const held: unknown[] = [];

/** Keeps what `make` returns reachable, lets every microtask run, and gives the heap's growth per item. */
async function perItem(make: () => unknown): Promise<number> {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  held.push(make());
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / N;
  held.length = 0;
  return bytes;
}

const rows: Record<string, () => unknown> = {
  'new Promise.all(sem.run)': () => semAll(NEW),
  'old Promise.all(sem.run)': () => semAll(OLD),
  'new sem.run alone': () => semOnly(NEW),
  'old sem.run alone': () => semOnly(OLD),
  'p-limit Promise.all': () => {
    const limit = pLimit(C);
    const ps = items.map((i) => limit(never, i));
    return [limit, ps, Promise.all(ps)];
  },
  'minimal Promise.all': () => {
    const limit = minimalSemaphore(C);
    const ps = items.map((i) => limit(never, i));
    return [limit, ps, Promise.all(ps)];
  },
  'new Promise.all(Deferreds)': () => bareAll(NEW),
  'old Promise.all(Deferreds)': () => bareAll(OLD),
  'Promise.all(native Promises)': () => {
    const ps = items.map(() => new Promise<never>(() => {}));
    return [ps, Promise.all(ps)];
  },
};
function semAll(L: Lib) {
  const sem = new L.DeferredSemaphore(C);
  const ds = items.map((i) => sem.run(never, i));
  return [sem, ds, Promise.all(ds)];
}
function semOnly(L: Lib) {
  const sem = new L.DeferredSemaphore(C);
  return [sem, items.map((i) => sem.run(never, i))];
}
function bareAll(L: Lib) {
  const ds = items.map(() => new L.Deferred<number>());
  return [ds, Promise.all(ds)];
}

console.log(
  `bytes kept alive per waiting item (${N.toLocaleString('en')} items; load ${loadavg()[0].toFixed(1)})`,
);
for (const [name, make] of Object.entries(rows)) {
  console.log(`${name.padEnd(30)} ${(await perItem(make)).toFixed(0).padStart(6)}`);
}
