// Twisted's test_defer.py behaviours that the peers' suites, ported, found missing: circular-chain detection,
// ensureDeferred and maybeDeferred of async functions, addCallbacks with null arguments, and an empty DeferredList.
import {
  AsyncBatchingError,
  CircularChainError,
  Deferred,
  DeferredList,
  ensureDeferred,
  type Failure,
  maybeDeferred,
} from 'async-batching';
import { describe, expect, it } from 'vitest';

function failureOf(d: Deferred<unknown>): Failure {
  let failure: Failure | undefined;
  d.addErrback((f) => {
    failure = f;
  });
  if (failure === undefined) throw new Error('Expected the Deferred to have failed');
  return failure;
}

describe('a callback that returns the Deferred it was added to fails the chain with CircularChainError', () => {
  it('when the Deferred fires after the callback was added', () => {
    const d = new Deferred<string>();
    d.addCallback(() => d);
    d.callback('foo');
    const f = failureOf(d);
    expect(f.check(CircularChainError)).toBe(CircularChainError);
    expect(f.value).toBeInstanceOf(AsyncBatchingError);
    expect((f.value as CircularChainError).code).toBe('AB_ERR_CIRCULAR_CHAIN');
    expect(f.getErrorMessage()).toMatch(/Callback returned the Deferred it was attached to/);
  });

  it('when the callback is added to a Deferred that has fired, and from an errback', () => {
    const fired = new Deferred<number>();
    fired.callback(1);
    fired.addCallback(() => fired);
    expect(failureOf(fired).check(CircularChainError)).toBe(CircularChainError);

    const failed = new Deferred<number>();
    failed.errback(new Error('first'));
    failed.addErrback(() => failed);
    expect(failureOf(failed).check(CircularChainError)).toBe(CircularChainError);
  });
});

describe('ensureDeferred', () => {
  it('returns a Deferred as it is', () => {
    const d = new Deferred();
    expect(ensureDeferred(d)).toBe(d);
  });

  it("follows an async function's Promise, success and failure", async () => {
    const run = async () => {
      const value = await new Deferred<string>().addCallback((x) => x).addCallback(() => 'never');
      return value;
    };
    const pending = ensureDeferred(run());
    expect(pending).toBeInstanceOf(Deferred);
    expect(pending.called).toBe(false);
    const ok = ensureDeferred((async () => 'foo')());
    expect(await ok).toBe('foo');
    const boom = new Error('boom');
    const bad = ensureDeferred(
      (async () => {
        throw boom;
      })(),
    );
    await expect(bad).rejects.toBe(boom);
  });

  it('refuses what is neither a Deferred nor a Promise, naming it (Twisted: NotACoroutineError)', () => {
    expect(() => ensureDeferred('something' as never)).toThrow(TypeError);
    expect(() => ensureDeferred('something' as never)).toThrow(
      /^Expected `awaitable` to be a Deferred, a Promise or a thenable, got /,
    );
  });
});

describe('maybeDeferred of an async function', () => {
  it('gives a Deferred with the result of its Promise', async () => {
    const result = {};
    const d = maybeDeferred(async () => result);
    expect(d).toBeInstanceOf(Deferred);
    expect(await d).toBe(result);
  });

  it('gives a Deferred that fails with what the async function threw', async () => {
    class SomeError extends Error {}
    const d = maybeDeferred(async () => {
      throw new SomeError('no');
    });
    const failures: Failure[] = [];
    await d.addErrback((f) => {
      failures.push(f);
    });
    expect(failures[0]?.check(SomeError)).toBe(SomeError);
  });
});

describe('addCallbacks takes null for callbackArgs and errbackArgs, as Twisted takes None', () => {
  it('calls the callback with the result alone', () => {
    const seen: unknown[][] = [];
    const d = new Deferred<number>();
    d.addCallbacks((...args: unknown[]) => seen.push(args), null, { callbackArgs: null, errbackArgs: null });
    d.callback(7);
    expect(seen).toEqual([[7]]);
  });

  it('calls the errback with the failure alone', () => {
    const seen: unknown[] = [];
    const d = new Deferred<number>();
    d.addCallbacks(
      () => undefined,
      (...args: unknown[]) => {
        seen.push(args.length);
      },
      { callbackArgs: [1, 2], errbackArgs: null },
    );
    d.errback(new Error('x'));
    expect(seen).toEqual([1]);
  });

  it('still refuses arguments that are not an array', () => {
    const call = () => new Deferred().addCallbacks(() => 1, null, { callbackArgs: 'ab' as never });
    expect(call).toThrow(TypeError);
    expect(call).toThrow(/^Expected `callbackArgs` to be an array or null, got /);
  });
});

describe('an empty DeferredList', () => {
  it('fires at once with [], also with fireOnOneErrback, as in Twisted', () => {
    const results: unknown[] = [];
    new DeferredList([]).addCallback((r) => results.push(r));
    new DeferredList([], { fireOnOneErrback: true }).addCallback((r) => results.push(r));
    expect(results).toEqual([[], []]);
  });

  it('with fireOnOneCallback fails at once: no input can succeed (Twisted never fires it)', () => {
    const list = new DeferredList<unknown, [unknown, number]>([], { fireOnOneCallback: true });
    expect(list.called).toBe(true);
    const f = failureOf(list as Deferred<unknown>);
    expect(f.value).toBeInstanceOf(AggregateError);
    expect((f.value as AggregateError).errors).toEqual([]);
  });
});

describe('a Deferred that follows a foreign thenable', () => {
  it('fails with what its then() throws, instead of throwing', () => {
    const boom = new Error('then threw');
    const thenable = {
      then() {
        throw boom;
      },
    };
    const d = ensureDeferred(thenable);
    expect(failureOf(d as Deferred<unknown>).value).toBe(boom);
  });

  it('takes the first outcome of a thenable that calls back twice', async () => {
    const thenable: PromiseLike<number> = {
      then(ok, err) {
        ok?.(1);
        ok?.(2);
        err?.(new Error('late'));
        return Promise.resolve(undefined as never);
      },
    };
    expect(await ensureDeferred(thenable)).toBe(1);
  });
});

describe('chainDeferred on a chain that an unpause() too many let go on while it waited', () => {
  // Twisted's chainDeferred is `addCallbacks(other.callback, other.errback)`, and callback() refuses a Deferred before
  // it looks at whether `other` has fired.
  const waitingCutShort = () => {
    const d = new Deferred<unknown>();
    d.callback(0);
    d.addCallback(() => new Deferred<number>());
    d.unpause();
    return d;
  };
  const failureOf = (d: Deferred<unknown>) => {
    let value: unknown;
    d.addErrback((f: Failure) => {
      value = f.value;
      return null;
    });
    return value;
  };

  it('fails the link with TypeError and leaves an unfired target unfired', () => {
    const d = waitingCutShort();
    const target = new Deferred<unknown>();
    d.chainDeferred(target);
    expect(target.called).toBe(false);
    expect(failureOf(d)).toBeInstanceOf(TypeError);
  });

  it('fails with TypeError, not AlreadyCalledError, when the target is the Deferred itself', () => {
    const d = waitingCutShort();
    d.chainDeferred(d);
    expect(failureOf(d)).toBeInstanceOf(TypeError);
  });
});
