import {
  AlreadyCalledError,
  CancelledError,
  Deferred,
  deferLater,
  Failure,
  fail,
  maybeDeferred,
  setUnhandledFailureReporter,
  succeed,
} from 'async-batching';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { collectGarbage } from '../../helpers/gc.ts';

describe('Failure', () => {
  it('keeps the original thrown value and its type', () => {
    const err = new TypeError('bad');
    const f = new Failure(err);
    expect(f.value).toBe(err);
    expect(f.type).toBe(TypeError);
    expect(f.getErrorMessage()).toBe('bad');
  });

  it('describes non-Error values with String()', () => {
    expect(new Failure('plain').getErrorMessage()).toBe('plain');
    expect(new Failure(42).type).toBeUndefined();
    expect(new Failure(null).getErrorMessage()).toBe('null');
  });

  it('check returns the first matching type or null', () => {
    const f = new Failure(new RangeError('r'));
    expect(f.check(TypeError, RangeError, Error)).toBe(RangeError);
    expect(f.check(TypeError)).toBeNull();
  });

  it('trap rethrows the original value when no type matches', () => {
    const err = new RangeError('r');
    const f = new Failure(err);
    expect(f.trap(RangeError)).toBe(RangeError);
    expect(() => f.trap(TypeError)).toThrow(err);
  });

  it('raiseException throws the original value', () => {
    const err = new Error('e');
    expect(() => new Failure(err).raiseException()).toThrow(err);
  });

  it('does not nest a Failure in a Failure', () => {
    const inner = new Failure(new Error('x'));
    expect(new Failure(inner).value).toBe(inner.value);
  });
});

describe('Deferred firing', () => {
  it('runs callbacks synchronously when it fires', () => {
    const d = new Deferred<number>();
    const seen: number[] = [];
    d.addCallback((r) => seen.push(r));
    expect(seen).toEqual([]);
    d.callback(7);
    expect(seen).toEqual([7]);
  });

  it('runs a callback at once when added to a fired Deferred', () => {
    const d = succeed(3);
    let seen = 0;
    d.addCallback((r) => {
      seen = r;
    });
    expect(seen).toBe(3);
  });

  it('passes extra arguments after the result', () => {
    const d = new Deferred<string>();
    const calls: unknown[][] = [];
    d.addCallback(
      (r: string, a: number, b: string) => {
        calls.push([r, a, b]);
        return r;
      },
      1,
      'two',
    );
    d.addErrback((f: Failure, tag: string) => calls.push([f, tag]), 'unused');
    d.callback('page');
    expect(calls).toEqual([['page', 1, 'two']]);
  });

  it('passes extra arguments to errbacks and addBoth', () => {
    const d = new Deferred<string>();
    const calls: unknown[] = [];
    d.addErrback((f: Failure, url: string) => {
      calls.push(`${url}: ${f.getErrorMessage()}`);
      return 'recovered';
    }, 'http://a/');
    d.addBoth((r: unknown, n: number) => calls.push([r, n]), 5);
    d.errback(new Error('boom'));
    expect(calls).toEqual(['http://a/: boom', ['recovered', 5]]);
  });

  it('addCallbacks passes its own extra arguments to each side', () => {
    const d = fail<number>(new Error('x'));
    let got: unknown[] = [];
    d.addCallbacks(
      () => 'cb',
      (f: Failure, a: string) => {
        got = [f.getErrorMessage(), a];
      },
      { callbackArgs: [1], errbackArgs: ['e'] },
    );
    expect(got).toEqual(['x', 'e']);
  });

  it('addCallbacks gives each side only its own extra arguments, or none', () => {
    const seen: unknown[][] = [];
    succeed(1).addCallbacks(
      (r: number, ...rest: unknown[]) => seen.push([r, ...rest]),
      () => null,
      { callbackArgs: ['c'], errbackArgs: ['e'] },
    );
    succeed(2).addCallbacks(
      (r: number, ...rest: unknown[]) => seen.push([r, ...rest]),
      () => null,
      { errbackArgs: ['e'] },
    );
    fail(new Error('x')).addCallbacks(
      () => null,
      (f: Failure, ...rest: unknown[]) => seen.push([f.getErrorMessage(), ...rest]),
      { callbackArgs: ['c'] },
    );
    const shared = ['s'];
    fail(new Error('y')).addCallbacks(
      () => null,
      (f: Failure, ...rest: unknown[]) => seen.push([f.getErrorMessage(), ...rest]),
      { callbackArgs: shared, errbackArgs: shared },
    );
    expect(seen).toEqual([[1, 'c'], [2], ['x'], ['y', 's']]);
  });

  it('throws AlreadyCalledError when fired twice', () => {
    const d = new Deferred<number>();
    d.callback(1);
    expect(() => d.callback(2)).toThrow(AlreadyCalledError);
    expect(() => d.errback(new Error('x'))).toThrow(AlreadyCalledError);
  });

  it('wraps an errback reason in a Failure unless it is one', () => {
    const f = new Failure(new Error('given'));
    const seen: Failure[] = [];
    const d1 = new Deferred();
    d1.addErrback((x) => seen.push(x));
    d1.errback(f);
    const d2 = new Deferred();
    d2.addErrback((x) => seen.push(x));
    d2.errback('text');
    expect(seen[0]).toBe(f);
    expect(seen[1]).toBeInstanceOf(Failure);
    expect(seen[1].value).toBe('text');
  });

  it('errback without a reason still gives an Error', () => {
    const d = new Deferred();
    let f: Failure | undefined;
    d.addErrback((x) => {
      f = x;
    });
    d.errback();
    expect(f?.value).toBeInstanceOf(Error);
  });

  it('refuses a Deferred or Promise as a callback result', () => {
    const d = new Deferred<unknown>();
    expect(() => d.callback(succeed(1))).toThrow(TypeError);
    expect(() => d.callback(Promise.resolve(1))).toThrow(/result/);
    expect(d.called).toBe(false);
  });

  it('rejects a callback that is not a function with a TypeError naming it', () => {
    const d = new Deferred();
    expect(() => d.addCallback(null as unknown as () => void)).toThrow(/`fn`/);
    expect(() => d.addCallbacks(() => 1, 3 as unknown as () => void)).toThrow(/`errback`/);
  });
});

describe('Deferred error path', () => {
  it('a callback that throws moves the chain to errbacks', () => {
    const d = new Deferred<number>();
    const seen: string[] = [];
    d.addCallback(() => {
      throw new Error('cb failed');
    })
      .addCallback(() => seen.push('skipped'))
      .addErrback((f) => seen.push(f.getErrorMessage()));
    d.callback(1);
    expect(seen).toEqual(['cb failed']);
  });

  it('an errback that returns a value moves the chain back to callbacks', () => {
    const d = fail<number>(new Error('x'));
    const seen: unknown[] = [];
    d.addErrback(() => 10).addCallback((r) => seen.push(r));
    expect(seen).toEqual([10]);
  });

  it('an errback that throws or returns a Failure stays on the errback path', () => {
    const seen: string[] = [];
    fail(new Error('one'))
      .addErrback((f) => {
        throw new Error(`${f.getErrorMessage()} two`);
      })
      .addErrback((f) => f)
      .addCallback(() => seen.push('not here'))
      .addErrback((f) => seen.push(f.getErrorMessage()));
    expect(seen).toEqual(['one two']);
  });

  it('the errback of addCallbacks does not see its own callback failing', () => {
    const seen: string[] = [];
    succeed(1)
      .addCallbacks(
        () => {
          throw new Error('from cb');
        },
        () => seen.push('same-link errback'),
      )
      .addErrback((f) => seen.push(f.getErrorMessage()));
    expect(seen).toEqual(['from cb']);
  });

  it('a callback returning its own Deferred fails the chain with a CircularChainError', async () => {
    const d = new Deferred<unknown>();
    d.addCallback(() => d);
    d.callback(1);
    await expect(d).rejects.toMatchObject({ name: 'CircularChainError' });
  });
});

describe('Deferred pausing', () => {
  it('pauses on a returned Deferred and continues with its result', () => {
    const inner = new Deferred<string>();
    const d = succeed(1);
    const seen: unknown[] = [];
    d.addCallback(() => inner).addCallback((r) => seen.push(r));
    expect(d.paused).toBe(true);
    expect(seen).toEqual([]);
    inner.callback('inner');
    expect(seen).toEqual(['inner']);
    expect(d.paused).toBe(false);
  });

  it('continues on the errback path when the returned Deferred fails', () => {
    const inner = new Deferred<string>();
    const seen: unknown[] = [];
    succeed(1)
      .addCallback(() => inner)
      .addErrback((f) => seen.push(f.getErrorMessage()));
    inner.errback(new Error('inner failed'));
    expect(seen).toEqual(['inner failed']);
  });

  it('takes the result of an already fired returned Deferred at once', () => {
    const seen: unknown[] = [];
    succeed(1)
      .addCallback(() => succeed('done'))
      .addCallback((r) => seen.push(r));
    expect(seen).toEqual(['done']);
  });

  it('pauses on a returned Promise and continues with its value', async () => {
    const d = succeed(1).addCallback(async (r) => r + 1);
    expect(d.paused).toBe(true);
    expect(await d).toBe(2);
  });

  it('continues on the errback path when the returned Promise rejects', async () => {
    const d = succeed(1)
      .addCallback(() => Promise.reject(new RangeError('nope')))
      .addErrback((f) => f.check(RangeError)?.name);
    expect(await d).toBe('RangeError');
  });

  it('fires a chain 100,000 Deferreds deep without a stack overflow', async () => {
    const n = 100_000;
    const ds = Array.from({ length: n }, () => new Deferred<number>());
    for (let i = 0; i < n - 1; i++) ds[i].addCallback(() => ds[i + 1]);
    for (let i = 0; i < n - 1; i++) ds[i].callback(i);
    ds[n - 1].callback(42);
    expect(await ds[0]).toBe(42);
  });

  it('fires a chain 100,000 Deferreds deep when the innermost fires first', async () => {
    const n = 100_000;
    const ds = Array.from({ length: n }, () => new Deferred<number>());
    for (let i = 0; i < n - 1; i++) ds[i].addCallback(() => ds[i + 1]);
    for (let i = n - 1; i >= 0; i--) ds[i].callback(i);
    expect(await ds[0]).toBe(n - 1);
  });

  it('runs 100,000 callbacks on one Deferred without a stack overflow', () => {
    const d = new Deferred<number>();
    for (let i = 0; i < 100_000; i++) d.addCallback((x) => x + 1);
    d.callback(0);
    let out = 0;
    d.addCallback((x) => {
      out = x;
    });
    expect(out).toBe(100_000);
  });

  it('goes on with an inner Deferred’s later callbacks when its waiter pauses again', () => {
    const inner = new Deferred<number>();
    const next = new Deferred<string>();
    const seen: unknown[] = [];
    const outer = succeed(0)
      .addCallback(() => inner)
      .addCallback((r) => {
        seen.push(`outer got ${r}`);
        return next;
      });
    inner.addCallback((r) => seen.push(`inner link after the hand-over saw ${r}`));
    inner.callback(1);
    expect(seen).toEqual(['outer got 1', 'inner link after the hand-over saw undefined']);
    expect(outer.paused).toBe(true);
    next.callback('done');
    expect(outer.paused).toBe(false);
  });

  it('accepts a thenable that settles synchronously, once', async () => {
    const thenable = {
      then(resolve: (v: number) => void, reject: (e: unknown) => void) {
        resolve(1);
        resolve(2);
        reject(new Error('ignored'));
      },
    };
    const d = succeed(0).addCallback(() => thenable as PromiseLike<number>);
    expect(await d).toBe(1);
  });

  it('fails the chain when a thenable’s then throws', async () => {
    const hostile = {
      then() {
        throw new Error('then exploded');
      },
    };
    const d = succeed(0).addCallback(() => hostile as unknown as PromiseLike<number>);
    await expect(d).rejects.toThrow('then exploded');
  });

  it('runs a callback added from inside a running callback after the current one', () => {
    const d = new Deferred<number>();
    const order: string[] = [];
    d.addCallback((r) => {
      d.addCallback((x) => {
        order.push(`nested ${x}`);
        return x;
      });
      order.push('first');
      return r + 1;
    });
    d.addCallback((r) => {
      order.push(`second ${r}`);
      return r;
    });
    d.callback(1);
    expect(order).toEqual(['first', 'second 2', 'nested 2']);
  });
});

describe('Deferred cancellation', () => {
  it('calls the canceller and errbacks with CancelledError', () => {
    const canceller = vi.fn();
    const d = new Deferred<number>(canceller);
    let failure: Failure | undefined;
    d.addErrback((f) => {
      failure = f;
    });
    d.cancel();
    expect(canceller).toHaveBeenCalledWith(d);
    expect(failure?.check(CancelledError)).toBe(CancelledError);
  });

  it('does not errback when the canceller fired the Deferred itself', () => {
    const d = new Deferred<string>((self) => self.callback('cancelled politely'));
    const seen: unknown[] = [];
    d.addBoth((r) => seen.push(r));
    d.cancel();
    expect(seen).toEqual(['cancelled politely']);
  });

  it('does nothing on a fired Deferred', () => {
    const d = succeed(5);
    d.cancel();
    let out = 0;
    d.addCallback((r) => {
      out = r;
    });
    expect(out).toBe(5);
  });

  it('cancels the Deferred a fired chain is waiting on', () => {
    const inner = new Deferred<number>();
    const d = succeed(1).addCallback(() => inner);
    d.cancel();
    expect(inner.called).toBe(true);
    let failure: Failure | undefined;
    d.addErrback((f) => {
      failure = f;
    });
    expect(failure?.value).toBeInstanceOf(CancelledError);
  });

  it('drops one late result after cancelling a Deferred without a canceller', () => {
    const d = new Deferred<number>();
    d.addErrback(() => 0);
    d.cancel();
    expect(() => d.callback(1)).not.toThrow();
    expect(() => d.callback(2)).toThrow(AlreadyCalledError);
  });
});

describe('Deferred awaiting', () => {
  it('resolves with the result at the end of the chain', async () => {
    const d = new Deferred<number>();
    setTimeout(() => d.callback(20), 1);
    expect(await d.addCallback((r) => r * 2)).toBe(40);
  });

  it('rejects with the original error, not the Failure', async () => {
    const err = new TypeError('original');
    await expect(fail(err)).rejects.toBe(err);
  });

  it('does not change what callbacks added later see', async () => {
    const d = fail(new Error('still here'));
    await expect(d).rejects.toThrow('still here');
    let msg = '';
    d.addErrback((f) => {
      msg = f.getErrorMessage();
    });
    expect(msg).toBe('still here');
  });

  it('asPromise gives a real Promise', async () => {
    const p = succeed('x').asPromise();
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toBe('x');
  });

  it('settles a Promise that adopts it from the chain, where callbacks added later run after it', async () => {
    const d = new Deferred<number>();
    const seen: string[] = [];
    const adopted = new Promise<number>((resolve, reject) => {
      // Given a Promise's own resolve functions, then() adds a link that calls them, and makes no Promise.
      expect(d.then(resolve, reject)).toBeUndefined();
    });
    adopted.then((v) => seen.push(`adopted ${v}`));
    d.addCallback((v) => {
      seen.push(`callback ${v}`);
      return v + 1;
    });
    d.callback(1);
    expect(seen).toEqual(['callback 1']);
    expect(await adopted).toBe(1);
    expect(seen).toEqual(['callback 1', 'adopted 1']);
  });

  it('resumes an await in the microtask where a Promise in its place would resume it', async () => {
    // The same steps over a native Promise and over a Deferred: an await, then a then() added after it, then the fire.
    const steps = async (p: PromiseLike<number>, fire: () => void) => {
      const seen: string[] = [];
      const waiting = (async () => {
        seen.push(`await ${await p}`);
      })();
      // Long enough for V8 to have adopted the Deferred: its then() has been called with the adopting Promise's own.
      for (let i = 0; i < 3; i++) await null;
      p.then((v) => seen.push(`then ${v}`));
      fire();
      await waiting;
      await null;
      return seen;
    };
    let resolve = (_v: number) => {};
    const native = await steps(
      new Promise<number>((r) => {
        resolve = r;
      }),
      () => resolve(1),
    );
    const d = new Deferred<number>();
    expect(native).toEqual(['await 1', 'then 1']);
    expect(await steps(d, () => d.callback(1))).toEqual(native);
  });

  it('rejects an adopting Promise with the original error and counts that as handling it', async () => {
    const reports: Failure[] = [];
    const previous = setUnhandledFailureReporter((f) => reports.push(f));
    try {
      const d = new Deferred<number>();
      const err = new RangeError('adopted');
      const all = Promise.all([d]);
      await Promise.resolve();
      d.errback(err);
      await expect(all).rejects.toBe(err);
      await collectGarbage();
      expect(reports).toEqual([]);
    } finally {
      setUnhandledFailureReporter(previous);
    }
  });

  it('calls a caller’s errback given beside a Promise’s resolve function later, never from errback()', async () => {
    const d = new Deferred<number>();
    const seen: unknown[] = [];
    const err = new Error('given beside');
    new Promise<number>((resolve) => {
      d.then(resolve, (e) => {
        seen.push(e);
      });
    });
    d.errback(err);
    expect(seen).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([err]);
  });

  it('calls bound functions and other callers’ functions later, never from callback(), and returns a Promise', async () => {
    const d = new Deferred<number>();
    const seen: number[] = [];
    const push = seen.push.bind(seen);
    const onError = (() => {}).bind(null);
    const p = d.then(push, onError);
    const q = d.then((v) => seen.push(v * 10));
    expect(p).toBeInstanceOf(Promise);
    expect(q).toBeInstanceOf(Promise);
    d.callback(2);
    expect(seen).toEqual([]);
    await Promise.all([p, q]);
    expect(seen).toEqual([2, 20]);
  });
});

describe('Deferred helpers', () => {
  it('chainDeferred fires the other Deferred with this one’s outcome', () => {
    const a = new Deferred<number>();
    const b = new Deferred<number>();
    const seen: unknown[] = [];
    b.addCallback((r) => seen.push(r));
    a.chainDeferred(b);
    a.callback(9);
    expect(seen).toEqual([9]);
  });

  it('fromPromise follows the promise', async () => {
    expect(await Deferred.fromPromise(Promise.resolve(4))).toBe(4);
    await expect(Deferred.fromPromise(Promise.reject(new Error('r')))).rejects.toThrow('r');
    expect(() => Deferred.fromPromise(3 as unknown as Promise<number>)).toThrow(TypeError);
  });

  it('maybeDeferred turns every kind of outcome into a Deferred', async () => {
    expect(await maybeDeferred(() => 1)).toBe(1);
    await expect(
      maybeDeferred(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(await maybeDeferred(async (a: number, b: number) => a + b, 2, 3)).toBe(5);
    const d = succeed('same');
    expect(maybeDeferred(() => d)).toBe(d);
  });

  it('deferLater fires after the delay with the function’s result', async () => {
    vi.useFakeTimers();
    try {
      const d = deferLater(100, (a: number) => a * 3, 5);
      vi.advanceTimersByTime(99);
      expect(d.called).toBe(false);
      vi.advanceTimersByTime(1);
      expect(await d).toBe(15);
    } finally {
      vi.useRealTimers();
    }
  });

  it('deferLater cancel clears the timer', () => {
    vi.useFakeTimers();
    try {
      const fn = vi.fn();
      const d = deferLater(100, fn);
      d.addErrback(() => null);
      d.cancel();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(200);
      expect(fn).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });

  it('deferLater rejects a bad delay with a RangeError naming it', () => {
    expect(() => deferLater(-1)).toThrow(/`ms`/);
    expect(() => deferLater(Number.NaN)).toThrow(RangeError);
  });
});

describe('unhandled failures', () => {
  afterEach(() => {
    setUnhandledFailureReporter(null);
  });

  it('reports a failure left at the end of a chain once, when the Deferred is collected', async () => {
    const reported: Failure[] = [];
    setUnhandledFailureReporter((f) => reported.push(f));
    (() => {
      fail(new Error('nobody handled me'));
    })();
    await collectGarbage(() => reported.length > 0);
    expect(reported.map((f) => f.getErrorMessage())).toEqual(['nobody handled me']);
  });

  it('does not report a failure that an errback or an await handled', async () => {
    const reported: Failure[] = [];
    setUnhandledFailureReporter((f) => reported.push(f));
    await (async () => {
      fail(new Error('handled')).addErrback(() => null);
      await fail(new Error('awaited')).then(
        () => 0,
        () => 1,
      );
      const inner = fail(new Error('passed on'));
      succeed(1)
        .addCallback(() => inner)
        .addErrback(() => null);
    })();
    (() => {
      fail(new Error('sentinel'));
    })();
    await collectGarbage(() => reported.length > 0);
    expect(reported.map((f) => f.getErrorMessage())).toEqual(['sentinel']);
  });

  it('the default reporter writes to stderr and never throws', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const report = setUnhandledFailureReporter(null);
      report(new Failure(new Error('to stderr')));
      expect(String(write.mock.calls[0][0])).toMatch(/^Unhandled error in Deferred:\n.*to stderr/s);
    } finally {
      write.mockRestore();
    }
  });
});

describe('types', () => {
  it('types each link’s result', () => {
    const d = new Deferred<number>();
    expectTypeOf(d.addCallback((n) => String(n))).toEqualTypeOf<Deferred<string>>();
    expectTypeOf(d.addCallback(async (n) => n > 1)).toEqualTypeOf<Deferred<boolean>>();
    expectTypeOf(d.addCallback(() => succeed(1n))).toEqualTypeOf<Deferred<bigint>>();
    expectTypeOf(d.addErrback(() => 'fallback')).toEqualTypeOf<Deferred<number | string>>();
    expectTypeOf(d.addCallback((n: number, tag: string) => `${tag}${n}`, 'x')).toEqualTypeOf<
      Deferred<string>
    >();
    expectTypeOf(maybeDeferred(async () => 3)).toEqualTypeOf<Deferred<number>>();
  });
});
