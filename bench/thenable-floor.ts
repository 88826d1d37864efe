// How much of `Promise.all` over Deferreds is V8's path for foreign thenables, and how much is Deferred.then(): the
// same rows with the library's then() and with a stand-in that allocates nothing and returns nothing (not a valid
// then(): it calls V8's resolve functions from the chain whatever the Deferred's state, which only V8's own callers
// tolerate; the library does the same for a Deferred whose chain has not run to its end, and only when it is given a
// Promise's own resolve functions), beside native Promises, p-limit and the minimal eager semaphore. In one process,
// rows interleaved, no forced GC: `node bench/thenable-floor.ts [rounds]`. The await-path comparison of
// `npm run bench` holds the same rows against plain objects whose then() does no more than settle.

import { loadavg } from 'node:os';
import { Deferred, DeferredSemaphore, gatherResults } from 'async-batching';
import pLimit from 'p-limit';
import { interleaveNamed } from './harness.ts';
import { minimalSemaphore } from './minimal-semaphore.ts';

const N = 200_000;
const rounds = Number(process.argv[2] ?? 9);
const items = Array.from({ length: N }, (_, i) => i);
const job = async (_item: number) => {};
const libraryThen = Deferred.prototype.then;
type Settle = (v: unknown) => void;
/** The least a then() can do: settle V8's wrapper Promise from the chain, with no Promise of its own. */
function floorThen(this: Deferred<unknown>, onFulfilled: Settle, onRejected: Settle) {
  this.addCallbacks(
    (r) => {
      onFulfilled(r);
      return r;
    },
    (f) => {
      onRejected(f.value);
      return f;
    },
  );
}
const withThen = (then: unknown, run: () => Promise<unknown>) => async () => {
  Deferred.prototype.then = then as typeof libraryThen;
  try {
    await run();
  } finally {
    Deferred.prototype.then = libraryThen;
  }
};
const semAll = async () => {
  const sem = new DeferredSemaphore(50);
  await Promise.all(items.map((i) => sem.run(job, i)));
};
const bareAll = async () => {
  const ds = items.map(() => new Deferred<number>());
  const all = Promise.all(ds);
  for (let i = 0; i < N; i++) ds[i].callback(i);
  await all;
};
const variants: Record<string, () => Promise<unknown>> = {
  'Promise.all(sem.run), then()': withThen(libraryThen, semAll),
  'Promise.all(sem.run), floor then': withThen(floorThen, semAll),
  'p-limit, Promise.all': async () => {
    const limit = pLimit(50);
    await Promise.all(items.map((i) => limit(job, i)));
  },
  'minimal semaphore, Promise.all': async () => {
    const limit = minimalSemaphore(50);
    await Promise.all(items.map((i) => limit(job, i)));
  },
  'gatherResults(sem.run)': async () => {
    const sem = new DeferredSemaphore(50);
    await gatherResults(items.map((i) => sem.run(job, i)));
  },
  'Promise.all(Deferreds), then()': withThen(libraryThen, bareAll),
  'Promise.all(Deferreds), floor then': withThen(floorThen, bareAll),
  'Promise.all(native Promises)': async () => {
    const resolvers: ((v: number) => void)[] = [];
    const ps = items.map(() => new Promise<number>((r) => resolvers.push(r)));
    const all = Promise.all(ps);
    for (let i = 0; i < N; i++) resolvers[i](i);
    await all;
  },
};
const rows = await interleaveNamed(variants, rounds);
console.log(`medians of ${rounds} rounds, load ${loadavg()[0].toFixed(1)}`);
for (const row of rows) console.log(`${row.name.padEnd(36)} ${row.value.toFixed(0).padStart(6)} ms`);
