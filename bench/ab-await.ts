// Two builds of async-batching side by side on the await path, in one process, rows interleaved round-robin, no
// forced GC: `node bench/ab-await.ts OLD/dist/index.js NEW/dist/index.js [rounds] [filter]`. See ab-semaphore.ts for
// how to build an old commit. `filter` keeps the rows whose name contains it.

import { loadavg } from 'node:os';
import pLimit from 'p-limit';
import { interleaveNamed, loadBuilds } from './harness.ts';
import { minimalSemaphore, minimalThenableSemaphore } from './minimal-semaphore.ts';

type Lib = typeof import('async-batching');
const { OLD, NEW, rest } = await loadBuilds<Lib>('ab-await.ts', '[rounds] [filter]');
const [rounds = '9', filter = ''] = rest;
const N = 200_000;
const C = 50;
const withArg = async (_item: number) => {};
const items = Array.from({ length: N }, (_, i) => i);

const all = (L: Lib) => async () => {
  const s = new L.DeferredSemaphore(C);
  await Promise.all(items.map((i) => s.run(withArg, i)));
};
const gather = (L: Lib) => async () => {
  const s = new L.DeferredSemaphore(C);
  await L.gatherResults(items.map((i) => s.run(withArg, i)));
};
const loop = (L: Lib) => async () => {
  const s = new L.DeferredSemaphore(C);
  const ds = items.map((i) => s.run(withArg, i));
  for (const d of ds) await d;
};
/** N Deferreds (or Promises) awaited by Promise.all, then fired one by one. */
const bareAll = (L: Lib) => async () => {
  const ds = items.map(() => new L.Deferred<number>());
  const all = Promise.all(ds);
  for (let i = 0; i < N; i++) ds[i].callback(i);
  await all;
};
const bareLoop = (L: Lib) => async () => {
  const ds = items.map(() => new L.Deferred<number>());
  for (let i = 0; i < N; i++) ds[i].callback(i);
  for (const d of ds) await d;
};
const nativeResolvers = () => {
  const rs: ((v: number) => void)[] = [];
  const ps = items.map(() => new Promise<number>((r) => rs.push(r)));
  return { ps, rs };
};
const variants: Record<string, () => Promise<unknown>> = {
  'new Promise.all(sem.run)': all(NEW),
  'old Promise.all(sem.run)': all(OLD),
  'p-limit Promise.all': async () => {
    const l = pLimit(C);
    await Promise.all(items.map((i) => l(withArg, i)));
  },
  'minimal Promise.all': async () => {
    const l = minimalSemaphore(C);
    await Promise.all(items.map((i) => l(withArg, i)));
  },
  'minimal thenable Promise.all': async () => {
    const l = minimalThenableSemaphore(C);
    await Promise.all(items.map((i) => l(withArg, i)));
  },
  'new gather(sem.run)': gather(NEW),
  'old gather(sem.run)': gather(OLD),
  'new await loop(sem.run)': loop(NEW),
  'old await loop(sem.run)': loop(OLD),
  'p-limit await loop': async () => {
    const l = pLimit(C);
    const ps = items.map((i) => l(withArg, i));
    for (const p of ps) await p;
  },
  'minimal await loop': async () => {
    const l = minimalSemaphore(C);
    const ps = items.map((i) => l(withArg, i));
    for (const p of ps) await p;
  },
  'new bare Promise.all': bareAll(NEW),
  'old bare Promise.all': bareAll(OLD),
  'native bare Promise.all': async () => {
    const { ps, rs } = nativeResolvers();
    const all = Promise.all(ps);
    for (let i = 0; i < N; i++) rs[i](i);
    await all;
  },
  'new bare await loop': bareLoop(NEW),
  'old bare await loop': bareLoop(OLD),
  'native bare await loop': async () => {
    const { ps, rs } = nativeResolvers();
    for (let i = 0; i < N; i++) rs[i](i);
    for (const p of ps) await p;
  },
};
const kept = Object.fromEntries(Object.entries(variants).filter(([n]) => n.includes(filter)));
const rows = await interleaveNamed(kept, Number(rounds));
console.log(`${'row'.padEnd(28)}   wall ms  cpu ms (medians of ${rounds}; load ${loadavg()[0].toFixed(1)})`);
for (const row of rows) {
  const cpuMs = (row.cpuMicrosPerItem ?? 0) / 1000;
  console.log(`${row.name.padEnd(28)} ${row.value.toFixed(0).padStart(8)} ${cpuMs.toFixed(0).padStart(7)}`);
}
