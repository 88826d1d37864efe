import { Deferred, succeed } from 'async-batching';
import { type Comparison, interleave, ratio, times, type Variant } from '../harness.ts';

export interface AwaitPathParams {
  count: number;
  warmup: number;
  rounds: number;
}

export const AWAIT_PATH_FULL: AwaitPathParams = { count: 200_000, warmup: 2, rounds: 11 };
export const AWAIT_PATH_QUICK: AwaitPathParams = { count: 200_000, warmup: 1, rounds: 5 };

type Resolve = (value: number) => void;

/**
 * The least a handle that is not a native Promise can cost in `Promise.all`: an object whose `then` keeps the resolve
 * function it is given and calls it when the handle settles. V8 adopts it as it adopts a Deferred (a wrapper Promise,
 * its resolve functions, one job), so the gap between this row and native Promises is V8's, not the library's.
 */
class PlainThenable {
  resolve: Resolve | null = null;
  then(resolve: Resolve): void {
    this.resolve = resolve;
  }
}

/** The same, settled before anything awaits it: its `then` calls back at once, as a fired Deferred's does. */
class SettledThenable {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  then(resolve: Resolve): void {
    resolve(this.value);
  }
}

/** Native Promises and the functions that resolve them, made as the Deferreds are. */
function nativePending(count: number): { promises: Promise<number>[]; resolvers: Resolve[] } {
  const resolvers: Resolve[] = [];
  const promises: Promise<number>[] = [];
  for (let i = 0; i < count; i++) promises.push(new Promise<number>((r) => resolvers.push(r)));
  return { promises, resolvers };
}

const ALL_LATER = 'Promise.all over Deferreds settled after it';
const NATIVE_ALL_LATER = 'Promise.all over native Promises settled after it';
const THENABLE_ALL_LATER = 'Promise.all over plain thenables settled after it (floor)';
const SETTLED_LATER = 'Promise.allSettled over Deferreds settled after it';
const NATIVE_SETTLED_LATER = 'Promise.allSettled over native Promises settled after it';
const ALL_FIRED = 'Promise.all over fired Deferreds';
const NATIVE_ALL_FIRED = 'Promise.all over resolved native Promises';
const THENABLE_ALL_FIRED = 'Promise.all over settled plain thenables (floor)';
const LOOP_FIRED = 'await in a loop over fired Deferreds';
const NATIVE_LOOP_FIRED = 'await in a loop over resolved native Promises';
const THENABLE_LOOP_FIRED = 'await in a loop over settled plain thenables (floor)';

/**
 * Awaiting Deferreds the way Promise users do (`Promise.all`, `Promise.allSettled`, `await`), each row beside the same
 * code over native Promises settled at the same moments. "Settled after it": every handle is made and handed to
 * `Promise.all` first, V8 adopts them all (one `await null` lets its jobs run), then each is settled in turn; the
 * making is timed on both sides. No GC is forced.
 */
export async function awaitPathComparison(p: AwaitPathParams): Promise<Comparison> {
  const { count } = p;
  const variants: Variant[] = [
    {
      name: ALL_LATER,
      ours: true,
      how: 'ds = count new Deferreds; all = Promise.all(ds); await null; ds[i].callback(i) for each; await all',
      run: async () => {
        const ds: Deferred<number>[] = [];
        for (let i = 0; i < count; i++) ds.push(new Deferred<number>());
        const all = Promise.all(ds);
        await null;
        for (let i = 0; i < count; i++) ds[i].callback(i);
        await all;
      },
    },
    {
      name: NATIVE_ALL_LATER,
      ours: false,
      how: 'the same with new Promise((resolve) => ...) and its resolve function',
      run: async () => {
        const { promises, resolvers } = nativePending(count);
        const all = Promise.all(promises);
        await null;
        for (let i = 0; i < count; i++) resolvers[i](i);
        await all;
      },
    },
    {
      name: THENABLE_ALL_LATER,
      ours: false,
      how: 'the same with an object whose then() keeps the resolve function: V8 adopts it as it adopts a Deferred',
      run: async () => {
        const ts: PlainThenable[] = [];
        for (let i = 0; i < count; i++) ts.push(new PlainThenable());
        const all = Promise.all(ts);
        await null;
        for (let i = 0; i < count; i++) (ts[i].resolve as Resolve)(i);
        await all;
      },
    },
    {
      name: SETTLED_LATER,
      ours: true,
      how: 'as the first row, with Promise.allSettled',
      run: async () => {
        const ds: Deferred<number>[] = [];
        for (let i = 0; i < count; i++) ds.push(new Deferred<number>());
        const all = Promise.allSettled(ds);
        await null;
        for (let i = 0; i < count; i++) ds[i].callback(i);
        await all;
      },
    },
    {
      name: NATIVE_SETTLED_LATER,
      ours: false,
      how: 'as the second row, with Promise.allSettled',
      run: async () => {
        const { promises, resolvers } = nativePending(count);
        const all = Promise.allSettled(promises);
        await null;
        for (let i = 0; i < count; i++) resolvers[i](i);
        await all;
      },
    },
    {
      name: ALL_FIRED,
      ours: true,
      how: 'await Promise.all(ds), every succeed(i) made first',
      run: async () => {
        const ds: Deferred<number>[] = [];
        for (let i = 0; i < count; i++) ds.push(succeed(i));
        await Promise.all(ds);
      },
    },
    {
      name: NATIVE_ALL_FIRED,
      ours: false,
      how: 'await Promise.all(ps), every Promise.resolve(i) made first',
      run: async () => {
        const ps: Promise<number>[] = [];
        for (let i = 0; i < count; i++) ps.push(Promise.resolve(i));
        await Promise.all(ps);
      },
    },
    {
      name: THENABLE_ALL_FIRED,
      ours: false,
      how: 'the same over objects whose then() calls back at once',
      run: async () => {
        const ts: SettledThenable[] = [];
        for (let i = 0; i < count; i++) ts.push(new SettledThenable(i));
        await Promise.all(ts);
      },
    },
    {
      name: LOOP_FIRED,
      ours: true,
      how: 'every succeed(i) made, then `for (const d of ds) await d`',
      run: async () => {
        const ds: Deferred<number>[] = [];
        for (let i = 0; i < count; i++) ds.push(succeed(i));
        for (const d of ds) await d;
      },
    },
    {
      name: NATIVE_LOOP_FIRED,
      ours: false,
      how: 'every Promise.resolve(i) made, then `for (const p of ps) await p`',
      run: async () => {
        const ps: Promise<number>[] = [];
        for (let i = 0; i < count; i++) ps.push(Promise.resolve(i));
        for (const p of ps) await p;
      },
    },
    {
      name: THENABLE_LOOP_FIRED,
      ours: false,
      how: 'the same over objects whose then() calls back at once',
      run: async () => {
        const ts: SettledThenable[] = [];
        for (let i = 0; i < count; i++) ts.push(new SettledThenable(i));
        for (const t of ts) await t;
      },
    },
  ];
  const rows = await interleave(variants, { warmup: p.warmup, rounds: p.rounds, items: count });
  const pairs: [string, string][] = [
    [ALL_LATER, NATIVE_ALL_LATER],
    [SETTLED_LATER, NATIVE_SETTLED_LATER],
    [ALL_FIRED, NATIVE_ALL_FIRED],
    [LOOP_FIRED, NATIVE_LOOP_FIRED],
  ];
  for (const [ours, native] of pairs) {
    for (const row of rows) if (row.name === native) row.against = ours;
  }
  const share = (ours: string, native: string) => 1 / ratio(rows, native, ours);
  const worst = Math.max(...pairs.map(([ours, native]) => share(ours, native)));
  // Each kind of Deferred row beside the plain thenable that takes the same path through V8.
  const floors: [string, string, string][] = [
    [ALL_LATER, THENABLE_ALL_LATER, 'Promise.all, settled after it'],
    [ALL_FIRED, THENABLE_ALL_FIRED, 'Promise.all, settled before'],
    [LOOP_FIRED, THENABLE_LOOP_FIRED, 'await in a loop, settled before'],
  ];
  const nativeOf = (ours: string) => (pairs.find(([o]) => o === ours) as [string, string])[1];
  const floorText = floors
    .map(
      ([ours, floor, what]) =>
        `${what}: the floor ${times(share(floor, nativeOf(ours)))} native's time, Deferreds ${times(share(ours, floor))} the floor's`,
    )
    .join('; ');
  return {
    id: 'await-path',
    title: 'Awaiting Deferreds as Promises',
    workload: `${count.toLocaleString('en-US')} Deferreds or native Promises, settled at the same moments`,
    unit: 'ms',
    baseline: ALL_LATER,
    rows,
    targets: [
      {
        text: 'Promise.all, Promise.allSettled and await over Deferreds at most 1.2x the time over native Promises',
        holds: worst <= 1.2,
        actual: pairs.map(([ours, native]) => times(share(ours, native))).join(', '),
      },
    ],
    notes: [
      `A plain object with a then() that does no more than settle (the floor rows) takes V8's path for any handle that is not a native Promise: a wrapper Promise, its resolve functions and one more job. ${floorText}.`,
    ],
  };
}
