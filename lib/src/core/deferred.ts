import { checkFn, checkMs, checkObject, describe, isThenable } from './args.js';
import { type Clock, checkClock, systemClock } from './clock.js';
import {
  AlreadyCalledError,
  CancelledError,
  CircularChainError,
  DeferredTimeoutError,
  NotPaused,
} from './errors.js';
import { Failure } from './failure.js';

export { AlreadyCalledError, CancelledError, DeferredTimeoutError };

/** A function that receives a Failure report left unhandled at the end of a chain. */
export type UnhandledFailureReporter = (failure: Failure) => void;

const defaultReporter: UnhandledFailureReporter = (failure) => {
  const detail = failure.stack ?? failure.toString();
  // Node's stderr where there is one; elsewhere (a browser, a worker) the console.
  const stderr = (globalThis as { process?: { stderr?: { write?: unknown } } }).process?.stderr;
  if (typeof stderr?.write === 'function')
    (stderr as NodeJS.WriteStream).write(`Unhandled error in Deferred:\n${detail}\n`);
  else console.error(`Unhandled error in Deferred:\n${detail}`);
};
let reporter: UnhandledFailureReporter = defaultReporter;

/**
 * Replaces what happens to a failure that is still unhandled when its Deferred is garbage-collected or the process
 * exits (by default: a message to stderr). Returns the previous reporter. Pass `null` to restore the default.
 */
export function setUnhandledFailureReporter(fn: UnhandledFailureReporter | null): UnhandledFailureReporter {
  if (fn !== null && typeof fn !== 'function') {
    throw new TypeError(`Expected \`fn\` to be a function or null, got ${describe(fn)}`);
  }
  const previous = reporter;
  reporter = fn ?? defaultReporter;
  return previous;
}

/** Hands `failure` to the reporter; a reporter that throws must not take the process down from a GC or exit hook. */
function report(failure: Failure): void {
  try {
    reporter(failure);
  } catch {
    // Nothing sensible is left to tell.
  }
}

/**
 * One chain that ended with a failure nobody handled. It is reported once, by whichever comes first: the garbage
 * collection of its Deferred, or the process's exit.
 */
/** @internal */
export class Unhandled {
  readonly failure: Failure;
  constructor(failure: Failure) {
    this.failure = failure;
  }
}

/** The registrations not yet reported or cleared: they hold failures, never Deferreds, as the registry does. */
const pending = new Set<Unhandled>();

function reportOnce(entry: Unhandled): void {
  if (pending.delete(entry)) report(entry.failure);
}

// The held value is the entry, never the Deferred, so registering does not keep the Deferred alive.
const unhandled = new FinalizationRegistry<Unhandled>(reportOnce);

/** Reports what is still unhandled when the event loop empties (`beforeExit`) or the process exits (`exit`). */
function reportPending(): void {
  for (const entry of [...pending]) reportOnce(entry);
}

let exitHooked = false;
function hookExit(): void {
  exitHooked = true;
  if (typeof process === 'undefined' || typeof process.on !== 'function') return;
  process.on('beforeExit', reportPending);
  process.on('exit', reportPending);
}

type Fn = (...args: never[]) => unknown;

/**
 * A link is LINK_SIZE slots. The first link of a chain is kept in three fields of the Deferred, so that the usual
 * Deferred with one callback allocates nothing more; the others are stored flat in one array allocated on the second
 * link. No object per link. A link is one of:
 *
 * - callback, errback (either may be null: pass the result on), arguments: an array given to both, null, or a
 *   {@link SplitArgs};
 * - the waiting outer Deferred, {@link WAITER}, null: the link an outer Deferred adds to the inner one it is paused on;
 * - the Deferred to fire, {@link CHAINED}, null: what `chainDeferred(other)` adds;
 * - an {@link IndexedListener}, {@link INDEXED}, a number: hands the result and that number to the listener, so that
 *   a DeferredList needs no closure nor argument array per input;
 * - a native Promise's resolve function, {@link SETTLES}, its reject function: what `asPromise()` adds. It settles
 *   that Promise with the result (a failure's `value` rejects it) and passes the result on, with no closure;
 * - the resolve function of a Promise adopting the Deferred, {@link ADOPTED}, a reject function: what `then()` adds
 *   when V8 adopts a Deferred. The same, except that a reject function that is not a Promise's own is called a
 *   microtask later, as a then() callback must be.
 *
 * The markers are objects, never functions, so a marker is never mistaken for an errback.
 */
const LINK_SIZE = 3;

/** The errback slot of the inline link when there is none. */
const NO_LINK = { link: 'none' };
/** The errback slot of a waiter's link. */
const WAITER = { link: 'waiter' };
/** The errback slot of a `chainDeferred` link. */
const CHAINED = { link: 'chained' };
/** The errback slot of an indexed listener's link. */
const INDEXED = { link: 'indexed' };
/** The errback slot of a link that settles a native Promise. */
const SETTLES = { link: 'settles' };
/** The errback slot of a link that settles a Promise adopting the Deferred (see `then()`). */
const ADOPTED = { link: 'adopted' };
const nativeThen = Promise.prototype.then;
/** On the run loop's stack: the Deferred goes on with the result it has. */
const KEEP = { link: 'keep' };

/** The arguments slot of a link whose callback and errback have different extra arguments. */
class SplitArgs {
  readonly cb: readonly unknown[] | null;
  readonly eb: readonly unknown[] | null;
  constructor(cb: readonly unknown[] | null, eb: readonly unknown[] | null) {
    this.cb = cb;
    this.eb = eb;
  }
}

/**
 * Receives the outcome of a Deferred through an indexed link (see `listenIndexed` in `./chain.ts`). What it returns
 * (or throws) becomes the Deferred's result, as for a callback.
 * @internal
 */
export interface IndexedListener {
  _onIndexed(result: unknown, index: number, failed: boolean): unknown;
}

/** A Deferred's flags: fired (`callback()` or `errback()` was called). */
const CALLED = 1;
/** A Deferred's flags: a callback of its chain is running. */
const RUNNING = 2;
/** A Deferred's flags: cancelled without a canceller, so its eventual result is dropped instead of raising. */
const SUPPRESS_ALREADY_CALLED = 4;
/** A Deferred's flags: its canceller is running, so cancelling it again (through a ring of waits) does nothing. */
const CANCELLING = 8;

/**
 * Until its `stack` is read, an Error holds the frames it was thrown through: their functions (with the scopes they
 * close over) and receivers, this module's `_run` and its Deferred among them. Held by the registry, such an error
 * would keep its own Deferred alive, so the failure would never be reported. Reading `stack` turns the frames into
 * text and lets them go; causes and aggregated errors are treated the same, a few levels deep.
 */
function releaseFrames(v: unknown, depth: number): void {
  if (depth > 3 || !(v instanceof Error)) return;
  void v.stack;
  releaseFrames(v.cause, depth + 1);
  if (v instanceof AggregateError && Array.isArray(v.errors)) {
    for (const e of v.errors.slice(0, 16)) releaseFrames(e, depth + 1);
  }
}

/**
 * While the loop calls an {@link IndexedListener}: null, or the Deferred the listener fired with {@link settleNext}
 * for the loop to run next. `undefined` at any other time.
 */
let handoff: Deferred<unknown> | null | undefined;

const functionSource = Function.prototype.toString;
/** What `Function.prototype.toString` gives for a built-in function without a name (and for a bound or proxied one). */
const UNNAMED_NATIVE = 'function () { [native code] }';

/**
 * Whether `f` is an unnamed built-in function: in practice the resolve and reject functions of a Promise, which V8
 * passes to `then()` when a Promise adopts a Deferred. A bound function (named "bound …") is not one; a callable Proxy
 * is taken for one when its `name` reads as empty.
 */
function isResolvingFunction(f: unknown): f is (value: unknown) => void {
  if (typeof f !== 'function' || functionSource.call(f) !== UNNAMED_NATIVE) return false;
  try {
    return f.name === '';
  } catch {
    return false;
  }
}

/**
 * `then()` on a Deferred whose chain has not run to its end (not fired, or fired and waiting), given a Promise's own
 * resolve function, as V8 gives it when a Promise adopts a Deferred (`await d`, `Promise.all([d])`, `resolve(d)`): the
 * Deferred settles that Promise itself, when the chain reaches the place where it was adopted. A Promise adopting a
 * native Promise settles at the same moment, so `await d` resumes in the same microtask as a `then()` callback added
 * at the same place would run. Nothing else waits with the Deferred: without this, each of 200,000 items waiting in
 * `Promise.all` over `sem.run` held a Promise, its two resolve functions, a reaction and a second Promise (about 300
 * bytes) until its turn (bench/ab-retained.ts), and settled one more Promise (bench/ab-await.ts, row
 * "Promise.all(sem.run)"). What then() would return (a Promise of undefined) is not made: V8 drops it.
 *
 * A Deferred at rest with its result takes then()'s usual path, through a settled Promise: recognising the resolve
 * function (Function.prototype.toString) costs more than the two short-lived Promises it would save, as in `await` in
 * a loop (bench/AB.md, third pass: an await loop over fired Deferreds 92.5 ms with it, 86.0 without; over `sem.run`
 * 91.7 and 87.5). Only the first function is recognised (toString was 9% of the first row's samples with both); the
 * second is checked only if the chain fails, so a resolve function beside one of the caller's own is handled right
 * too, except that then() returns undefined. A function of its own, so that then() stays small enough for V8 to
 * inline its usual path. Returns whether it took the functions.
 */
function adopted(d: Deferred<unknown>, onfulfilled: unknown, onrejected: unknown): boolean {
  // At rest with its result: then()'s usual path.
  if ((d._flags & (CALLED | RUNNING)) === CALLED && d._paused === 0) return false;
  if (!isResolvingFunction(onfulfilled) || typeof onrejected !== 'function') return false;
  // Not fired, paused (on a Deferred or Promise it waits for, or by pause()), or running a callback: the chain reaches
  // the link when it goes on.
  d._push(onfulfilled, ADOPTED, onrejected);
  return true;
}

/** Calls a then() callback of the caller's own with `reason` a microtask later, as a Promise would. */
function rejectLater(reason: unknown, onrejected: unknown): void {
  nativeThen.call(Promise.reject(reason), undefined, onrejected as (reason: unknown) => void);
}

/** What `callback()` throws when given a Deferred or Promise as its result. */
function thenableResult(result: unknown): TypeError {
  return new TypeError(
    `Expected \`result\` not to be a Deferred or Promise (return it from a callback instead), got ${describe(result)}`,
  );
}

/** Whether a chain's result is a Deferred or thenable (one it would wait on); a `then` getter that throws is not. */
function isWaitedOn(result: unknown): boolean {
  if (result instanceof Deferred) return true;
  try {
    return isThenable(result);
  } catch {
    return false;
  }
}

/** What the last `new Promise(captureResolvers)` was given: a module-level executor needs no closure per Promise. */
const forgotten = (): void => {};
let capturedResolve: (value: never) => void = forgotten;
let capturedReject: (reason: unknown) => void = forgotten;
function captureResolvers(resolve: (value: never) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** Options of {@link Deferred.addTimeout}. */
export interface AddTimeoutOptions<T> {
  /** Where the timer is set: a {@link ManualClock} in tests. Default {@link systemClock}. */
  clock?: Clock;
  /**
   * Turns the outcome of the cancellation that the timeout caused into the chain's result. Called with that outcome
   * (the result, or a {@link Failure}) and `ms`. Default: a CancelledError becomes a {@link DeferredTimeoutError}; any
   * other outcome passes through.
   */
  onTimeoutCancel?: (resultOrFailure: T | Failure, ms: number) => unknown;
}

function cancelledToTimedOut(resultOrFailure: unknown, ms: number): unknown {
  if (resultOrFailure instanceof Failure) {
    resultOrFailure.trap(CancelledError);
    throw new DeferredTimeoutError(ms);
  }
  return resultOrFailure;
}

/**
 * A result that is not there yet, with a chain of callbacks and errbacks that process it — Twisted's `Deferred`.
 *
 * - Callbacks run synchronously: when the Deferred fires, or at once when added to a Deferred that has fired.
 * - Extra arguments given to `addCallback(fn, ...args)` are passed to `fn` after the result.
 * - A callback that throws switches the chain to errbacks, which receive a {@link Failure}. An errback that returns a
 *   value (not a Failure) switches it back; one that throws or returns a Failure stays on the errback path. Whatever a
 *   callback returns or throws becomes its outcome: a value that cannot even be inspected (a revoked Proxy, a `then`
 *   getter that throws) becomes a failure.
 * - A callback that returns a Deferred or any PromiseLike pauses the chain until that settles.
 * - It is awaitable: `await d` gives the result at the end of the chain, or rejects with the original error.
 *
 * Long chains, nested Deferreds, `chainDeferred` links and nested DeferredLists are run by an explicit loop, so depth
 * never overflows the stack; `cancel()` walks nested Deferreds with a loop too.
 *
 @remarks
 * ```ts
 * import { Deferred } from 'async-batching';
 *
 * const d = new Deferred<string>();
 * d.addCallback((page: string, url: string) => `${url}: ${page.length} bytes`, 'http://example.test/')
 *   .addErrback((failure) => `failed: ${failure.getErrorMessage()}`);
 * d.callback('<html>…</html>');
 * console.log(await d); // http://example.test/: 14 bytes
 * ```
 *
 * | member | what it does |
 * | --- | --- |
 * | `new Deferred(canceller?)` | `canceller(d)` is called by `cancel()` on an unfired Deferred |
 * | `callback(result)` / `errback(reason?)` | fire it; a second fire throws `AlreadyCalledError`; `errback` wraps `reason` in a `Failure` |
 * | `addCallback(fn, ...args)` / `addErrback(fn, ...args)` / `addBoth(fn, ...args)` | add a link; `fn(resultOrFailure, ...args)` |
 * | `addCallbacks(cb, eb?, { callbackArgs, errbackArgs }?)` | a callback and an errback as one link; without `eb` a failure passes through: `d.addCallbacks(render)` |
 * | `cancel()` | unfired: canceller, then `CancelledError` if still unfired; waiting on an inner Deferred (at any depth): cancels that; never throws (a throwing canceller is reported) |
 * | `pause()` / `unpause()` | hold the chain, counted as Twisted does: `d.pause(); setUp(); d.unpause()`; one `unpause()` too many throws `NotPaused` |
 * | `addTimeout(ms, { clock?, onTimeoutCancel? }?)` | cancel if unfired after `ms`, then fail with `DeferredTimeoutError`: `getPage(url).addTimeout(5_000)` |
 * | `called`, `paused` | state |
 * | `then()` / `await d` / `asPromise()` | the result at the end of the chain; rejects with `failure.value`; counts as handling |
 * | `chainDeferred(other)` | `other` fires with this one's outcome; this chain goes on with `undefined` |
 * | `Deferred.fromPromise(p)` / `ensureDeferred(p)` | a Deferred that follows a Promise; `p` itself when it is a Deferred: `Deferred.fromPromise(d) === d`; anything else is a `TypeError` |
 *
 * `addTimeout` takes its clock as Twisted's does: any `{ setTimeout, clearTimeout }` (default `globalThis`), so tests
 * move time by hand. When the cancellation it causes ends in `CancelledError`, the chain fails with
 * `DeferredTimeoutError` (`timeout`, code `AB_ERR_DEFERRED_TIMEOUT`; not getPage's `TimeoutError`); a canceller that
 * fired the Deferred otherwise keeps that outcome; `onTimeoutCancel(resultOrFailure, ms)` replaces the conversion.
 *
 * Helpers: `succeed(value)`, `fail(reason)`, `maybeDeferred(fn, ...args)` (a value, a throw, a Promise — an async
 * function's — or a Deferred all become a Deferred; so does a result whose `then` getter throws, as a failure),
 * `deferLater(ms, fn?, ...args)` (cancelling clears the timer).
 *
 * A failure still unhandled at the end of a chain when its Deferred is garbage-collected, or when the process exits, is
 * reported once to stderr (`Unhandled error in Deferred:` and the stack), as Twisted does; it never crashes the process.
 * `setUnhandledFailureReporter(fn)` replaces the reporter (tests use it).
 *
 * Long chains never overflow the stack: 100,000 nested Deferreds, 100,000 callbacks on one Deferred, 100,000 Deferreds
 * linked by `chainDeferred`, DeferredLists nested 100,000 deep, and `cancel()` through 100,000 nested Deferreds all run
 * in explicit loops.
 */
export class Deferred<T = unknown> implements PromiseLike<T> {
  // The fields are declared here and set in the constructor: plain assignments build a Deferred faster than field
  // initializers do, which counts when a batch makes 200,000 of them.
  /** @internal The result, once fired; while the chain waits on a returned Deferred or Promise, that one. */
  declare _result: unknown;
  /** @internal The canceller given to the constructor, until the Deferred fires. */
  declare _canceller: ((d: never) => void) | null;
  /** @internal The first link's callback slot (see {@link LINK_SIZE}). */
  declare _l0: unknown;
  /** @internal The first link's errback slot; {@link NO_LINK} when the chain has no links. */
  declare _l1: unknown;
  /** @internal The first link's arguments slot. */
  declare _l2: unknown;
  /** @internal The links after the first, flat. */
  declare _links: unknown[] | null;
  /** @internal How many slots have run: the first link's, then those of `_links`. */
  declare _next: number;
  /** @internal {@link CALLED}, {@link RUNNING}, {@link SUPPRESS_ALREADY_CALLED}, {@link CANCELLING}. */
  declare _flags: number;
  /** @internal How many things hold the chain: `pause()` calls not yet undone, and the Deferred or Promise it waits on. */
  declare _paused: number;
  /** @internal The registration that reports this chain's failure if nobody handles it, if any. */
  declare _registered: Unhandled | null;
  /** @internal A failure handed to a waiter or awaited: handled, so not to be reported. */
  declare _observed: Failure | null;

  /**
   * @param canceller called by {@link cancel} on an unfired Deferred, to stop the work that would fire it. If the
   * Deferred is still unfired after the canceller returns, it errbacks with {@link CancelledError}.
   */
  constructor(canceller?: (d: Deferred<T>) => void) {
    if (canceller !== undefined && typeof canceller !== 'function') {
      throw new TypeError(`Expected \`canceller\` to be a function or undefined, got ${describe(canceller)}`);
    }
    this._result = undefined;
    this._canceller = canceller ?? null;
    this._l0 = null;
    this._l1 = NO_LINK;
    this._l2 = null;
    this._links = null;
    this._next = 0;
    this._flags = 0;
    this._paused = 0;
    this._registered = null;
    this._observed = null;
  }

  /** True once `callback()` or `errback()` was called (or cancellation fired it). */
  get called(): boolean {
    return (this._flags & CALLED) !== 0;
  }

  /** True while the chain is held: by {@link pause}, or waiting on a Deferred or Promise returned by a callback. */
  get paused(): boolean {
    return this._paused !== 0;
  }

  /**
   * Holds the chain: callbacks stop running (a result that arrives is kept) until {@link unpause} has been called as
   * many times as `pause()` was. As Twisted's `pause()`.
   */
  pause(): void {
    this._paused++;
  }

  /**
   * Undoes one {@link pause}; when none is left (and the chain waits on nothing), the callbacks run on from where they
   * stopped, synchronously.
   * @throws {NotPaused} when the Deferred is not paused.
   */
  unpause(): void {
    if (this._paused === 0) throw new NotPaused('unpause() was called on a Deferred that is not paused');
    this._paused--;
    if (this._paused === 0 && (this._flags & CALLED) !== 0) this._run();
  }

  /**
   * Fires the Deferred with a successful result and runs the callback chain synchronously.
   * @throws {AlreadyCalledError} when it has already fired.
   * @throws {TypeError} when `result` is a Deferred or a Promise: return those from a callback instead.
   */
  callback(result: T): void {
    if (isThenable(result)) throw thenableResult(result);
    this._start(result);
  }

  /**
   * Fires the Deferred with a failure and runs the errback chain synchronously. `reason` is wrapped in a
   * {@link Failure} unless it is one.
   * @throws {AlreadyCalledError} when it has already fired.
   */
  errback(reason?: unknown): void {
    const failure =
      reason instanceof Failure
        ? reason
        : new Failure(reason === undefined ? new Error('errback() was called without a reason') : reason);
    this._start(failure);
  }

  /**
   * @internal Fires with `outcome` (a result, or a Failure) without `callback()`'s check for thenables.
   * @deprecated outside core/: use `settle()` from `core/chain.ts`.
   */
  _start(outcome: unknown): void {
    const flags = this._flags;
    if ((flags & CALLED) !== 0) {
      if ((flags & SUPPRESS_ALREADY_CALLED) !== 0) {
        this._flags = flags & ~SUPPRESS_ALREADY_CALLED;
        return;
      }
      throw new AlreadyCalledError();
    }
    this._flags = flags | CALLED;
    this._result = outcome;
    this._canceller = null;
    this._run();
  }

  /**
   * Adds a callback, called with the result and then `args`. Its return value (or the settled value of a returned
   * Deferred/Promise) becomes the result for the next link. Returns this Deferred, typed for the new result.
   */
  addCallback<U, A extends unknown[]>(
    fn: (result: T, ...args: A) => U | PromiseLike<U>,
    ...args: A
  ): Deferred<Awaited<U>> {
    checkFn(fn, 'fn');
    return this._add(fn as Fn, null, args.length ? args : null, null);
  }

  /**
   * Adds an errback, called with the {@link Failure} and then `args`. Returning a value recovers the chain;
   * throwing (or returning a Failure) keeps it failed.
   */
  addErrback<U, A extends unknown[]>(
    fn: (failure: Failure, ...args: A) => U | PromiseLike<U>,
    ...args: A
  ): Deferred<T | Awaited<U>> {
    checkFn(fn, 'fn');
    return this._add(null, fn as Fn, null, args.length ? args : null);
  }

  /** Adds the same function as callback and errback: it receives the result or the {@link Failure}. */
  addBoth<U, A extends unknown[]>(
    fn: (resultOrFailure: T | Failure, ...args: A) => U | PromiseLike<U>,
    ...args: A
  ): Deferred<Awaited<U>> {
    checkFn(fn, 'fn');
    const a = args.length ? args : null;
    return this._add(fn as Fn, fn as Fn, a, a);
  }

  /**
   * Adds a callback and an errback as one link: exactly one of them runs, and the errback does not see a failure
   * raised by the callback. Without an errback (or with `null`) a failure passes through, as in Twisted. Extra
   * arguments for each can be given in `options`.
   */
  addCallbacks<U, V = never>(
    callback: (result: T, ...args: never[]) => U | PromiseLike<U>,
    errback?: ((failure: Failure, ...args: never[]) => V | PromiseLike<V>) | null,
    options?: { callbackArgs?: readonly unknown[] | null; errbackArgs?: readonly unknown[] | null },
  ): Deferred<Awaited<U> | Awaited<V>> {
    checkFn(callback, 'callback');
    if (errback !== undefined && errback !== null) checkFn(errback, 'errback');
    // null, as Twisted's None, means no extra arguments.
    const ca = options?.callbackArgs ?? undefined;
    const ea = options?.errbackArgs ?? undefined;
    // A string would otherwise be spread into one argument per character.
    if (ca !== undefined && !Array.isArray(ca)) {
      throw new TypeError(`Expected \`callbackArgs\` to be an array or null, got ${describe(ca)}`);
    }
    if (ea !== undefined && !Array.isArray(ea)) {
      throw new TypeError(`Expected \`errbackArgs\` to be an array or null, got ${describe(ea)}`);
    }
    return this._add(
      callback as Fn,
      (errback ?? null) as Fn | null,
      ca?.length ? ca : null,
      ea?.length ? ea : null,
    );
  }

  /** @internal */
  _add<R>(
    cb: Fn | null,
    eb: Fn | null,
    cbArgs: readonly unknown[] | null,
    ebArgs: readonly unknown[] | null,
  ) {
    // One arguments slot: the same array (or none) for both sides is the common case; different ones are rare.
    const args =
      cbArgs === ebArgs || eb === null ? cbArgs : cb === null ? ebArgs : new SplitArgs(cbArgs, ebArgs);
    this._push(cb, eb, args);
    if ((this._flags & CALLED) !== 0) this._run();
    return this as unknown as Deferred<R>;
  }

  /** @internal Appends a link to the chain, without running it. */
  _push(a: unknown, b: unknown, c: unknown): void {
    if (this._l1 === NO_LINK) {
      this._l0 = a;
      this._l1 = b;
      this._l2 = c;
    } else if (this._links === null) {
      this._links = [a, b, c];
    } else {
      this._links.push(a, b, c);
    }
  }

  /**
   * Cancels the work this Deferred waits for. On an unfired Deferred the canceller runs, and if the Deferred is still
   * unfired afterwards it errbacks with {@link CancelledError}. On a fired Deferred whose chain waits on another
   * Deferred, that one is cancelled instead (through any depth of nesting). Otherwise it does nothing.
   *
   * `cancel()` itself never throws: a canceller that throws is reported as an unhandled failure would be (see
   * {@link setUnhandledFailureReporter}), and the Deferred, if still unfired, errbacks with a CancelledError whose
   * `cause` is what the canceller threw.
   */
  cancel(): void {
    let d = this as Deferred<unknown>;
    // Deferreds that wait on each other in a ring would make this walk endless: Brent's cycle check notices.
    let mark = d;
    let steps = 0;
    let lap = 1;
    while ((d._flags & CALLED) !== 0) {
      const waitingOn = d._result;
      if (!(waitingOn instanceof Deferred) || waitingOn === mark) return;
      d = waitingOn;
      if (++steps === lap) {
        mark = d;
        steps = 0;
        lap *= 2;
      }
    }
    const canceller = d._canceller;
    let thrown: Failure | null = null;
    if (canceller !== null) {
      if ((d._flags & CANCELLING) !== 0) return;
      d._flags |= CANCELLING;
      try {
        (canceller as (d: Deferred<unknown>) => void)(d);
      } catch (e) {
        thrown = new Failure(e);
        report(thrown);
      } finally {
        d._flags &= ~CANCELLING;
      }
    } else {
      // Without a canceller the work goes on; its eventual result is dropped instead of raising AlreadyCalledError.
      d._flags |= SUPPRESS_ALREADY_CALLED;
    }
    if ((d._flags & CALLED) === 0) {
      const error =
        thrown === null
          ? new CancelledError()
          : new CancelledError('The Deferred was cancelled, and its canceller threw', {
              cause: thrown.value,
            });
      d._start(new Failure(error));
    }
  }

  /**
   * Makes `other` fire with this Deferred's result (or failure) when it arrives. This chain continues with `undefined`
   * afterwards, as in Twisted (and with a failure of {@link AlreadyCalledError} if `other` had fired already). Returns
   * this Deferred. Any length of Deferreds chained this way fires without deepening the stack.
   */
  chainDeferred(other: Deferred<T>): Deferred<undefined> {
    if (!(other instanceof Deferred)) {
      throw new TypeError(`Expected \`other\` to be a Deferred, got ${describe(other)}`);
    }
    this._push(other, CHAINED, null);
    if ((this._flags & CALLED) !== 0) this._run();
    return this as unknown as Deferred<undefined>;
  }

  /**
   * Cancels this Deferred if it has not fired within `ms` milliseconds (Twisted's `addTimeout`). If that cancellation
   * makes it fail with a {@link CancelledError}, it fails with a {@link DeferredTimeoutError} instead;
   * `options.onTimeoutCancel` replaces that conversion. The timer is cleared as soon as the Deferred fires. Call it
   * before adding the callbacks that should see the timeout. Returns this Deferred.
   */
  addTimeout(ms: number, options: AddTimeoutOptions<T> = {}): Deferred<T> {
    checkMs(ms, 'ms');
    checkObject(options, 'options');
    const clock = options.clock === undefined ? systemClock : checkClock(options.clock, 'clock');
    const convert = options.onTimeoutCancel ?? cancelledToTimedOut;
    checkFn(convert, 'onTimeoutCancel');
    let timedOut = false;
    let pendingTimer = true;
    const timer = clock.setTimeout(() => {
      pendingTimer = false;
      timedOut = true;
      this.cancel();
    }, ms);
    const afterCancel = (r: unknown) => (timedOut ? convert(r as T | Failure, ms) : r);
    const clearTimer = (r: unknown) => {
      if (pendingTimer) {
        pendingTimer = false;
        clock.clearTimeout(timer);
      }
      return r;
    };
    this._add(afterCancel, afterCancel, null, null);
    return this._add<T>(clearTimer, clearTimer, null, null);
  }

  /**
   * Awaiting a Deferred gives the result at the end of its chain, or rejects with the original error (`failure.value`).
   * It does not change what callbacks added later see, and it counts as handling a failure.
   *
   * Given a Promise's own resolve function and a reject function (as `await`, `Promise.all` and `resolve(d)` pass them)
   * while the chain has not run to its end (not fired, or fired and waiting), it returns `undefined` instead of a
   * Promise, and settles that Promise when the chain reaches this place, as a Promise adopting a native Promise would.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (adopted(this, onfulfilled, onrejected)) return undefined as never;
    const promise = this.asPromise();
    return onfulfilled == null && onrejected == null
      ? (promise as Promise<R1 | R2>)
      : promise.then(onfulfilled, onrejected);
  }

  /** A Promise of the result at the end of the chain, as `await` sees it. */
  asPromise(): Promise<T> {
    // Nothing left to run: the Promise can be made settled, with no resolve functions and no link.
    const value = settledValue(this);
    if (value !== UNSETTLED) return Promise.resolve(value as T);
    const r = this._result;
    if (r instanceof Failure && settledFailure(this)) {
      this._observed = r;
      this._unregister();
      return Promise.reject(r.value);
    }
    const promise = new Promise<T>(captureResolvers);
    this._push(capturedResolve, SETTLES, capturedReject);
    // Held here, they would keep the last Promise, and whatever awaits it, alive.
    capturedResolve = capturedReject = forgotten;
    if ((this._flags & CALLED) !== 0) this._run();
    return promise;
  }

  /**
   * A Deferred that fires when `promise` settles; `promise` itself when it is already a Deferred (as Twisted's
   * `ensureDeferred`). Cancelling the new Deferred drops the promise's eventual result.
   */
  static fromPromise<T>(promise: PromiseLike<T>): Deferred<T> {
    if (promise instanceof Deferred) return promise as Deferred<T>;
    if (!isThenable(promise)) {
      throw new TypeError(`Expected \`promise\` to be a Promise or thenable, got ${describe(promise)}`);
    }
    const d = new Deferred<T>();
    // A foreign thenable may call back twice, or throw from `then` itself: the first outcome counts, a throw included.
    let settled = false;
    const once = (outcome: unknown) => {
      if (settled) return;
      settled = true;
      d._start(outcome);
    };
    try {
      promise.then(once, (e) => once(new Failure(e)));
    } catch (e) {
      once(new Failure(e));
    }
    return d;
  }

  /**
   * @internal The loop that runs chains: Twisted's `_runCallbacks`, with every nesting on an explicit stack.
   *
   * It runs the links of `current` in order, starting at `this`. For each link it picks the callback when the result
   * is not a {@link Failure} and the errback when it is (a link with nothing on that side passes the result on), calls
   * it with the result and the link's extra arguments, and makes what it returns the new result; what it throws
   * becomes a Failure. It stops on `current` when there is no link left, or when the chain is paused, by `pause()` or
   * because the result became a Deferred or PromiseLike that has no result yet: `current` then waits, and resumes
   * when that one settles.
   *
   * A returned Deferred that already has a result is not waited for: the chain takes that result and the inner
   * Deferred is left with `undefined`. An inner Deferred that fires later meets the waiter's link (WAITER) in its own
   * chain: rather than calling the waiter recursively, the loop hands it the result, puts the inner Deferred on the
   * stack and carries on with the waiter. `chainDeferred` links (CHAINED) and a DeferredList fired by one of its inputs
   * (through `settleNext`) are handed over the same way. When `current` has no links left (or is paused), the loop
   * takes the next Deferred off the stack and goes on from its next link, until the stack is empty.
   *
   * A Deferred whose chain ran to its end with a failure is registered to report it if nobody handles it; taking a
   * failure away (a new link, a waiter, a pause on a returned Deferred) clears the registration.
   */
  _run(): void {
    if ((this._flags & RUNNING) !== 0) return;
    // Deferreds whose chains were interrupted to hand a result on, each with what it takes when the loop comes back
    // to it (KEEP: nothing, it goes on with the result it has); allocated only when that happens.
    let stack: unknown[] | null = null;
    let current = this as Deferred<unknown>;
    // What the last callback of `current` returned, when the loop comes back to it to take that in.
    let resumeWith: unknown = KEEP;
    for (;;) {
      if (current._paused !== 0) {
        // This one waits on something else now; go back to the Deferred that handed it a result, if any.
        if (resumeWith !== KEEP) {
          current._result = resumeWith;
          resumeWith = KEEP;
        }
        if (stack === null || stack.length === 0) return;
        resumeWith = stack.pop();
        current = stack.pop() as Deferred<unknown>;
        current._flags &= ~RUNNING;
        continue;
      }
      let finished = true;
      for (;;) {
        let next: unknown;
        if (resumeWith !== KEEP) {
          next = resumeWith;
          resumeWith = KEEP;
        } else {
          // The next link: the inline one, then those of the array (which callbacks may extend as they run).
          const at = current._next;
          let first: unknown;
          let kind: unknown;
          let third: unknown;
          if (at === 0) {
            kind = current._l1;
            if (kind === NO_LINK) break;
            first = current._l0;
            third = current._l2;
          } else {
            const links = current._links;
            const i = at - LINK_SIZE;
            if (links === null || i >= links.length) break;
            first = links[i];
            kind = links[i + 1];
            third = links[i + 2];
          }
          current._next = at + LINK_SIZE;
          if (kind === WAITER || kind === CHAINED) {
            const target = first as Deferred<unknown>;
            const result = current._result;
            if (kind === CHAINED && isWaitedOn(result)) {
              // Only an unpause() too many lets a chain go on while it still waits on a Deferred or Promise. As
              // Twisted's `target.callback(result)` would, the link fails with callback()'s TypeError before anything
              // else is checked, and the target is left as it is.
              current._result = new Failure(thenableResult(result));
              continue;
            }
            if (result instanceof Failure) current._observed = result;
            if (kind === WAITER) {
              // The Deferred that was waiting on `current` takes its result and goes on, on this same stack.
              current._result = undefined;
              target._result = result;
              target._paused--;
              if (stack === null) stack = [];
              stack.push(current, KEEP);
            } else if ((target._flags & CALLED) === 0) {
              // chainDeferred: Twisted's `target.callback(result)` as a callback of this chain, without recursing. As
              // there, `current` keeps its result and counts as running while the target's chain runs (links added
              // to it wait), and goes on with undefined, that callback's return value, afterwards.
              target._flags |= CALLED;
              target._result = result;
              target._canceller = null;
              current._flags |= RUNNING;
              if (stack === null) stack = [];
              stack.push(current, undefined);
            } else {
              current._result = undefined;
              if ((target._flags & SUPPRESS_ALREADY_CALLED) !== 0) target._flags &= ~SUPPRESS_ALREADY_CALLED;
              else current._result = new Failure(new AlreadyCalledError());
              continue;
            }
            current = target;
            finished = false;
            break;
          }
          const failed = current._result instanceof Failure;
          if (kind === SETTLES || kind === ADOPTED) {
            // The result goes on unchanged, and is inspected below as a pass-through callback's would be.
            next = current._result;
            current._flags |= RUNNING;
            try {
              if (failed) current._observed = next as Failure;
              if (failed) {
                const reason = (next as Failure).value;
                if (kind === ADOPTED && !isResolvingFunction(third)) rejectLater(reason, third);
                else (third as (reason: unknown) => void)(reason);
              } else {
                (first as (value: unknown) => void)(next);
              }
            } finally {
              current._flags &= ~RUNNING;
            }
          } else if (kind === INDEXED) {
            const saved = handoff;
            handoff = null;
            let handed: Deferred<unknown> | null | undefined;
            current._flags |= RUNNING;
            try {
              next = (first as IndexedListener)._onIndexed(current._result, third as number, failed);
            } catch (e) {
              next = new Failure(e);
            } finally {
              current._flags &= ~RUNNING;
              handed = handoff;
              handoff = saved;
            }
            if (handed !== null && handed !== undefined) {
              // The listener fired a Deferred with settleNext(): run that one's chain now, then come back to
              // `current`, which meanwhile keeps its result and counts as running (as while a listener that called
              // `callback()` ran), and takes in what the listener returned when the loop comes back.
              current._flags |= RUNNING;
              if (stack === null) stack = [];
              stack.push(current, next);
              current = handed;
              finished = false;
              break;
            }
          } else {
            const fn = (failed ? kind : first) as Fn | null;
            if (fn === null) continue;
            let args = third as readonly unknown[] | SplitArgs | null;
            if (args instanceof SplitArgs) args = failed ? args.eb : args.cb;
            current._flags |= RUNNING;
            try {
              const call = fn as (r: unknown, ...rest: unknown[]) => unknown;
              next =
                args === null
                  ? call(current._result)
                  : args.length === 1
                    ? call(current._result, args[0])
                    : call(current._result, ...args);
            } catch (e) {
              next = new Failure(e);
            } finally {
              current._flags &= ~RUNNING;
            }
          }
        }
        // What the callback returned is inspected here, inside a try: a revoked Proxy or a `then` getter that throws
        // makes the outcome a failure instead of escaping from callback().
        let then: unknown;
        let inner: Deferred<unknown> | null = null;
        if (next !== null && (typeof next === 'object' || typeof next === 'function')) {
          try {
            if (next === current) throw new CircularChainError();
            if (next instanceof Deferred) inner = next;
            else then = (next as { then?: unknown }).then;
          } catch (e) {
            next = new Failure(e);
            then = undefined;
          }
        }
        current._result = next;
        if (inner !== null) {
          if ((inner._flags & CALLED) === 0 || inner._paused !== 0 || inner._result instanceof Deferred) {
            // Not fired yet (or itself waiting): pause, and let it hand its result back when it gets one.
            current._paused++;
            if (current._registered !== null) current._unregister();
            inner._push(current, WAITER, null);
            finished = false;
            break;
          }
          // Already fired: take its result now.
          current._result = inner._result;
          if (inner._result instanceof Failure) {
            inner._observed = inner._result;
            inner._unregister();
          }
          inner._result = undefined;
        } else if (typeof then === 'function') {
          current._paused++;
          if (current._registered !== null) current._unregister();
          const waiting = current;
          let settled = false;
          const resume = (value: unknown) => {
            if (settled) return;
            settled = true;
            waiting._result = value;
            waiting._paused--;
            waiting._run();
          };
          try {
            (then as PromiseLike<unknown>['then']).call(next, resume, (e: unknown) => resume(new Failure(e)));
          } catch (e) {
            resume(new Failure(e));
          }
          finished = false;
          break;
        }
      }
      if (finished) {
        // Every link has run: drop them, so a long-lived Deferred does not keep its callbacks alive.
        current._l0 = null;
        current._l1 = NO_LINK;
        current._l2 = null;
        current._links = null;
        current._next = 0;
        current._settle();
        if (stack === null || stack.length === 0) return;
        resumeWith = stack.pop();
        current = stack.pop() as Deferred<unknown>;
        current._flags &= ~RUNNING;
      }
    }
  }

  /** @internal Tracks whether the chain ended with a failure nobody handled. */
  _settle(): void {
    const r = this._result;
    if (r instanceof Failure && r !== this._observed) {
      // A chain that ended failed, was resumed by a new link and ended with another failure reports the new one.
      if (this._registered === null || this._registered.failure !== r) {
        this._unregister();
        const entry = new Unhandled(r);
        this._registered = entry;
        releaseFrames(r.value, 0);
        if (!exitHooked) hookExit();
        pending.add(entry);
        unhandled.register(this, entry, this);
      }
    } else {
      this._unregister();
    }
  }

  /** @internal */
  _unregister(): void {
    const entry = this._registered;
    if (entry !== null) {
      this._registered = null;
      pending.delete(entry);
      unhandled.unregister(this);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The internal chain API, for the other modules of this package through `./chain.ts` (see there).

/** @internal What {@link settledValue} gives for a Deferred whose result cannot be read off it now. */
export const UNSETTLED: unique symbol = Symbol('unsettled');

/** Whether `d` has failed and has nothing left to run, so that its result is the Failure it ended with. */
function settledFailure(d: Deferred<unknown>): boolean {
  return (d._flags & (CALLED | RUNNING)) === CALLED && d._paused === 0 && d._l1 === NO_LINK;
}

/** @internal See `./chain.ts`. */
export function settledValue(d: Deferred<unknown>): unknown {
  if ((d._flags & (CALLED | RUNNING)) !== CALLED || d._paused !== 0 || d._l1 !== NO_LINK) return UNSETTLED;
  const r = d._result;
  if (r === null || (typeof r !== 'object' && typeof r !== 'function')) return r;
  // A result a link would pause on (left by an unpause() while waiting, or a thenable a thenable resolved with) must
  // meet a real link, as must anything that cannot even be inspected.
  try {
    if (r instanceof Failure || r instanceof Deferred || isThenable(r)) {
      return UNSETTLED;
    }
  } catch {
    return UNSETTLED;
  }
  return r;
}

/** @internal See `./chain.ts`. */
export function listenIndexed(d: Deferred<unknown>, listener: IndexedListener, index: number): void {
  d._push(listener, INDEXED, index);
  if ((d._flags & CALLED) !== 0) d._run();
}

/** @internal See `./chain.ts`. */
export function settle(d: Deferred<unknown>, outcome: unknown): void {
  d._start(outcome);
}

/** @internal See `./chain.ts`. */
export function settleNext(d: Deferred<unknown>, outcome: unknown): void {
  if (handoff !== null) {
    d._start(outcome);
    return;
  }
  const flags = d._flags;
  if ((flags & CALLED) !== 0) {
    if ((flags & SUPPRESS_ALREADY_CALLED) !== 0) {
      d._flags = flags & ~SUPPRESS_ALREADY_CALLED;
      return;
    }
    throw new AlreadyCalledError();
  }
  d._flags = flags | CALLED;
  d._result = outcome;
  d._canceller = null;
  handoff = d;
}

/** @internal See `./chain.ts`. */
export function reportUnhandled(failure: Failure): void {
  report(failure);
}

/** A Deferred that has already fired with `value`. */
export function succeed<T>(value: T): Deferred<T> {
  const d = new Deferred<T>();
  d.callback(value);
  return d;
}

/** A Deferred that has already failed with `reason`. */
export function fail<T = never>(reason?: unknown): Deferred<T> {
  const d = new Deferred<T>();
  d.errback(reason);
  return d;
}

/**
 * Calls `fn(...args)` and gives its outcome as a Deferred, whatever it does: a plain value, a synchronous throw, a
 * Promise or a Deferred all become a Deferred (a returned Deferred is passed through as it is).
 */
export function maybeDeferred<T, A extends unknown[]>(
  fn: (...args: A) => T | PromiseLike<T>,
  ...args: A
): Deferred<Awaited<T>> {
  checkFn(fn, 'fn');
  let out: unknown;
  try {
    out = fn(...args);
    if (out instanceof Deferred) return out as Deferred<Awaited<T>>;
    // Inside the try: a `then` getter that throws, or a revoked Proxy, is the call's failure, never a throw from here.
    if (isThenable(out)) return Deferred.fromPromise(out) as Deferred<Awaited<T>>;
  } catch (e) {
    return fail(e);
  }
  return succeed(out as Awaited<T>);
}

/**
 * Twisted's `ensureDeferred`: a Deferred stays as it is; a Promise or other thenable (what calling an async function
 * gives, the counterpart of Python's coroutine) becomes a Deferred that follows it, as {@link Deferred.fromPromise}.
 * Its result arrives a microtask after the Promise settles at the earliest: a Promise never settles synchronously.
 * @throws {TypeError} for anything else (Twisted's `NotACoroutineError`), naming what came.
 */
export function ensureDeferred<T>(awaitable: PromiseLike<T> | Deferred<T>): Deferred<T> {
  if (awaitable instanceof Deferred) return awaitable;
  if (!isThenable(awaitable)) {
    throw new TypeError(
      `Expected \`awaitable\` to be a Deferred, a Promise or a thenable, got ${describe(awaitable)}`,
    );
  }
  return Deferred.fromPromise(awaitable);
}

/**
 * A Deferred that fires after `ms` milliseconds with `fn(...args)` (or `undefined` without `fn`): Twisted's
 * `task.deferLater`. Cancelling it clears the timer and errbacks with {@link CancelledError}. Give a `clock` first, as
 * Twisted does, to set the timer there (a {@link ManualClock} in tests); without one it is {@link systemClock}, whose
 * timers wait the whole time however long it is.
 *
 * ```ts
 * deferLater(1000, () => 'later');
 * deferLater(clock, 1000, () => 'later');
 * ```
 *
 * @throws {TypeError | RangeError} for a `clock`, `ms` or `fn` that is not one, naming it.
 */
export function deferLater<T = undefined, A extends unknown[] = []>(
  ms: number,
  fn?: (...args: A) => T | PromiseLike<T>,
  ...args: A
): Deferred<Awaited<T>>;
export function deferLater<T = undefined, A extends unknown[] = []>(
  clock: Clock,
  ms: number,
  fn?: (...args: A) => T | PromiseLike<T>,
  ...args: A
): Deferred<Awaited<T>>;
export function deferLater(...all: unknown[]): Deferred<unknown> {
  const clock =
    typeof all[0] === 'object' && all[0] !== null ? checkClock(all.shift(), 'clock') : systemClock;
  const [ms, fn, ...args] = all;
  checkMs(ms, 'ms');
  if (fn !== undefined) checkFn(fn, 'fn');
  const d = new Deferred<undefined>(() => clock.clearTimeout(timer));
  const timer = clock.setTimeout(() => d.callback(undefined), ms as number);
  if (fn === undefined) return d;
  return d.addCallback(() => (fn as (...a: unknown[]) => unknown)(...args));
}
