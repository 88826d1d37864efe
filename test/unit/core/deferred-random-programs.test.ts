/**
 * Property-based tests of the Deferred core: random programs of callback/errback/cancel/add* over a few Deferreds,
 * with callbacks that return values, throw, return Failures, return other Deferreds (fired or not yet) or Promises
 * (settled, or settled later in the program). They check the rules nothing else may break:
 * - the only exceptions that escape are AlreadyCalledError on a second fire and TypeError for a thenable result;
 * - every chain ends with exactly one result, and `await` sees that result exactly once (the original error, never a
 *   Failure), whether through then() or a Promise adopting the Deferred;
 * - a chain of plain synchronous callbacks computes the same result whether it was built before or after the firing;
 * - a failure left unhandled is reported exactly once after garbage collection, and a handled one never.
 */
import {
  AlreadyCalledError,
  CancelledError,
  Deferred,
  Failure,
  setUnhandledFailureReporter,
  type UnhandledFailureReporter,
} from 'async-batching';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../helpers/gc.ts';

const POOL = 4;
const PROMISES = 2;
const EXTRA = Symbol('extra argument');

type Behaviour =
  | { kind: 'value'; v: number }
  | { kind: 'pass' }
  | { kind: 'throw' }
  | { kind: 'throwNonError' }
  | { kind: 'failure' }
  | { kind: 'deferred'; pick: number }
  | { kind: 'self' }
  | { kind: 'resolved'; v: number }
  | { kind: 'rejected' }
  | { kind: 'promise'; p: number };

type Op =
  | { op: 'callback'; d: number; v: number }
  | { op: 'errback'; d: number }
  | { op: 'cancel'; d: number }
  | { op: 'add'; d: number; how: 'cb' | 'eb' | 'both'; b: Behaviour; extra: boolean }
  | { op: 'addCallbacks'; d: number; b: Behaviour; b2: Behaviour }
  | { op: 'await'; d: number; adopt: boolean }
  | { op: 'settlePromise'; p: number; ok: boolean }
  | { op: 'tick' }
  | { op: 'callbackThenable'; d: number };

type Canceller = 'none' | 'noop' | 'fires' | 'fails';

interface Program {
  cancellers: Canceller[];
  ops: Op[];
  awaitAtEnd: boolean[];
  /** Whether each final await goes through a Promise adopting the Deferred (V8's own call of then()). */
  adoptAtEnd: boolean[];
}

const index = (n: number) => fc.nat({ max: n - 1 });
const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant('value' as const), v: fc.integer({ min: -5, max: 5 }) }),
    weight: 3,
  },
  { arbitrary: fc.constant({ kind: 'pass' as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'throw' as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'throwNonError' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'failure' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('deferred' as const), pick: fc.nat({ max: 99 }) }), weight: 3 },
  { arbitrary: fc.constant({ kind: 'self' as const }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('resolved' as const), v: fc.integer({ min: 0, max: 9 }) }),
    weight: 1,
  },
  { arbitrary: fc.constant({ kind: 'rejected' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('promise' as const), p: index(PROMISES) }), weight: 1 },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant('callback' as const), d: index(POOL), v: fc.integer() }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('errback' as const), d: index(POOL) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('cancel' as const), d: index(POOL) }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      d: index(POOL),
      how: fc.constantFrom('cb' as const, 'eb' as const, 'both' as const),
      b: behaviour,
      extra: fc.boolean(),
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('addCallbacks' as const),
      d: index(POOL),
      b: behaviour,
      b2: behaviour,
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant('await' as const), d: index(POOL), adopt: fc.boolean() }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant('settlePromise' as const), p: index(PROMISES), ok: fc.boolean() }),
    weight: 1,
  },
  { arbitrary: fc.constant({ op: 'tick' as const }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('callbackThenable' as const), d: index(POOL) }), weight: 1 },
);
const program: fc.Arbitrary<Program> = fc.record({
  cancellers: fc.array(fc.constantFrom<Canceller>('none', 'noop', 'fires', 'fails'), {
    minLength: POOL,
    maxLength: POOL,
  }),
  ops: fc.array(op, { maxLength: 40 }),
  awaitAtEnd: fc.array(fc.boolean(), { minLength: POOL, maxLength: POOL }),
  adoptAtEnd: fc.array(fc.boolean(), { minLength: POOL, maxLength: POOL }),
});

/** What one program run leaves behind: broken rules, and the failures the unhandled reporter owes us. */
interface Outcome {
  violations: string[];
  /** Failures that must be reported exactly once. */
  mustReport: Set<Failure>;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

let nextTag = 0;

/**
 * Runs a program. Keeps no reference to its Deferreds after it returns, so they can be collected. Every failure a
 * chain ends with goes into `mayReport`: only those may ever be reported. It is weak because a handled failure's
 * error still holds the frames it was thrown through, and through them this program's Deferreds.
 */
async function runProgram(prog: Program, mayReport = new WeakSet<Failure>()): Promise<Outcome> {
  const violations: string[] = [];
  const pool: Deferred<unknown>[] = [];
  const initial: unknown[] = new Array(POOL).fill(undefined);
  const silentFires = new Array<number>(POOL).fill(0);
  const awaited = new Array<boolean>(POOL).fill(false);
  const returnedLate = new Array<boolean>(POOL).fill(false);
  let ending = false;

  for (let i = 0; i < POOL; i++) {
    const kind = prog.cancellers[i];
    const d =
      kind === 'none'
        ? new Deferred<unknown>()
        : new Deferred<unknown>((self) => {
            if (kind === 'fires') self.callback(`cancelled ${i}`);
            else if (kind === 'fails') self.errback(new Error(`canceller ${i}`));
          });
    // The first link records how the Deferred fired, so a later fire can be judged.
    d.addBoth((r) => {
      initial[i] = r;
      return r;
    });
    pool.push(d);
  }

  const promises = Array.from({ length: PROMISES }, () => {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Never an unhandled rejection on its own account: chains that use it attach their own handlers.
    promise.catch(() => {});
    return { promise, resolve, reject, settled: false };
  });

  const makeFn = (i: number, b: Behaviour, extra: boolean) => {
    return (result: unknown, ...args: unknown[]): unknown => {
      if (extra && args[0] !== EXTRA) violations.push(`extra argument not passed to a callback on #${i}`);
      if (!extra && args.length !== 0) violations.push(`unexpected arguments to a callback on #${i}`);
      switch (b.kind) {
        case 'value':
          return b.v;
        case 'pass':
          return result;
        case 'throw':
          throw new Error(`thrown ${nextTag++}`);
        case 'throwNonError':
          throw `thrown string ${nextTag++}`;
        case 'failure':
          return new Failure(new RangeError(`returned ${nextTag++}`));
        case 'deferred': {
          // Only later Deferreds, so no two chains ever wait on each other.
          if (i === POOL - 1) return b.pick;
          const j = i + 1 + (b.pick % (POOL - 1 - i));
          if (ending) returnedLate[j] = true;
          return pool[j];
        }
        case 'self':
          return pool[i];
        case 'resolved':
          return Promise.resolve(b.v);
        case 'rejected':
          return Promise.reject(new Error(`rejected ${nextTag++}`));
        case 'promise':
          return promises[b.p].promise;
      }
    };
  };

  const fire = (i: number, how: () => void) => {
    const d = pool[i];
    const wasCalled = d.called;
    const cancelledWithoutCanceller =
      prog.cancellers[i] === 'none' &&
      initial[i] instanceof Failure &&
      (initial[i] as Failure).value instanceof CancelledError;
    const expectSilent = wasCalled && cancelledWithoutCanceller && silentFires[i] === 0;
    try {
      how();
      if (expectSilent) silentFires[i]++;
      else if (wasCalled) violations.push(`second fire of #${i} did not throw`);
    } catch (e) {
      if (!wasCalled) violations.push(`first fire of #${i} threw ${String(e)}`);
      else if (expectSilent) violations.push(`the fire after cancelling #${i} was not dropped: ${String(e)}`);
      else if (!(e instanceof AlreadyCalledError)) violations.push(`second fire of #${i} threw ${String(e)}`);
    }
  };

  // `adopt`: then() is given a Promise's own resolve functions, as V8 gives them when `await` or Promise.all adopt a
  // Deferred (here synchronously, so the await sees the chain as it is now); otherwise functions of the caller's own.
  const watchAwait = (
    i: number,
    label: string,
    adopt: boolean,
    check?: (ok: boolean, v: unknown) => void,
  ) => {
    awaited[i] = true;
    let settled = 0;
    const d = pool[i];
    const done = (adopt ? new Promise((resolve, reject) => d.then(resolve, reject)) : d).then(
      (v) => {
        settled++;
        check?.(true, v);
      },
      (e) => {
        settled++;
        if (e instanceof Failure) violations.push(`${label}: await of #${i} rejected with a Failure`);
        check?.(false, e);
      },
    );
    return { done, count: () => settled };
  };
  const awaits: { done: Promise<void>; count: () => number; label: string }[] = [];

  for (const o of prog.ops) {
    try {
      switch (o.op) {
        case 'callback':
          fire(o.d, () => pool[o.d].callback(o.v));
          break;
        case 'errback':
          fire(o.d, () => pool[o.d].errback(new Error(`errback ${nextTag++}`)));
          break;
        case 'cancel':
          pool[o.d].cancel();
          break;
        case 'add': {
          const fn = makeFn(o.d, o.b, o.extra);
          const args = o.extra ? [EXTRA] : [];
          if (o.how === 'cb') pool[o.d].addCallback(fn, ...args);
          else if (o.how === 'eb') pool[o.d].addErrback(fn, ...args);
          else pool[o.d].addBoth(fn, ...args);
          break;
        }
        case 'addCallbacks':
          pool[o.d].addCallbacks(makeFn(o.d, o.b, false), makeFn(o.d, o.b2, false));
          break;
        case 'await':
          awaits.push({ ...watchAwait(o.d, 'mid-program', o.adopt), label: `mid-program await of #${o.d}` });
          break;
        case 'settlePromise': {
          const p = promises[o.p];
          if (!p.settled) {
            p.settled = true;
            if (o.ok) p.resolve(`promise ${o.p}`);
            else p.reject(new Error(`promise ${o.p} rejected`));
          }
          break;
        }
        case 'tick':
          await tick();
          break;
        case 'callbackThenable': {
          const d = pool[o.d];
          const wasCalled = d.called;
          try {
            d.callback(Promise.resolve(1));
            violations.push(`callback(promise) on #${o.d} did not throw`);
          } catch (e) {
            if (!(e instanceof TypeError)) violations.push(`callback(promise) threw ${String(e)}`);
          }
          if (d.called !== wasCalled) violations.push(`callback(promise) changed whether #${o.d} was called`);
          break;
        }
      }
    } catch (e) {
      violations.push(`${o.op} on #${'d' in o ? o.d : '-'} threw ${String(e)}`);
    }
  }

  // The end: observe every chain, then settle everything that could still hold one up.
  ending = true;
  const terminal = new Array<number>(POOL).fill(0);
  const final: unknown[] = new Array(POOL).fill(undefined);
  for (let i = 0; i < POOL; i++) {
    pool[i].addBoth((r) => {
      terminal[i]++;
      final[i] = r;
      return r;
    });
  }
  for (let i = 0; i < POOL; i++) {
    if (!prog.awaitAtEnd[i]) continue;
    const w = watchAwait(i, 'final', prog.adoptAtEnd[i], (ok, v) => {
      const f = final[i];
      if (ok ? f instanceof Failure || !Object.is(f, v) : !(f instanceof Failure) || f.value !== v) {
        violations.push(`final await of #${i} saw ${String(v)}, the chain ended with ${String(f)}`);
      }
    });
    awaits.push({ ...w, label: `final await of #${i}` });
  }
  for (const p of promises) if (!p.settled) p.resolve('late');
  for (let i = POOL - 1; i >= 0; i--) {
    if (!pool[i].called) {
      try {
        pool[i].callback(`late ${i}`);
      } catch (e) {
        violations.push(`late fire of #${i} threw ${String(e)}`);
      }
    }
  }
  for (let turn = 0; turn < 10 && terminal.some((n) => n === 0); turn++) await tick();
  await Promise.all(awaits.map((a) => a.done));
  await tick();

  for (let i = 0; i < POOL; i++) {
    if (terminal[i] !== 1) violations.push(`chain of #${i} ended ${terminal[i]} times`);
    if (pool[i].paused) violations.push(`#${i} is still paused`);
  }
  for (const a of awaits) if (a.count() !== 1) violations.push(`${a.label} settled ${a.count()} times`);

  const mustReport = new Set<Failure>();
  for (let i = 0; i < POOL; i++) {
    const f = final[i];
    if (!(f instanceof Failure)) continue;
    mayReport.add(f);
    if (!awaited[i] && !returnedLate[i]) mustReport.add(f);
  }
  return { violations, mustReport };
}

type Sync = { kind: 'value'; v: number } | { kind: 'pass' } | { kind: 'throw' } | { kind: 'failure' };
type SyncLink = { how: 'cb' | 'eb' | 'both'; b: Sync } | { how: 'cbs'; b: Sync; b2: Sync };

const syncBehaviour: fc.Arbitrary<Sync> = fc.oneof(
  fc.record({ kind: fc.constant('value' as const), v: fc.integer({ min: -9, max: 9 }) }),
  fc.constant({ kind: 'pass' as const }),
  fc.constant({ kind: 'throw' as const }),
  fc.constant({ kind: 'failure' as const }),
);
const syncLink: fc.Arbitrary<SyncLink> = fc.oneof(
  fc.record({ how: fc.constantFrom('cb' as const, 'eb' as const, 'both' as const), b: syncBehaviour }),
  fc.record({ how: fc.constant('cbs' as const), b: syncBehaviour, b2: syncBehaviour }),
);

/** The reference: Twisted's rules for one synchronous chain, as a fold. A failure is named by its link's index. */
function model(start: { ok: boolean; v: string | number }, links: SyncLink[]) {
  let state = start;
  links.forEach((link, i) => {
    const chosen =
      link.how === 'cbs'
        ? state.ok
          ? link.b
          : link.b2
        : link.how === 'both' || state.ok === (link.how === 'cb')
          ? link.b
          : null;
    if (chosen === null) return;
    if (chosen.kind === 'value') state = { ok: true, v: chosen.v };
    else if (chosen.kind === 'throw') state = { ok: false, v: `thrown ${i}` };
    else if (chosen.kind === 'failure') state = { ok: false, v: `returned ${i}` };
  });
  return state;
}

function syncFn(b: Sync, tag: number) {
  return (r: unknown) => {
    if (b.kind === 'value') return b.v;
    if (b.kind === 'throw') throw new Error(`thrown ${tag}`);
    if (b.kind === 'failure') return new Failure(new Error(`returned ${tag}`));
    return r;
  };
}

const reports: Failure[] = [];
let previousReporter: UnhandledFailureReporter;

beforeAll(() => {
  previousReporter = setUnhandledFailureReporter((f) => reports.push(f));
});
afterAll(() => {
  setUnhandledFailureReporter(previousReporter);
});

describe('Deferred under random programs', () => {
  it('raises only AlreadyCalledError / TypeError, ends every chain once, and awaits see that end once', async () => {
    const escaped: unknown[] = [];
    const onRejection = (reason: unknown) => escaped.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      await fc.assert(
        fc.asyncProperty(program, async (prog) => {
          const { violations } = await runProgram(prog);
          expect(violations).toEqual([]);
        }),
        { numRuns: 400 },
      );
      await tick();
      expect(escaped).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('reports each unhandled failure exactly once after GC, and never a handled one', async () => {
    // Whatever the previous test left unhandled is reported now, before this test starts counting.
    await collectGarbage();
    reports.length = 0;
    const reportCount = new Map<Failure, number>();
    const allMay = new WeakSet<Failure>();
    let seen = 0;
    const absorb = () => {
      for (; seen < reports.length; seen++)
        reportCount.set(reports[seen], (reportCount.get(reports[seen]) ?? 0) + 1);
    };
    await fc.assert(
      fc.asyncProperty(program, async (prog) => {
        const { violations, mustReport } = await runProgram(prog, allMay);
        expect(violations).toEqual([]);
        await collectGarbage(() => {
          absorb();
          return [...mustReport].every((f) => reportCount.has(f));
        });
        absorb();
        const missing = [...mustReport].filter((f) => !reportCount.has(f)).map(String);
        expect(missing, 'unhandled failures that were never reported').toEqual([]);
      }),
      { numRuns: 60 },
    );
    await collectGarbage();
    absorb();
    const twice = [...reportCount].filter(([, n]) => n > 1).map(([f, n]) => `${f} ×${n}`);
    expect(twice, 'failures reported more than once').toEqual([]);
    const unexpected = [...reportCount.keys()].filter((f) => !allMay.has(f)).map(String);
    expect(unexpected, 'handled failures that were reported').toEqual([]);
    // Sixty programs with many rounds of full GC each: about 12 s on an idle machine, three times that on a busy one.
  }, 120_000);

  it('a synchronous chain computes the same result whether built before or after the Deferred fired', () => {
    fc.assert(
      fc.property(
        fc.array(syncLink, { maxLength: 12 }),
        fc.nat({ max: 12 }),
        fc.boolean(),
        (links, fireAt, startOk) => {
          const d = new Deferred<unknown>();
          const fireNow = () => (startOk ? d.callback('start') : d.errback(new Error('start')));
          links.forEach((link, i) => {
            if (i === fireAt) fireNow();
            if (link.how === 'cbs') d.addCallbacks(syncFn(link.b, i), syncFn(link.b2, i));
            else if (link.how === 'cb') d.addCallback(syncFn(link.b, i));
            else if (link.how === 'eb') d.addErrback(syncFn(link.b, i));
            else d.addBoth(syncFn(link.b, i));
          });
          if (fireAt >= links.length) fireNow();
          let end: unknown;
          d.addBoth((r) => {
            end = r;
            return null;
          });
          const expected = model({ ok: startOk, v: 'start' }, links);
          const actual =
            end instanceof Failure
              ? { ok: false, v: (end.value as Error).message }
              : { ok: true, v: end as string | number };
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('unhandled failure reports (cases the fuzzing found)', () => {
  /** Builds a chain in its own scope, drops it, and returns the messages reported for it after GC. */
  async function reportedFor(build: () => void): Promise<string[]> {
    await collectGarbage(() => false, 3);
    const from = reports.length;
    build();
    await collectGarbage(() => reports.length > from);
    return reports.slice(from).map((f) => f.getErrorMessage());
  }

  it('reports an error thrown inside a callback whose scope can reach the Deferred', async () => {
    const reported = await reportedFor(() => {
      const held: Deferred<number>[] = [];
      const d = new Deferred<number>();
      held.push(d);
      // The thrower closes over `held`; before the fix the error's frames kept `d` alive, so nothing was reported.
      d.addCallback(() => {
        if (held.length > 0) throw new Error('thrown in a callback');
      });
      d.callback(1);
    });
    expect(reported).toEqual(['thrown in a callback']);
  });

  it('reports the last failure when a failed chain is resumed by a new errback that fails again', async () => {
    const reported = await reportedFor(() => {
      const d = new Deferred<number>();
      d.errback(new Error('first, then handled'));
      d.addErrback(() => {
        throw new Error('second, never handled');
      });
    });
    expect(reported).toEqual(['second, never handled']);
  });
});
