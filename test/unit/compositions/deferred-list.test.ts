import {
  CancelledError,
  Deferred,
  DeferredList,
  type DeferredListEntry,
  type Failure,
  FirstError,
  fail,
  gatherResults,
  setUnhandledFailureReporter,
  succeed,
} from 'async-batching';
import fc from 'fast-check';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { collectGarbage } from '../../helpers/gc.ts';

describe('DeferredList', () => {
  it('fires with [success, result] pairs in input order, not completion order', () => {
    const a = new Deferred<string>();
    const b = new Deferred<string>();
    const dl = new DeferredList([a, b], { consumeErrors: true });
    let out: DeferredListEntry<string>[] = [];
    dl.addCallback((r) => {
      out = r;
    });
    b.callback('b');
    expect(dl.called).toBe(false);
    a.errback(new Error('a failed'));
    expect(out[0][0]).toBe(false);
    expect((out[0][1] as Failure).getErrorMessage()).toBe('a failed');
    expect(out[1]).toEqual([true, 'b']);
  });

  it('accepts Promises and plain values beside Deferreds', async () => {
    const dl = new DeferredList<number>([succeed(1), Promise.resolve(2), 3], { consumeErrors: true });
    expect(await dl).toEqual([
      [true, 1],
      [true, 2],
      [true, 3],
    ]);
  });

  it('fires at once with [] for an empty list', () => {
    const dl = new DeferredList([]);
    expect(dl.called).toBe(true);
    let out: unknown;
    dl.addCallback((r) => {
      out = r;
    });
    expect(out).toEqual([]);
  });

  it('fireOnOneCallback fires with [result, index] on the first success', () => {
    const ds = [new Deferred<string>(), new Deferred<string>(), new Deferred<string>()];
    const dl = new DeferredList<string, [string, number]>(ds, { fireOnOneCallback: true });
    ds[0].errback(new Error('x'));
    ds[2].callback('third');
    let out: unknown;
    dl.addCallback((r) => {
      out = r;
    });
    expect(out).toEqual(['third', 2]);
    expect(() => ds[1].callback('late')).not.toThrow();
    ds[0].addErrback(() => null);
  });

  it('fireOnOneCallback errbacks when every input fails', async () => {
    const dl = new DeferredList([fail(new Error('one')), fail(new Error('two'))], {
      fireOnOneCallback: true,
      consumeErrors: true,
    });
    const err = await dl.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors.map((e: Error) => e.message)).toEqual(['one', 'two']);
  });

  it('fireOnOneErrback errbacks with FirstError naming the failure and its index', () => {
    const ds = [new Deferred<number>(), new Deferred<number>()];
    const dl = new DeferredList(ds, { fireOnOneErrback: true, consumeErrors: true });
    let failure: Failure | undefined;
    dl.addErrback((f) => {
      failure = f;
    });
    ds[1].errback(new RangeError('second'));
    const err = failure?.value as FirstError;
    expect(err).toBeInstanceOf(FirstError);
    expect(err.index).toBe(1);
    expect(err.subFailure.check(RangeError)).toBe(RangeError);
    expect(() => ds[0].errback(new Error('late'))).not.toThrow();
  });

  it('without consumeErrors each input keeps its failure', () => {
    const d = fail(new Error('kept'));
    new DeferredList([d]).addCallback(() => null);
    let seen = '';
    d.addErrback((f) => {
      seen = f.getErrorMessage();
    });
    expect(seen).toBe('kept');
  });

  it('with consumeErrors the inputs continue with null', () => {
    const d = fail(new Error('consumed'));
    new DeferredList([d], { consumeErrors: true });
    let seen: unknown = 'unset';
    d.addBoth((r) => {
      seen = r;
    });
    expect(seen).toBeNull();
  });

  it('cancelling the list cancels the inputs that have not fired', () => {
    const a = new Deferred<number>();
    const b = succeed(2);
    const dl = new DeferredList([a, b], { consumeErrors: true });
    dl.cancel();
    expect(a.called).toBe(true);
    let out: DeferredListEntry<number>[] = [];
    dl.addCallback((r) => {
      out = r;
    });
    expect((out[0][1] as Failure).check(CancelledError)).toBe(CancelledError);
    expect(out[1]).toEqual([true, 2]);
  });

  it('reads an array as for-of does (holes are undefined) and takes any other iterable', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point.
    const sparse = [succeed(1), , 3] as unknown as number[];
    const results: unknown[] = [];
    new DeferredList(sparse).addCallback((entries) => results.push(entries));
    function* gen(): Generator<Deferred<number> | number> {
      yield succeed(4);
      yield 5;
    }
    new DeferredList(gen()).addCallback((entries) => results.push(entries));
    new DeferredList(new Set([6])).addCallback((entries) => results.push(entries));
    expect(results).toEqual([
      [
        [true, 1],
        [true, undefined],
        [true, 3],
      ],
      [
        [true, 4],
        [true, 5],
      ],
      [[true, 6]],
    ]);
  });

  it("lets an input's chain go on after the list's link, with the result or failure it had", () => {
    const ok = new Deferred<number>();
    const bad = new Deferred<number>();
    const list = new DeferredList([ok, bad], { consumeErrors: true });
    const after: unknown[] = [];
    ok.addCallback((r) => after.push(r));
    bad.addBoth((r) => after.push(r));
    bad.errback(new Error('no'));
    ok.callback(7);
    expect(after).toEqual([null, 7]);
    expect(list.called).toBe(true);
    expect(list.resultList.map((e) => e?.[0])).toEqual([true, false]);
  });

  it("pauses an input's chain when the result its link passes on is a thenable, as after any callback", () => {
    // A foreign thenable may resolve with another thenable: that one becomes the result the list's link sees.
    const innerThenable = { then: (ok: (v: unknown) => void) => ok(42) };
    const outerThenable = { then: (ok: (v: unknown) => void) => ok(innerThenable) };
    const d = new Deferred<unknown>();
    d.addCallback(() => outerThenable);
    const list = new DeferredList([d]);
    const after: unknown[] = [];
    d.addCallback((r) => after.push(r));
    d.callback(undefined);
    expect(list.resultList[0]).toEqual([true, innerThenable]);
    expect(after).toEqual([42]);
  });

  it('rejects a non-iterable with a TypeError naming `items`', () => {
    expect(() => new DeferredList(5 as unknown as Iterable<number>)).toThrow(/`items`/);
    expect(() => new DeferredList(null as unknown as Iterable<number>)).toThrow(TypeError);
  });

  it('has one entry per input, in input order, and fires once, for any completion order and outcome mix', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { maxLength: 30 }).chain((oks) =>
          fc.tuple(
            fc.constant(oks),
            fc.shuffledSubarray(
              oks.map((_, i) => i),
              { minLength: oks.length, maxLength: oks.length },
            ),
          ),
        ),
        ([oks, order]) => {
          const ds = oks.map(() => new Deferred<number>());
          const dl = new DeferredList(ds, { consumeErrors: true });
          let fired = 0;
          let out: DeferredListEntry<number>[] = [];
          dl.addCallback((r) => {
            fired++;
            out = r;
          });
          for (const i of order) {
            expect(fired).toBe(0);
            if (oks[i]) ds[i].callback(i);
            else ds[i].errback(new Error(String(i)));
          }
          expect(fired).toBe(1);
          expect(out).toHaveLength(oks.length);
          out.forEach(([ok, value], i) => {
            expect(ok).toBe(oks[i]);
            if (ok) expect(value).toBe(i);
            else expect((value as Failure).getErrorMessage()).toBe(String(i));
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('types its result as entries', () => {
    expectTypeOf(new DeferredList([succeed('x')])).toExtend<Deferred<DeferredListEntry<string>[]>>();
  });
});

describe('gatherResults', () => {
  afterEach(() => {
    setUnhandledFailureReporter(null);
  });

  it('fires with plain results in input order', async () => {
    const a = new Deferred<number>();
    const g = gatherResults([a, Promise.resolve(2), succeed(3)]);
    a.callback(1);
    expect(await g).toEqual([1, 2, 3]);
  });

  it('errbacks with FirstError on the first failure', async () => {
    const g = gatherResults([succeed(1), fail(new TypeError('bad'))], true);
    await expect(g).rejects.toBeInstanceOf(FirstError);
  });

  it('with consumeErrors leaves nothing to report as unhandled', async () => {
    const reported: Failure[] = [];
    setUnhandledFailureReporter((f) => reported.push(f));
    await (async () => {
      const g = gatherResults([fail(new Error('inner'))], true);
      await g.then(
        () => 0,
        () => 1,
      );
    })();
    (() => {
      fail(new Error('sentinel'));
    })();
    await collectGarbage(() => reported.length > 0);
    expect(reported.map((f) => f.getErrorMessage())).toEqual(['sentinel']);
  });
});
