// Two builds of async-batching side by side on the semaphore rows, in one process, rows interleaved round-robin, no
// forced GC: `node bench/ab-semaphore.ts OLD/dist/index.js NEW/dist/index.js [rounds]`. To build an old commit:
// `git worktree add /tmp/old <commit> && cd /tmp/old && npm ci && npm run build`, then pass /tmp/old/lib/dist/index.js.

import pLimit from 'p-limit';
import { interleaveNamed, loadBuilds } from './harness.ts';

type Lib = typeof import('async-batching');
const { OLD, NEW, rest } = await loadBuilds<Lib>('ab-semaphore.ts', '[rounds]');
const [rounds = '9'] = rest;
const N = 200_000;
const C = 50;
const noop = async () => {};
const withArg = async (_item: number) => {};
const items = Array.from({ length: N }, (_, i) => i);
const list = (L: Lib) => async () => {
  const s = new L.DeferredSemaphore(C);
  const ds = [];
  for (let i = 0; i < N; i++) ds.push(s.run(noop));
  await new L.DeferredList(ds);
};
const arg = (L: Lib) => async () => {
  const s = new L.DeferredSemaphore(C);
  await L.gatherResults(items.map((i) => s.run(withArg, i)));
};
const variants: Record<string, () => Promise<unknown>> = {
  'new run+DeferredList': list(NEW),
  'old run+DeferredList': list(OLD),
  'p-limit': async () => {
    const l = pLimit(C);
    const ps = [];
    for (let i = 0; i < N; i++) ps.push(l(noop));
    await Promise.all(ps);
  },
  'new run(fn,item)+gather': arg(NEW),
  'old run(fn,item)+gather': arg(OLD),
  'p-limit(fn,item)': async () => {
    const l = pLimit(C);
    await Promise.all(items.map((i) => l(withArg, i)));
  },
};
const rows = await interleaveNamed(variants, Number(rounds));
for (const row of rows) console.log(`${row.name.padEnd(26)} ${row.value.toFixed(0).padStart(6)} ms`);
