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

/** `count` pending handles of one kind and what settles the i-th with `i`. */
interface Pending {
  handles: PromiseLike<number>[];
  settle: (i: number) => void;
}

function pendingDeferreds(count: number): Pending {
  const ds: Deferred<number>[] = [];
  for (let i = 0; i < count; i++) ds.push(new Deferred<number>());
  return { handles: ds, settle: (i) => ds[i].callback(i) };
}

function pendingNative(count: number): Pending {
  const resolvers: Resolve[] = [];
  const handles: Promise<number>[] = [];
  for (let i = 0; i < count; i++) handles.push(new Promise<number>((r) => resolvers.push(r)));
  return { handles, settle: (i) => resolvers[i](i) };
}

function pendingThenables(count: number): Pending {
  const ts: PlainThenable[] = [];
  for (let i = 0; i < count; i++) ts.push(new PlainThenable());
  return { handles: ts as unknown as PromiseLike<number>[], settle: (i) => (ts[i].resolve as Resolve)(i) };
}

type Gather = (handles: PromiseLike<number>[]) => Promise<unknown>;
const all: Gather = (handles) => Promise.all(handles);
const allSettled: Gather = (handles) => Promise.allSettled(handles);

/** Hands every handle to `gather`, lets V8 adopt them all (its jobs run before `await null` resumes), then settles each. */
const settledAfter = (count: number, make: (count: number) => Pending, gather: Gather) => async () => {
  const { handles, settle } = make(count);
  const gathered = gather(handles);
  await null;
  for (let i = 0; i < count; i++) settle(i);
  await gathered;
};

/** Handles settled before anything awaits them, then gathered or awaited one by one. */
const settledBefore =
  (count: number, make: (i: number) => PromiseLike<number>, consume: 'all' | 'loop') => async () => {
    const handles: PromiseLike<number>[] = [];
    for (let i = 0; i < count; i++) handles.push(make(i));
    if (consume === 'all') await Promise.all(handles);
    else for (const h of handles) await h;
  };

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
      run: settledAfter(count, pendingDeferreds, all),
    },
    {
      name: NATIVE_ALL_LATER,
      ours: false,
      how: 'the same with new Promise((resolve) => ...) and its resolve function',
      run: settledAfter(count, pendingNative, all),
    },
    {
      name: THENABLE_ALL_LATER,
      ours: false,
      how: 'the same with an object whose then() keeps the resolve function: V8 adopts it as it adopts a Deferred',
      run: settledAfter(count, pendingThenables, all),
    },
    {
      name: SETTLED_LATER,
      ours: true,
      how: 'as the first row, with Promise.allSettled',
      run: settledAfter(count, pendingDeferreds, allSettled),
    },
    {
      name: NATIVE_SETTLED_LATER,
      ours: false,
      how: 'as the second row, with Promise.allSettled',
      run: settledAfter(count, pendingNative, allSettled),
    },
    {
      name: ALL_FIRED,
      ours: true,
      how: 'await Promise.all(ds), every succeed(i) made first',
      run: settledBefore(count, succeed, 'all'),
    },
    {
      name: NATIVE_ALL_FIRED,
      ours: false,
      how: 'await Promise.all(ps), every Promise.resolve(i) made first',
      run: settledBefore(count, (i) => Promise.resolve(i), 'all'),
    },
    {
      name: THENABLE_ALL_FIRED,
      ours: false,
      how: 'the same over objects whose then() calls back at once',
      run: settledBefore(count, (i) => new SettledThenable(i) as unknown as PromiseLike<number>, 'all'),
    },
    {
      name: LOOP_FIRED,
      ours: true,
      how: 'every succeed(i) made, then `for (const d of ds) await d`',
      run: settledBefore(count, succeed, 'loop'),
    },
    {
      name: NATIVE_LOOP_FIRED,
      ours: false,
      how: 'every Promise.resolve(i) made, then `for (const p of ps) await p`',
      run: settledBefore(count, (i) => Promise.resolve(i), 'loop'),
    },
    {
      name: THENABLE_LOOP_FIRED,
      ours: false,
      how: 'the same over objects whose then() calls back at once',
      run: settledBefore(count, (i) => new SettledThenable(i) as unknown as PromiseLike<number>, 'loop'),
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
