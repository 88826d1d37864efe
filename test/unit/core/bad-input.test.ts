/**
 * Bad input across the public surface: every wrong type or range is a programmer's error, thrown at once as a
 * TypeError or RangeError whose message names the argument in backticks — and throwing leaves no work started.
 */
import {
  Cooperator,
  coiterate,
  cooperate,
  Deferred,
  DeferredList,
  DeferredSemaphore,
  deferLater,
  gatherResults,
  getPage,
  getPageBytes,
  getResponse,
  InvalidURLError,
  maybeDeferred,
  parallel,
  parallelStream,
  setUnhandledFailureReporter,
  Timeline,
} from 'async-batching';
import { startDemoSite } from 'async-batching/demo';
import { describe, expect, it } from 'vitest';

type ErrorClass = typeof TypeError | typeof RangeError;

/** Asserts `fn` throws an error of `type` whose message names `name` in backticks. */
function expectBad(fn: () => unknown, type: ErrorClass | readonly ErrorClass[], name: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected a throw naming \`${name}\``).toBeInstanceOf(Error);
  const types = Array.isArray(type) ? type : [type];
  expect(
    types.some((t) => thrown instanceof t),
    `${String(thrown)} is not a ${types.map((t) => t.name).join(' or ')}`,
  ).toBe(true);
  expect((thrown as Error).message).toContain(`\`${name}\``);
}

/** Values that are not a whole number >= 1, of every kind a caller might slip in. */
const NOT_WHOLE_POSITIVE: unknown[] = [
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '5',
  null,
  undefined,
  5n,
  {},
];
/** Values that are not a non-negative number. */
const NOT_NON_NEGATIVE: unknown[] = [-1, -0.5, Number.NaN, Number.NEGATIVE_INFINITY, '500', null, true, {}];
const NOT_ITERABLE: unknown[] = [null, undefined, 42, {}, true, () => [1]];
const NOT_FUNCTION: unknown[] = [null, undefined, 42, 'fn', {}];
const label = (v: unknown) =>
  typeof v === 'bigint' ? `${v}n` : typeof v === 'function' ? 'a function' : String(v);

describe('the Deferred core', () => {
  it.each(NOT_FUNCTION.filter((v) => v !== undefined).map((v) => [label(v), v]))(
    'rejects a canceller of %s',
    (_, v) => {
      expectBad(() => new Deferred(v as never), TypeError, 'canceller');
    },
  );

  it.each(NOT_FUNCTION.map((v) => [label(v), v]))(
    'addCallback / addErrback / addBoth reject %s as the callback',
    (_, v) => {
      const d = new Deferred<number>();
      expectBad(() => d.addCallback(v as never), TypeError, 'fn');
      expectBad(() => d.addErrback(v as never), TypeError, 'fn');
      expectBad(() => d.addBoth(v as never), TypeError, 'fn');
      expectBad(() => d.addCallbacks(v as never, () => 0), TypeError, 'callback');
      // A missing errback (undefined or null) is Twisted's pass-through, not bad input.
      if (v !== undefined && v !== null)
        expectBad(() => d.addCallbacks(() => 0, v as never), TypeError, 'errback');
      // Nothing was added: the chain still runs straight through.
      d.callback(1);
      expect(d.called).toBe(true);
    },
  );

  it('addCallbacks rejects callbackArgs / errbackArgs that are not arrays', () => {
    const d = new Deferred<number>();
    const id = (r: unknown) => r;
    expectBad(() => d.addCallbacks(id, id, { callbackArgs: 'abc' as never }), TypeError, 'callbackArgs');
    expectBad(() => d.addCallbacks(id, id, { errbackArgs: 5 as never }), TypeError, 'errbackArgs');
  });

  it('callback() rejects a Deferred or a Promise as the result, and the Deferred stays unfired', () => {
    const d = new Deferred<unknown>();
    expectBad(() => d.callback(new Deferred()), TypeError, 'result');
    expectBad(() => d.callback(Promise.resolve(1)), TypeError, 'result');
    expect(d.called).toBe(false);
  });

  it('chainDeferred, fromPromise, maybeDeferred and setUnhandledFailureReporter name what they reject', () => {
    expectBad(() => new Deferred().chainDeferred({} as never), TypeError, 'other');
    expectBad(() => Deferred.fromPromise(42 as never), TypeError, 'promise');
    expectBad(() => maybeDeferred(null as never), TypeError, 'fn');
    expectBad(() => setUnhandledFailureReporter('log' as never), TypeError, 'fn');
  });

  it.each([...NOT_NON_NEGATIVE, undefined, Number.POSITIVE_INFINITY].map((v) => [label(v), v]))(
    'deferLater rejects %s ms',
    (_, v) => {
      expectBad(() => deferLater(v as never), [TypeError, RangeError], 'ms');
    },
  );

  it('deferLater rejects a callback that is not a function, and starts no timer', () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expectBad(() => deferLater(10, 'later' as never), TypeError, 'fn');
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
  });
});

describe('DeferredList and gatherResults', () => {
  it.each(NOT_ITERABLE.map((v) => [label(v), v]))('reject %s as the items', (_, v) => {
    expectBad(() => new DeferredList(v as never), TypeError, 'items');
    expectBad(() => gatherResults(v as never), TypeError, 'items');
  });

  it('DeferredList rejects options that are not an object', () => {
    expectBad(() => new DeferredList([], null as never), TypeError, 'options');
    expectBad(() => new DeferredList([], 'all' as never), TypeError, 'options');
  });
});

describe('DeferredSemaphore', () => {
  it.each(NOT_WHOLE_POSITIVE.map((v) => [label(v), v]))('rejects %s tokens', (_, v) => {
    expectBad(() => new DeferredSemaphore(v as never), [TypeError, RangeError], 'tokens');
  });

  it.each(NOT_WHOLE_POSITIVE.map((v) => [label(v), v]))(
    'rejects a limit of %s and keeps the old one',
    (_, v) => {
      const sem = new DeferredSemaphore(3);
      expectBad(
        () => {
          sem.limit = v as never;
        },
        [TypeError, RangeError],
        'limit',
      );
      expect(sem.limit).toBe(3);
      expect(sem.tokens).toBe(3);
    },
  );

  it.each(NOT_FUNCTION.map((v) => [label(v), v]))(
    'run() rejects %s as the job, and takes no token',
    (_, v) => {
      const sem = new DeferredSemaphore(1);
      expectBad(() => sem.run(v as never), TypeError, 'fn');
      expect(sem.tokens).toBe(1);
      expect(sem.waiting.length).toBe(0);
    },
  );
});

describe('Cooperator, coiterate and cooperate', () => {
  it('the Cooperator names the option it rejects', () => {
    expectBad(() => new Cooperator(null as never), TypeError, 'options');
    expectBad(
      () => new Cooperator({ terminationPredicateFactory: 10 as never }),
      TypeError,
      'terminationPredicateFactory',
    );
    expectBad(() => new Cooperator({ scheduler: 'setImmediate' as never }), TypeError, 'scheduler');
  });

  it.each([null, undefined, 42, {}, true].map((v) => [label(v), v]))(
    'coiterate and cooperate reject %s',
    (_, v) => {
      const c = new Cooperator({ started: false });
      expectBad(() => c.coiterate(v as never), TypeError, 'iterator');
      expectBad(() => c.cooperate(v as never), TypeError, 'iterator');
      expectBad(() => coiterate(v as never), TypeError, 'iterator');
      expectBad(() => cooperate(v as never), TypeError, 'iterator');
    },
  );
});

describe('parallel and parallelStream', () => {
  /** A generator that counts how often it was pulled: bad input must not pull a single item. */
  function counted() {
    const state = { pulls: 0 };
    function* gen() {
      for (let i = 0; i < 3; i++) {
        state.pulls++;
        yield i;
      }
    }
    return { state, items: gen() };
  }

  // Infinity is a concurrency they accept (every item at once), as p-map does.
  it.each(NOT_WHOLE_POSITIVE.filter((v) => v !== Number.POSITIVE_INFINITY).map((v) => [label(v), v]))(
    'reject a concurrency of %s, pulling nothing',
    (_, v) => {
      const { state, items } = counted();
      expectBad(() => parallel(items, v as never, (x) => x), [TypeError, RangeError], 'concurrency');
      expectBad(() => parallelStream(items, v as never, (x) => x), [TypeError, RangeError], 'concurrency');
      expect(state.pulls).toBe(0);
    },
  );

  it.each(NOT_ITERABLE.map((v) => [label(v), v]))('reject %s as the items', (_, v) => {
    expectBad(() => parallel(v as never, 2, (x) => x), TypeError, 'items');
    expectBad(() => parallelStream(v as never, 2, (x) => x), TypeError, 'items');
  });

  it.each(NOT_FUNCTION.map((v) => [label(v), v]))('reject %s as fn, pulling nothing', (_, v) => {
    const { state, items } = counted();
    expectBad(() => parallel(items, 2, v as never), TypeError, 'fn');
    expectBad(() => parallelStream(items, 2, v as never), TypeError, 'fn');
    expect(state.pulls).toBe(0);
  });

  it('reject options of the wrong kind, naming each', () => {
    const id = (x: number) => x;
    expectBad(() => parallel([1], 2, id, null as never), TypeError, 'options');
    expectBad(() => parallel([1], 2, id, { signal: {} as never }), TypeError, 'options.signal');
    expectBad(() => parallel([1], 2, id, { cooperator: {} as never }), TypeError, 'options.cooperator');
    expectBad(() => parallel([1], 2, id, { stopOnError: 'yes' as never }), TypeError, 'options.stopOnError');
    for (const v of [0, -1, 1.5, Number.NaN, '8']) {
      expectBad(
        () => parallelStream([1], 2, id, { backpressure: v as never }),
        RangeError,
        'options.backpressure',
      );
    }
  });
});

describe('getPage, getPageBytes and getResponse', () => {
  const url = 'http://127.0.0.1:9/never-requested';

  it.each([null, undefined, 42, {}, ['http://x/']].map((v) => [label(v), v]))(
    'reject %s as the url',
    (_, v) => {
      expectBad(() => getPage(v as never), TypeError, 'url');
      expectBad(() => getPageBytes(v as never), TypeError, 'url');
      expectBad(() => getResponse(v as never), TypeError, 'url');
    },
  );

  it('reject options that are not an object', () => {
    expectBad(() => getPage(url, null as never), TypeError, 'options');
    expectBad(() => getPage(url, 'fast' as never), TypeError, 'options');
  });

  it.each(NOT_NON_NEGATIVE.map((v) => [label(v), v]))('reject a timeout of %s', (_, v) => {
    expectBad(() => getPage(url, { timeout: v as never }), [TypeError, RangeError], 'timeout');
  });

  it.each([...NOT_NON_NEGATIVE, 1.5].map((v) => [label(v), v]))('reject maxBytes of %s', (_, v) => {
    expectBad(() => getPage(url, { maxBytes: v as never }), [TypeError, RangeError], 'maxBytes');
    expectBad(() => getPageBytes(url, { maxBytes: v as never }), [TypeError, RangeError], 'maxBytes');
  });

  it.each([...NOT_NON_NEGATIVE, 1.5].map((v) => [label(v), v]))('reject maxRedirects of %s', (_, v) => {
    expectBad(() => getResponse(url, { maxRedirects: v as never }), [TypeError, RangeError], 'maxRedirects');
  });

  it('reject every other option of the wrong kind, naming it', () => {
    expectBad(() => getPage(url, { method: 'GE T' }), TypeError, 'method');
    expectBad(() => getPage(url, { headers: 'accept: */*' as never }), TypeError, 'headers');
    expectBad(() => getPage(url, { headers: { 'x-bad': 'a\r\nb' } }), TypeError, 'headers');
    expectBad(() => getPage(url, { body: 42 as never }), TypeError, 'body');
    expectBad(() => getPage(url, { followRedirect: 'yes' as never }), TypeError, 'followRedirect');
    expectBad(() => getPage(url, { signal: {} as never }), TypeError, 'signal');
    expectBad(() => getPage(url, { dispatcher: {} as never }), TypeError, 'dispatcher');
    expectBad(() => getPage(url, { userAgent: 'a\nb' }), TypeError, 'userAgent');
  });

  it.each(['not a url', 'file:///etc/passwd', 'ftp://127.0.0.1/', 'javascript:alert(1)', ''])(
    'delivers %j as an InvalidURLError failure, not a throw',
    async (bad) => {
      const d = getPage(bad, { timeout: 1000 });
      expect(d).toBeInstanceOf(Deferred);
      await expect(d).rejects.toBeInstanceOf(InvalidURLError);
    },
  );
});

describe('Timeline and the demo site', () => {
  it('Timeline names what it rejects', () => {
    expectBad(() => new Timeline(null as never), TypeError, 'options');
    expectBad(() => new Timeline({ clock: 5 as never }), TypeError, 'options.clock');
    const t = new Timeline();
    expectBad(() => t.start(5 as never), TypeError, 'label');
    expectBad(() => t.end(99), RangeError, 'id');
    expectBad(() => t.track('x', 5 as never), TypeError, 'work');
    expectBad(() => t.toSVG({ width: 50 }), RangeError, 'width');
    expectBad(() => t.toSVG({ width: Number.NaN }), RangeError, 'width');
    expectBad(() => t.toSVG({ title: 5 as never }), TypeError, 'title');
    expectBad(() => t.toSVG({ lanes: 'stacked' as never }), TypeError, 'lanes');
  });

  it('startDemoSite (async) rejects with an error naming the option, and listens on nothing', async () => {
    const before = process.getActiveResourcesInfo().length;
    await expect(startDemoSite({ port: -1 })).rejects.toThrow(RangeError);
    await expect(startDemoSite({ port: 70000 })).rejects.toThrow(/`port`/);
    await expect(startDemoSite({ latency: -5 })).rejects.toThrow(/`latency`/);
    await expect(startDemoSite({ host: '' })).rejects.toThrow(/`host`/);
    await expect(startDemoSite(null as never)).rejects.toThrow(/`options`/);
    expect(process.getActiveResourcesInfo().length).toBe(before);
  });
});
