/**
 * The library against the plain model of Twisted in ./twisted.ts: random programs of callbacks, errbacks, returned
 * Deferreds and Promises, cancel, pause/unpause, chainDeferred, DeferredLists, a semaphore's acquire/release/run
 * (with synchronous and asynchronous jobs) and awaits (then, await, Promise.all/allSettled/race) run against both, and what each did, in order, must be the same.
 * Every optimisation of the library's chain is a claim this test checks.
 */
import {
  Deferred,
  DeferredList,
  DeferredSemaphore,
  Failure,
  gatherResults,
  setUnhandledFailureReporter,
  type UnhandledFailureReporter,
} from 'async-batching';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../helpers/gc.ts';
import { RefDeferred, RefDeferredList, RefDeferredSemaphore } from '../../reference/twisted.ts';

/** What a program needs of an implementation; both the library and the model have this shape. */
interface Impl {
  name: string;
  newDeferred(canceller?: (d: AnyDeferred) => void): AnyDeferred;
  newList(items: AnyDeferred[], options: ListOptions): AnyDeferred;
  gather(items: AnyDeferred[], consumeErrors: boolean): AnyDeferred;
  newSemaphore(limit: number): AnySemaphore;
  isDeferred(v: unknown): boolean;
}
interface AnyDeferred {
  called: boolean;
  paused: boolean | number;
  callback(v: unknown): void;
  errback(e?: unknown): void;
  addCallback(fn: (r: unknown) => unknown): unknown;
  addErrback(fn: (f: Failure) => unknown): unknown;
  addBoth(fn: (r: unknown) => unknown): unknown;
  addCallbacks(cb: (r: unknown) => unknown, eb: ((f: Failure) => unknown) | null): unknown;
  cancel(): void;
  pause(): void;
  unpause(): void;
  chainDeferred(other: AnyDeferred): unknown;
  then(onFulfilled: (v: unknown) => unknown, onRejected: (e: unknown) => unknown): Promise<unknown>;
}
interface AnySemaphore {
  tokens: number;
  acquire(): AnyDeferred;
  release(): void;
  run(fn: () => unknown): AnyDeferred;
}
interface ListOptions {
  fireOnOneCallback?: boolean;
  fireOnOneErrback?: boolean;
  consumeErrors?: boolean;
}

const library: Impl = {
  name: 'library',
  newDeferred: (c) => new Deferred(c as never) as unknown as AnyDeferred,
  newList: (items, o) => new DeferredList(items as unknown as Deferred[], o) as unknown as AnyDeferred,
  gather: (items, consume) =>
    gatherResults(items as unknown as Deferred[], consume) as unknown as AnyDeferred,
  newSemaphore: (n) => new DeferredSemaphore(n) as unknown as AnySemaphore,
  isDeferred: (v) => v instanceof Deferred,
};
const model: Impl = {
  name: 'model',
  newDeferred: (c) => new RefDeferred(c as never) as unknown as AnyDeferred,
  newList: (items, o) => new RefDeferredList(items as unknown as RefDeferred[], o) as unknown as AnyDeferred,
  // Twisted's gatherResults: a DeferredList that fails on the first failure, its entries reduced to their results.
  gather: (items, consume) =>
    new RefDeferredList(items as unknown as RefDeferred[], {
      fireOnOneErrback: true,
      consumeErrors: consume,
    }).addCallback((entries) => (entries as [boolean, unknown][]).map((e) => e[1])) as unknown as AnyDeferred,
  newSemaphore: (n) => new RefDeferredSemaphore(n) as unknown as AnySemaphore,
  isDeferred: (v) => v instanceof RefDeferred,
};

type Behaviour =
  | { b: 'value'; v: number }
  | { b: 'pass' }
  | { b: 'throw' }
  | { b: 'returnFailure' }
  | { b: 'returnPending' }
  | { b: 'returnFired'; v: number }
  | { b: 'returnPool'; k: number }
  | { b: 'returnPromise' }
  | { b: 'fireOther'; k: number; v: number }
  | { b: 'addToSelf' }
  | { b: 'cancelOther'; k: number };

/** How a program waits for Deferreds the way async code does: each settles a native Promise at the end of the chain. */
type Await = 'then' | 'await' | 'all' | 'allSettled' | 'race';

type Canceller = 'none' | 'noop' | 'fires' | 'fails' | 'throws';
type Job = 'value' | 'throw' | 'deferred' | 'promise';

type Op =
  | { op: 'new'; canceller: Canceller }
  | { op: 'callback'; d: number; v: number }
  | { op: 'errback'; d: number }
  | { op: 'add'; d: number; how: 'cb' | 'eb' | 'both' | 'callbacks'; beh: Behaviour }
  | { op: 'cancel'; d: number }
  | { op: 'pause'; d: number }
  | { op: 'unpause'; d: number }
  | { op: 'chain'; d: number; k: number }
  | { op: 'list'; ids: number[]; options: ListOptions }
  | { op: 'gather'; ids: number[]; consumeErrors: boolean }
  | { op: 'acquire' }
  | { op: 'release' }
  | { op: 'run'; job: Job; v: number }
  | { op: 'fireJob'; j: number; ok: boolean; v: number }
  | { op: 'settlePromise'; p: number; ok: boolean; v: number }
  | { op: 'await'; how: Await; ids: number[] };

const n = fc.nat({ max: 40 });
const small = fc.integer({ min: 0, max: 9 });
const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  { arbitrary: fc.record({ b: fc.constant('value' as const), v: small }), weight: 4 },
  { arbitrary: fc.constant({ b: 'pass' as const }), weight: 2 },
  { arbitrary: fc.constant({ b: 'throw' as const }), weight: 2 },
  { arbitrary: fc.constant({ b: 'returnFailure' as const }), weight: 1 },
  { arbitrary: fc.constant({ b: 'returnPending' as const }), weight: 2 },
  { arbitrary: fc.record({ b: fc.constant('returnFired' as const), v: small }), weight: 1 },
  { arbitrary: fc.record({ b: fc.constant('returnPool' as const), k: n }), weight: 2 },
  { arbitrary: fc.constant({ b: 'returnPromise' as const }), weight: 1 },
  { arbitrary: fc.record({ b: fc.constant('fireOther' as const), k: n, v: small }), weight: 2 },
  { arbitrary: fc.constant({ b: 'addToSelf' as const }), weight: 1 },
  { arbitrary: fc.record({ b: fc.constant('cancelOther' as const), k: n }), weight: 1 },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('new' as const),
      canceller: fc.constantFrom<Canceller>('none', 'none', 'noop', 'fires', 'fails', 'throws'),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ op: fc.constant('callback' as const), d: n, v: small }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('errback' as const), d: n }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      d: n,
      how: fc.constantFrom('cb' as const, 'eb' as const, 'both' as const, 'callbacks' as const),
      beh: behaviour,
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ op: fc.constant('cancel' as const), d: n }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('pause' as const), d: n }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('unpause' as const), d: n }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('chain' as const), d: n, k: n }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('list' as const),
      ids: fc.array(n, { maxLength: 4 }),
      options: fc.record({
        fireOnOneCallback: fc.boolean(),
        fireOnOneErrback: fc.boolean(),
        consumeErrors: fc.boolean(),
      }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('gather' as const),
      ids: fc.array(n, { maxLength: 4 }),
      consumeErrors: fc.boolean(),
    }),
    weight: 1,
  },
  { arbitrary: fc.constant({ op: 'acquire' as const }), weight: 1 },
  { arbitrary: fc.constant({ op: 'release' as const }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('run' as const),
      job: fc.constantFrom<Job>('value', 'throw', 'deferred', 'promise'),
      v: small,
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ op: fc.constant('fireJob' as const), j: n, ok: fc.boolean(), v: small }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant('settlePromise' as const), p: n, ok: fc.boolean(), v: small }),
    weight: 2,
  },
);
const awaitOp: fc.Arbitrary<Op> = fc.record({
  op: fc.constant('await' as const),
  how: fc.constantFrom<Await>('then', 'await', 'all', 'allSettled', 'race'),
  ids: fc.array(n, { minLength: 1, maxLength: 3 }),
});
const program = fc.record({
  limit: fc.integer({ min: 1, max: 3 }),
  ops: fc.array(fc.oneof({ arbitrary: op, weight: 9 }, { arbitrary: awaitOp, weight: 1 }), {
    minLength: 1,
    maxLength: 30,
  }),
});

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs `prog` on `impl` and returns everything it observed, in order. */
async function execute(impl: Impl, prog: { limit: number; ops: Op[] }): Promise<string[]> {
  const trace: string[] = [];
  const pool: AnyDeferred[] = [];
  /** Deferreds returned by running jobs: fired by the program, never given callbacks (the semaphore owns them). */
  const jobs: AnyDeferred[] = [];
  const promises: { resolve: (v: unknown) => void; reject: (e: unknown) => void; done: boolean }[] = [];
  /**
   * Run tickets whose Promise job is running. While there is one, the program cancels nothing: whether cancelling such
   * a ticket (directly, through a list or a waiter) frees its token before the Promise settles is the semaphore's rule.
   */
  const promiseJobRunning = new Set<AnyDeferred>();
  /**
   * The semaphore's Deferreds. In Twisted a run() Deferred has fired (with the token) and waits on the job; the
   * library's has not fired until the job's outcome is known. Only their results are compared, and the program never
   * fires, pauses or chains into them (what that does is each implementation's own business).
   */
  const tickets = new Set<AnyDeferred>();
  const sem = impl.newSemaphore(prog.limit);
  let labels = 0;
  /** Tokens taken by acquire() and not yet released. */
  let acquired = 0;

  const show = (v: unknown, depth = 0): string => {
    if (v instanceof Failure) return `F(${v.type?.name}:${v.getErrorMessage()})`;
    if (v === sem) return 'SEM';
    if (impl.isDeferred(v)) return 'D';
    if (Array.isArray(v)) return depth > 3 ? '[..]' : `[${v.map((x) => show(x, depth + 1)).join(',')}]`;
    return String(v);
  };
  const showReason = (e: unknown) => (e instanceof Error ? `${e.name}:${e.message}` : `(${show(e)})`);
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      trace.push(`${what} threw ${(e as Error).name}`);
    }
  };
  const pick = (i: number) => (pool.length === 0 ? undefined : pool[i % pool.length]);
  // What gatherResults returned: not fired, paused or chained into by hand (with Twisted's, the value given would then
  // meet its own mapping callback; a use nobody has, and the library's gathers without such a link).
  const gathered = new Set<AnyDeferred>();
  /** A Deferred the program may fire, pause or chain into: not one of the semaphore's, nor a gatherResults. */
  const pickOwn = (i: number) => {
    const d = pick(i);
    return d === undefined || tickets.has(d) || gathered.has(d) ? undefined : d;
  };
  const newPromise = () => {
    const entry = { resolve: (_: unknown) => {}, reject: (_: unknown) => {}, done: false };
    const p = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    promises.push(entry);
    return p;
  };

  const makeCallback = (beh: Behaviour, d: AnyDeferred, label: string) => (r: unknown) => {
    trace.push(`${label} got ${show(r)}`);
    switch (beh.b) {
      case 'value':
        return beh.v;
      case 'pass':
        return r;
      case 'throw':
        throw new RangeError(`thrown by ${label}`);
      case 'returnFailure':
        return new Failure(new TypeError(`returned by ${label}`));
      case 'returnPending': {
        const inner = impl.newDeferred();
        pool.push(inner);
        return inner;
      }
      case 'returnFired': {
        const inner = impl.newDeferred();
        inner.callback(beh.v);
        return inner;
      }
      case 'returnPool':
        return pick(beh.k);
      case 'returnPromise':
        return newPromise();
      case 'fireOther': {
        const other = pickOwn(beh.k);
        if (other !== undefined) attempt(`${label} firing`, () => other.callback(beh.v));
        return r;
      }
      case 'addToSelf':
        d.addCallback((x) => {
          trace.push(`${label}+ got ${show(x)}`);
          return x;
        });
        return r;
      case 'cancelOther': {
        const other = pick(beh.k);
        if (other !== undefined && promiseJobRunning.size === 0) other.cancel();
        return r;
      }
    }
  };

  for (const o of prog.ops) {
    switch (o.op) {
      case 'new': {
        const label = `d${pool.length}`;
        const cancellers: Record<Canceller, ((d: AnyDeferred) => void) | undefined> = {
          none: undefined,
          noop: () => trace.push(`${label} canceller`),
          fires: (d) => d.callback(`cancelled ${label}`),
          fails: (d) => d.errback(new SyntaxError(`cancelled ${label}`)),
          throws: () => {
            throw new EvalError(`canceller of ${label}`);
          },
        };
        pool.push(impl.newDeferred(cancellers[o.canceller]));
        break;
      }
      case 'callback': {
        const d = pickOwn(o.d);
        if (d) attempt('callback', () => d.callback(o.v));
        break;
      }
      case 'errback': {
        const d = pickOwn(o.d);
        if (d) attempt('errback', () => d.errback(new Error(`errback ${o.d}`)));
        break;
      }
      case 'add': {
        const d = pick(o.d);
        if (!d) break;
        const label = `L${labels++}`;
        const fn = makeCallback(o.beh, d, label);
        if (o.how === 'cb') d.addCallback(fn);
        else if (o.how === 'eb') d.addErrback(fn);
        else if (o.how === 'both') d.addBoth(fn);
        else d.addCallbacks(fn, null);
        break;
      }
      case 'cancel': {
        const d = pick(o.d);
        if (d && promiseJobRunning.size === 0) attempt('cancel', () => d.cancel());
        break;
      }
      case 'pause': {
        const d = pickOwn(o.d);
        if (d) d.pause();
        break;
      }
      case 'unpause': {
        const d = pickOwn(o.d);
        if (d) attempt('unpause', () => d.unpause());
        break;
      }
      case 'chain': {
        const d = pick(o.d);
        const other = pickOwn(o.k);
        if (d && other) d.chainDeferred(other);
        break;
      }
      case 'list': {
        const items = o.ids.map((i) => pick(i)).filter((d): d is AnyDeferred => d !== undefined);
        pool.push(impl.newList(items, o.options));
        break;
      }
      case 'gather': {
        const items = o.ids.map((i) => pick(i)).filter((d): d is AnyDeferred => d !== undefined);
        const all = impl.gather(items, o.consumeErrors);
        gathered.add(all);
        pool.push(all);
        break;
      }
      case 'acquire': {
        const ticket = sem.acquire();
        ticket.addCallback((s) => {
          acquired++;
          return s;
        });
        tickets.add(ticket);
        pool.push(ticket);
        break;
      }
      case 'release':
        // Only tokens the program acquired are given back: over-release has rules of its own, in the semaphore's tests.
        if (acquired > 0) {
          acquired--;
          attempt('release', () => sem.release());
        }
        break;
      case 'run': {
        const label = `job${labels++}`;
        let ticket: AnyDeferred | undefined;
        ticket = sem.run(() => {
          trace.push(`${label} runs`);
          if (o.job === 'value') return o.v;
          if (o.job === 'throw') throw new URIError(`${label} failed`);
          if (o.job === 'deferred') {
            const j = impl.newDeferred();
            jobs.push(j);
            return j;
          }
          const p = newPromise();
          // The ticket is known only once run() returns, unless the job waited; mark it either way.
          queueMicrotask(() => ticket !== undefined && promiseJobRunning.add(ticket));
          if (ticket !== undefined) promiseJobRunning.add(ticket);
          return p.finally(() => ticket !== undefined && promiseJobRunning.delete(ticket));
        });
        tickets.add(ticket);
        pool.push(ticket);
        break;
      }
      case 'fireJob': {
        if (jobs.length === 0) break;
        const j = jobs[o.j % jobs.length];
        attempt('fireJob', () => (o.ok ? j.callback(o.v) : j.errback(new Error(`job deferred ${o.j}`))));
        break;
      }
      case 'await': {
        const items = o.ids.map((i) => pick(i)).filter((d): d is AnyDeferred => d !== undefined);
        if (items.length === 0) break;
        const label = `A${labels++}`;
        const got = (v: unknown) => trace.push(`${label} got ${show(v)}`);
        const rejected = (e: unknown) => trace.push(`${label} rejected ${showReason(e)}`);
        if (o.how === 'then') {
          items[0].then(got, rejected);
        } else if (o.how === 'await') {
          void (async () => {
            for (const d of items) {
              try {
                got(await d);
              } catch (e) {
                rejected(e);
              }
            }
          })();
        } else if (o.how === 'all') {
          Promise.all(items).then(got, rejected);
        } else if (o.how === 'allSettled') {
          Promise.allSettled(items).then((outcomes) =>
            got(outcomes.map((x) => (x.status === 'fulfilled' ? x.value : showReason(x.reason)))),
          );
        } else {
          Promise.race(items).then(got, rejected);
        }
        break;
      }
      case 'settlePromise': {
        const open = promises.filter((p) => !p.done);
        if (open.length === 0) break;
        const p = open[o.p % open.length];
        p.done = true;
        if (o.ok) p.resolve(o.v);
        else p.reject(new Error(`promise ${o.p}`));
        break;
      }
    }
    await flush();
    trace.push(`| tokens ${sem.tokens}`);
  }
  // Where every Deferred stands at the end.
  pool.forEach((d, i) => {
    const state = tickets.has(d) ? `end d${i}:` : `end d${i}: called=${d.called} paused=${Boolean(d.paused)}`;
    let seen = 'nothing yet';
    d.addBoth((r) => {
      seen = show(r);
      return r;
    });
    trace.push(`${state} result=${seen}`);
  });
  return trace;
}

describe('the library behaves as the plain model of Twisted', () => {
  let previous: UnhandledFailureReporter;
  beforeAll(() => {
    // The programs leave failures unhandled on purpose; reporting them is tested elsewhere.
    previous = setUnhandledFailureReporter(() => {});
  });
  afterAll(async () => {
    // Let what the programs dropped be collected and reported to the silent reporter, not at this worker's exit.
    await collectGarbage();
    setUnhandledFailureReporter(previous);
  });

  it('does the same things in the same order for random programs', async () => {
    await fc.assert(
      fc.asyncProperty(program, async (prog) => {
        const expected = await execute(model, prog);
        const actual = await execute(library, prog);
        expect(actual).toEqual(expected);
      }),
      // DIFFERENTIAL_RUNS=5000 for a longer hunt; DIFFERENTIAL_SEED=<seed> replays the programs of a failed run.
      {
        numRuns: Number(process.env.DIFFERENTIAL_RUNS ?? 1000),
        ...(process.env.DIFFERENTIAL_SEED ? { seed: Number(process.env.DIFFERENTIAL_SEED) } : {}),
      },
    );
  }, 600_000);
});
