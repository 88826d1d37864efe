// Two builds of async-batching side by side on the lazy rows that hand outcomes to a `for await`, in one process,
// rows interleaved round-robin, no forced GC: `node bench/ab-stream.ts OLD/dist/index.js NEW/dist/index.js [rounds]
// [filter]`. See ab-semaphore.ts for how to build an old commit; `filter` keeps the rows whose name contains it.
// "for await floor" is the least any `for await` over 200,000 outcomes can cost: next() hands back the same settled
// Promise of the same result every time, so it allocates nothing.

import { loadavg } from 'node:os';
import async from 'async';
import { interleaveNamed, loadBuilds } from './harness.ts';

type Lib = typeof import('async-batching');
const { OLD, NEW, rest } = await loadBuilds<Lib>('ab-stream.ts', '[rounds] [filter]');
const [rounds = '15', filter = ''] = rest;
const N = 200_000;
const C = 50;
const double = async (x: number): Promise<number> => x * 2;
function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

const stream = (L: Lib) => async () => {
  const values: number[] = [];
  for await (const outcome of L.parallelStream(range(N), C, double)) {
    if (outcome.ok) values[outcome.index] = outcome.value;
  }
};
const batches = (L: Lib) => async () => {
  const values: number[] = [];
  for await (const batch of L.inBatches(L.parallelStream(range(N), C, double))) {
    for (const outcome of batch) if (outcome.ok) values[outcome.index] = outcome.value;
  }
};
const variants: Record<string, () => Promise<unknown>> = {
  'new parallelStream': stream(NEW),
  'old parallelStream': stream(OLD),
  'new inBatches': batches(NEW),
  'old inBatches': batches(OLD),
  'new parallel': async () => {
    await NEW.parallel(range(N), C, double);
  },
  'async.mapLimit': () => async.mapLimit(range(N), C, double),
  'for await floor': async () => {
    let i = 0;
    let sum = 0;
    const outcome = { index: 0, ok: true, value: 1 };
    const step = Promise.resolve({ done: false as const, value: outcome });
    const end = Promise.resolve({ done: true as const, value: undefined });
    const ready: AsyncIterableIterator<typeof outcome> = {
      next: () => (i++ < N ? step : end),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    for await (const o of ready) sum += o.value;
    return sum;
  },
};
const kept = Object.fromEntries(Object.entries(variants).filter(([n]) => n.includes(filter)));
const rows = await interleaveNamed(kept, Number(rounds));
console.log(`${'row'.padEnd(22)}   wall ms  cpu ms (medians of ${rounds}; load ${loadavg()[0].toFixed(1)})`);
for (const row of rows) {
  const cpuMs = (row.cpuMicrosPerItem ?? 0) / 1000;
  console.log(`${row.name.padEnd(22)} ${row.value.toFixed(1).padStart(8)} ${cpuMs.toFixed(1).padStart(7)}`);
}
