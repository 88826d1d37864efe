/**
 * Bad arguments across every public entry point: each is a programmer's error, thrown at once as a TypeError (wrong
 * type) or a RangeError (right type, out of range), whose message names the argument, says what was expected and shows
 * what came ("got ..."), the same way everywhere (core/args.ts `describe`), without calling the value's own methods.
 */
import {
  batcher,
  Cooperator,
  coiterate,
  cooperate,
  Deferred,
  DeferredList,
  DeferredLock,
  DeferredQueue,
  DeferredSemaphore,
  deferLater,
  gatherResults,
  getPage,
  getPageBytes,
  getResponse,
  KeyedSemaphore,
  keyedParallel,
  keyedParallelStream,
  ManualClock,
  maybeDeferred,
  parallel,
  parallelStream,
  RateLimiter,
  race,
  retry,
  retrying,
  setUnhandledFailureReporter,
  Timeline,
} from 'async-batching';
import { distributedStream, forkWorker, runWorker, startRedisServer } from 'async-batching/bullmq';
import { exampleUrls, startDemoSite, startPoliteSite } from 'async-batching/demo';
import { describe, expect, it } from 'vitest';

type ErrorClass = typeof TypeError | typeof RangeError;
type Row = [entry: string, call: () => unknown, type: ErrorClass, message: string];

const id = (x: unknown) => x;
const url = 'http://127.0.0.1:9/never-requested';
/** A value whose every method and getter throws: a message must show it without touching it. */
const hostile = new Proxy(
  {},
  {
    get() {
      throw new Error('read');
    },
    getPrototypeOf() {
      throw new Error('prototype');
    },
  },
);
const key = (s: string) => s;
const connection = { path: '/nonexistent.sock' };

const rows: Row[] = [
  // the Deferred core
  [
    'new Deferred',
    () => new Deferred(5 as never),
    TypeError,
    'Expected `canceller` to be a function or undefined, got 5',
  ],
  [
    'addCallback',
    () => new Deferred().addCallback('f' as never),
    TypeError,
    'Expected `fn` to be a function, got "f" (string)',
  ],
  [
    'addErrback',
    () => new Deferred().addErrback(null as never),
    TypeError,
    'Expected `fn` to be a function, got null',
  ],
  [
    'addBoth',
    () => new Deferred().addBoth({} as never),
    TypeError,
    'Expected `fn` to be a function, got an object',
  ],
  [
    'addCallbacks',
    () => new Deferred().addCallbacks(id, 1 as never),
    TypeError,
    'Expected `errback` to be a function, got 1',
  ],
  [
    'addCallbacks args',
    () => new Deferred().addCallbacks(id, id, { callbackArgs: 'ab' as never }),
    TypeError,
    'Expected `callbackArgs` to be an array or null, got "ab" (string)',
  ],
  [
    'callback',
    () => new Deferred().callback(Promise.resolve(1)),
    TypeError,
    'Expected `result` not to be a Deferred or Promise (return it from a callback instead), got an object',
  ],
  [
    'chainDeferred',
    () => new Deferred().chainDeferred([] as never),
    TypeError,
    'Expected `other` to be a Deferred, got an array',
  ],
  [
    'fromPromise',
    () => Deferred.fromPromise(42 as never),
    TypeError,
    'Expected `promise` to be a Promise or thenable, got 42',
  ],
  [
    'addTimeout ms',
    () => new Deferred().addTimeout(-1),
    RangeError,
    'Expected `ms` to be a number of milliseconds >= 0, got -1',
  ],
  [
    'addTimeout Infinity',
    () => new Deferred().addTimeout(Number.POSITIVE_INFINITY),
    RangeError,
    'Expected `ms` to be a number of milliseconds >= 0, got Infinity',
  ],
  [
    'addTimeout clock',
    () => new Deferred().addTimeout(1, { clock: hostile as never }),
    TypeError,
    'Expected `clock` to be a Clock, with now(), setTimeout() and clearTimeout(), got an object',
  ],
  [
    'addTimeout options',
    () => new Deferred().addTimeout(1, null as never),
    TypeError,
    'Expected `options` to be an object, got null',
  ],
  [
    'maybeDeferred',
    () => maybeDeferred(undefined as never),
    TypeError,
    'Expected `fn` to be a function, got undefined',
  ],
  [
    'deferLater ms',
    () => deferLater('10' as never),
    TypeError,
    'Expected `ms` to be a number of milliseconds >= 0, got "10" (string)',
  ],
  [
    'deferLater NaN',
    () => deferLater(Number.NaN),
    RangeError,
    'Expected `ms` to be a number of milliseconds >= 0, got NaN',
  ],
  [
    'deferLater clock',
    () => deferLater({ now: () => 0 } as never, 10),
    TypeError,
    'Expected `clock` to be a Clock, with now(), setTimeout() and clearTimeout(), got an object',
  ],
  [
    'deferLater fn',
    () => deferLater(new ManualClock(), 10, 5n as never),
    TypeError,
    'Expected `fn` to be a function, got 5n (bigint)',
  ],
  [
    'setUnhandledFailureReporter',
    () => setUnhandledFailureReporter(true as never),
    TypeError,
    'Expected `fn` to be a function or null, got true (boolean)',
  ],
  [
    'ManualClock',
    () => new ManualClock(Number.NaN),
    RangeError,
    'Expected `start` to be a finite number, got NaN',
  ],
  [
    'ManualClock.advance',
    () => new ManualClock().advance(-5),
    RangeError,
    'Expected `ms` to be a number of milliseconds >= 0, got -5',
  ],
  // building blocks
  [
    'DeferredSemaphore tokens',
    () => new DeferredSemaphore(0),
    RangeError,
    'Expected `tokens` to be a whole number >= 1, got 0',
  ],
  [
    'DeferredSemaphore type',
    () => new DeferredSemaphore('3' as never),
    TypeError,
    'Expected `tokens` to be a whole number >= 1, got "3" (string)',
  ],
  [
    'DeferredSemaphore limit',
    () => {
      new DeferredSemaphore(2).limit = 1.5;
    },
    RangeError,
    'Expected `limit` to be a whole number >= 1, got 1.5',
  ],
  [
    'DeferredSemaphore options',
    () => new DeferredSemaphore(2, 'fast' as never),
    TypeError,
    'Expected `options` to be an object, got "fast" (string)',
  ],
  [
    'DeferredSemaphore rate',
    () => new DeferredSemaphore(2, { rate: 5 as never }),
    TypeError,
    'Expected `options.rate` to be a RateLimiter, a window { max, per } or an array of them, got 5',
  ],
  [
    'DeferredSemaphore.run',
    () => new DeferredSemaphore(2).run(hostile as never),
    TypeError,
    'Expected `fn` to be a function, got an object',
  ],
  [
    'DeferredLock.run',
    () => new DeferredLock().run(null as never),
    TypeError,
    'Expected `fn` to be a function, got null',
  ],
  [
    'KeyedSemaphore perKey',
    () => new KeyedSemaphore(-1),
    RangeError,
    'Expected `perKey` to be a whole number >= 1, got -1',
  ],
  [
    'KeyedSemaphore key',
    () => new KeyedSemaphore(1).run(5 as never, () => 1),
    TypeError,
    'Expected `key` to be a string, got 5',
  ],
  [
    'DeferredQueue size',
    () => new DeferredQueue({ size: -1 }),
    RangeError,
    'Expected `size` to be a whole number >= 0 or Infinity, got -1',
  ],
  [
    'DeferredQueue backlog',
    () => new DeferredQueue({ backlog: null as never }),
    TypeError,
    'Expected `backlog` to be a whole number >= 0 or Infinity, got null',
  ],
  [
    'DeferredQueue options',
    () => new DeferredQueue(7 as never),
    TypeError,
    'Expected `options` to be an object, got 7',
  ],
  [
    'RateLimiter max',
    () => new RateLimiter({ max: 0, per: 10 }),
    RangeError,
    'Expected `windows.max` to be a whole number >= 1, got 0',
  ],
  [
    'RateLimiter per',
    () => new RateLimiter([{ max: 1, per: '1s' as never }]),
    TypeError,
    'Expected `windows[0].per` to be a finite number > 0, got "1s" (string)',
  ],
  [
    'RateLimiter window',
    () => new RateLimiter(['w' as never]),
    TypeError,
    'Expected `windows[0]` to be an object { max, per }, got "w" (string)',
  ],
  [
    'RateLimiter clock',
    () => new RateLimiter({ max: 1, per: 1 }, { clock: {} as never }),
    TypeError,
    'Expected `clock` to be a Clock, with now(), setTimeout() and clearTimeout(), got an object',
  ],
  [
    'RateLimiter.run',
    () => new RateLimiter({ max: 1, per: 1 }).run(3 as never),
    TypeError,
    'Expected `fn` to be a function, got 3',
  ],
  [
    'RateLimiter.wrap',
    () => new RateLimiter({ max: 1, per: 1 }).wrap('x' as never),
    TypeError,
    'Expected `fn` to be a function, got "x" (string)',
  ],
  [
    'Cooperator options',
    () => new Cooperator(null as never),
    TypeError,
    'Expected `options` to be an object, got null',
  ],
  [
    'Cooperator clock',
    () => new Cooperator({ clock: 1 as never }),
    TypeError,
    'Expected `clock` to be a Clock, with now(), setTimeout() and clearTimeout(), got 1',
  ],
  [
    'Cooperator scheduler',
    () => new Cooperator({ scheduler: 'setImmediate' as never }),
    TypeError,
    'Expected `scheduler` to be a function, got "setImmediate" (string)',
  ],
  [
    'Cooperator predicate',
    () => new Cooperator({ terminationPredicateFactory: 10 as never }),
    TypeError,
    'Expected `terminationPredicateFactory` to be a function, got 10',
  ],
  [
    'coiterate',
    () => coiterate(42 as never),
    TypeError,
    'Expected `iterator` to be an iterator, an async iterator or an iterable, got 42',
  ],
  [
    'cooperate',
    () => cooperate(null as never),
    TypeError,
    'Expected `iterator` to be an iterator, an async iterator or an iterable, got null',
  ],
  ['retry fn', () => retry(null as never), TypeError, 'Expected `fn` to be a function, got null'],
  [
    'retry attempts',
    () => retry(id, { attempts: 0 }),
    RangeError,
    'Expected `attempts` to be a whole number >= 1, got 0',
  ],
  [
    'retry minDelay',
    () => retry(id, { minDelay: -1 }),
    RangeError,
    'Expected `minDelay` to be a number of milliseconds >= 0 (or Infinity), got -1',
  ],
  [
    'retry jitter',
    () => retry(id, { jitter: 2 }),
    RangeError,
    'Expected `jitter` to be a number from 0 to 1, got 2',
  ],
  [
    'retry factor',
    () => retry(id, { factor: '2' as never }),
    TypeError,
    'Expected `factor` to be a number >= 1, got "2" (string)',
  ],
  [
    'retry shouldRetry',
    () => retry(id, { shouldRetry: 3 as never }),
    TypeError,
    'Expected `shouldRetry` to be a function, got 3',
  ],
  [
    'retry signal',
    () => retry(id, { signal: {} as never }),
    TypeError,
    'Expected `signal` to be an AbortSignal, got an object',
  ],
  [
    'retry clock',
    () => retry(id, { clock: 'now' as never }),
    TypeError,
    'Expected `clock` to be a Clock, with now(), setTimeout() and clearTimeout(), got "now" (string)',
  ],
  ['retry options', () => retry(id, 3 as never), TypeError, 'Expected `options` to be an object, got 3'],
  // compositions
  [
    'DeferredList items',
    () => new DeferredList(5 as never),
    TypeError,
    'Expected `items` to be an iterable of Deferreds or Promises, got 5',
  ],
  [
    'DeferredList options',
    () => new DeferredList([], 'all' as never),
    TypeError,
    'Expected `options` to be an object, got "all" (string)',
  ],
  [
    'gatherResults',
    () => gatherResults(null as never),
    TypeError,
    'Expected `items` to be an iterable of Deferreds or Promises, got null',
  ],
  [
    'race items',
    () => race(undefined as never),
    TypeError,
    'Expected `items` to be an iterable of Deferreds or Promises, got undefined',
  ],
  [
    'race empty',
    () => race([]),
    RangeError,
    'Expected `items` to hold at least one Deferred or Promise, got 0',
  ],
  [
    'parallel concurrency',
    () => parallel([1], 0, id),
    RangeError,
    'Expected `concurrency` to be a whole number >= 1 or Infinity, got 0',
  ],
  [
    'parallel concurrency type',
    () => parallel([1], '2' as never, id),
    TypeError,
    'Expected `concurrency` to be a whole number >= 1 or Infinity, got "2" (string)',
  ],
  [
    'parallel items',
    () => parallel(42 as never, 1, id),
    TypeError,
    'Expected `items` to be an iterable or an async iterable, got 42',
  ],
  [
    'parallel fn',
    () => parallel([1], 1, {} as never),
    TypeError,
    'Expected `fn` to be a function, got an object',
  ],
  [
    'parallel options',
    () => parallel([1], 1, id, null as never),
    TypeError,
    'Expected `options` to be an object, got null',
  ],
  [
    'parallel signal',
    () => parallel([1], 1, id, { signal: hostile as never }),
    TypeError,
    'Expected `options.signal` to be an AbortSignal, got an object',
  ],
  [
    'parallel cooperator',
    () => parallel([1], 1, id, { cooperator: {} as never }),
    TypeError,
    'Expected `options.cooperator` to be a Cooperator, got an object',
  ],
  [
    'parallel stopOnError',
    () => parallel([1], 1, id, { stopOnError: 'yes' as never }),
    TypeError,
    'Expected `options.stopOnError` to be a boolean, got "yes" (string)',
  ],
  [
    'parallel rate',
    () => parallel([1], 1, id, { rate: {} as never }),
    TypeError,
    'Expected `options.rate` to be a RateLimiter, got an object',
  ],
  [
    'parallelStream backpressure',
    () => parallelStream([1], 1, id, { backpressure: 0 }),
    RangeError,
    'Expected `options.backpressure` to be a whole number >= 1 or Infinity, got 0',
  ],
  [
    'parallelStream key alone',
    () => parallelStream([1], 1, id, { key: key as never }),
    TypeError,
    'Expected `options.key` and `options.perKey` together, got only one of them',
  ],
  [
    'keyedParallel concurrency',
    () => keyedParallel(['a'], Number.POSITIVE_INFINITY, id, { key, perKey: 1 }),
    RangeError,
    'Expected `concurrency` to be a whole number >= 1, got Infinity',
  ],
  [
    'keyedParallel key',
    () => keyedParallel(['a'], 1, id, { perKey: 1 } as never),
    TypeError,
    'Expected `options.key` to be a function, got undefined',
  ],
  [
    'keyedParallelStream perKey',
    () => keyedParallelStream(['a'], 1, id, { key, perKey: 0 }),
    RangeError,
    'Expected `options.perKey` to be a whole number >= 1, got 0',
  ],
  [
    'keyedParallelStream signal',
    () => keyedParallelStream(['a'], 1, id, { key, perKey: 1, signal: 1 as never }),
    TypeError,
    'Expected `options.signal` to be an AbortSignal, got 1',
  ],
  ['batcher bulkFn', () => batcher(null as never), TypeError, 'Expected `bulkFn` to be a function, got null'],
  [
    'batcher maxSize',
    () => batcher(id as never, { maxSize: 0 }),
    RangeError,
    'Expected `maxSize` to be a whole number >= 1, got 0',
  ],
  [
    'batcher maxWait',
    () => batcher(id as never, { maxWait: -1 }),
    RangeError,
    'Expected `maxWait` to be a number of milliseconds >= 0, got -1',
  ],
  [
    'batcher clock',
    () => batcher(id as never, { clock: [] as never }),
    TypeError,
    'Expected `clock` to be a Clock, with now(), setTimeout() and clearTimeout(), got an array',
  ],
  [
    'Timeline options',
    () => new Timeline(null as never),
    TypeError,
    'Expected `options` to be an object, got null',
  ],
  [
    'Timeline clock',
    () => new Timeline({ clock: (() => 0) as never }),
    TypeError,
    'Expected `options.clock` to be a Clock, with now(), setTimeout() and clearTimeout(), got a function',
  ],
  [
    'Timeline.start',
    () => new Timeline().start(5 as never),
    TypeError,
    'Expected `label` to be a string, got 5',
  ],
  [
    'Timeline.end',
    () => new Timeline().end(99),
    RangeError,
    'Expected `id` to be an id returned by start(), got 99',
  ],
  [
    'Timeline.track',
    () => new Timeline().track('x', 5 as never),
    TypeError,
    'Expected `work` to be a Deferred or a Promise, got 5',
  ],
  [
    'Timeline.toSVG',
    () => new Timeline().toSVG({ width: 50 }),
    RangeError,
    'Expected `width` to be a number >= 100, got 50',
  ],
  [
    'Timeline.toSVG lanes',
    () => new Timeline().toSVG({ lanes: 'stacked' as never }),
    TypeError,
    `Expected \`lanes\` to be 'packed' or 'rows', got "stacked" (string)`,
  ],
  // I/O
  ['getPage url', () => getPage(42 as never), TypeError, 'Expected `url` to be a string or a URL, got 42'],
  [
    'getPageBytes url',
    () => getPageBytes(null as never),
    TypeError,
    'Expected `url` to be a string or a URL, got null',
  ],
  [
    'getResponse url',
    () => getResponse(['http://x/'] as never),
    TypeError,
    'Expected `url` to be a string or a URL, got an array',
  ],
  [
    'getPage options',
    () => getPage(url, 'fast' as never),
    TypeError,
    'Expected `options` to be an object, got "fast" (string)',
  ],
  [
    'getPage timeout',
    () => getPage(url, { timeout: -1 }),
    RangeError,
    'Expected `timeout` to be a number of milliseconds >= 0 (or Infinity), got -1',
  ],
  [
    'getPage maxBytes',
    () => getPage(url, { maxBytes: 1.5 }),
    RangeError,
    'Expected `maxBytes` to be a whole number >= 0 or Infinity, got 1.5',
  ],
  [
    'getPage maxRedirects',
    () => getPage(url, { maxRedirects: '3' as never }),
    TypeError,
    'Expected `maxRedirects` to be a whole number >= 0, got "3" (string)',
  ],
  [
    'getPage method',
    () => getPage(url, { method: 'GE T' }),
    TypeError,
    'Expected `method` to be an HTTP method name, got "GE T" (string)',
  ],
  [
    'getPage body',
    () => getPage(url, { body: 42 as never }),
    TypeError,
    'Expected `body` to be a string, a Uint8Array, null or undefined, got 42',
  ],
  [
    'getPage followRedirect',
    () => getPage(url, { followRedirect: 1 as never }),
    TypeError,
    'Expected `followRedirect` to be a boolean, got 1',
  ],
  [
    'getPage signal',
    () => getPage(url, { signal: { aborted: false } as never }),
    TypeError,
    'Expected `signal` to be an AbortSignal, got an object',
  ],
  [
    'getPage dispatcher',
    () => getPage(url, { dispatcher: {} as never }),
    TypeError,
    'Expected `dispatcher` to be an undici Dispatcher, got an object',
  ],
  [
    'getPage retry',
    () => getPage(url, { retry: 0 }),
    RangeError,
    'Expected `retry` to be a whole number of attempts >= 1, got 0',
  ],
  [
    'getPage retry options',
    () => getPage(url, { retry: { maxRetryAfter: -1 } }),
    RangeError,
    'Expected `retry.maxRetryAfter` to be a number of milliseconds >= 0 (or Infinity), got -1',
  ],
  ['retrying get', () => retrying(null as never), TypeError, 'Expected `get` to be a function, got null'],
  [
    'retrying statuses',
    () => retrying(getPage, { statuses: '429' as never }),
    TypeError,
    'Expected `statuses` to be an array of status codes, got "429" (string)',
  ],
  [
    'retrying retryAfter',
    () => retrying(getPage, { retryAfter: 'yes' as never }),
    TypeError,
    'Expected `retryAfter` to be a boolean, got "yes" (string)',
  ],
  [
    'distributedStream items',
    () => distributedStream(5 as never, { queue: 'q', connection }),
    TypeError,
    'Expected `items` to be an iterable or an async iterable, got 5',
  ],
  [
    'distributedStream queue',
    () => distributedStream([], { queue: '', connection }),
    TypeError,
    'Expected `options.queue` to be a non-empty string, got "" (string)',
  ],
  [
    'distributedStream window',
    () => distributedStream([], { queue: 'q', connection, window: 0 }),
    RangeError,
    'Expected `options.window` to be a whole number >= 1, got 0',
  ],
  [
    'distributedStream signal',
    () => distributedStream([], { queue: 'q', connection, signal: {} as never }),
    TypeError,
    'Expected `options.signal` to be an AbortSignal, got an object',
  ],
  [
    'runWorker queue',
    () => runWorker(5 as never, id, { connection }),
    TypeError,
    'Expected `queue` to be a non-empty string, got 5',
  ],
  [
    'runWorker fn',
    () => runWorker('q', 'f' as never, { connection }),
    TypeError,
    'Expected `fn` to be a function, got "f" (string)',
  ],
  [
    'runWorker connection',
    () => runWorker('q', id, { connection: null as never }),
    TypeError,
    'Expected `options.connection` to be ioredis options (for example { path: socket }) or a client, got null',
  ],
  [
    'forkWorker module',
    () => forkWorker('q', { module: 5 as never, connection }),
    TypeError,
    'Expected `options.module` to be a path or a file: URL, got 5',
  ],
];

/** The async entry points: they reject with the same errors, and start nothing. */
const asyncRows: [string, () => Promise<unknown>, ErrorClass, string][] = [
  [
    'startDemoSite port',
    () => startDemoSite({ port: 70000 }),
    RangeError,
    'Expected `port` to be a whole number from 0 to 65535, got 70000',
  ],
  [
    'startDemoSite latency',
    () => startDemoSite({ latency: -5 }),
    RangeError,
    'Expected `latency` to be a number of milliseconds >= 0, got -5',
  ],
  [
    'startDemoSite host',
    () => startDemoSite({ host: '' }),
    TypeError,
    'Expected `host` to be a non-empty string, got "" (string)',
  ],
  [
    'startPoliteSite limit',
    () => startPoliteSite({ limit: { max: 0, per: 10 } }),
    RangeError,
    'Expected `limit.max` to be a whole number >= 1, got 0',
  ],
  [
    'startRedisServer startTimeout',
    () => startRedisServer({ startTimeout: 0 }),
    RangeError,
    'Expected `options.startTimeout` to be a number of milliseconds > 0, got 0',
  ],
];

describe('every public entry point refuses a bad argument at once', () => {
  it.each(rows)('%s', (_, call, type, message) => {
    let thrown: unknown;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(type);
    // The exact class: a TypeError is not accepted where a RangeError is due, nor the reverse.
    expect((thrown as Error).constructor).toBe(type);
    expect((thrown as Error).message).toBe(message);
  });

  it.each(asyncRows)('%s (async)', async (_, call, type, message) => {
    const outcome = await call().then(
      () => new Error('resolved'),
      (e: unknown) => e,
    );
    expect((outcome as Error).constructor).toBe(type);
    expect((outcome as Error).message).toBe(message);
  });

  it('exampleUrls refuses a live flag that is not a boolean', () => {
    expect(() => exampleUrls(null, { live: 'yes' as never })).toThrow(
      new TypeError('Expected `live` to be a boolean, got "yes" (string)'),
    );
  });

  it('starts no work when it refuses: no item pulled, no token taken, no timer set, no socket opened', async () => {
    let pulls = 0;
    function* items() {
      for (;;) {
        pulls++;
        yield pulls;
      }
    }
    expect(() => parallel(items(), 0, id)).toThrow(RangeError);
    expect(() => parallelStream(items(), 2, id, { stopOnError: 1 as never })).toThrow(TypeError);
    expect(pulls).toBe(0);
    const sem = new DeferredSemaphore(1);
    expect(() => sem.run(null as never)).toThrow(TypeError);
    expect([sem.tokens, sem.waiting.length]).toEqual([1, 0]);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    expect(() => deferLater(10, 'later' as never)).toThrow(TypeError);
    expect(timers()).toBe(before);
    const resources = process.getActiveResourcesInfo().length;
    await expect(startDemoSite({ port: -1 })).rejects.toThrow(RangeError);
    expect(process.getActiveResourcesInfo().length).toBe(resources);
  });
});
