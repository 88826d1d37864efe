import { AlreadyCalledError, CancelledError } from './errors.js';
import { Failure } from './failure.js';

export { AlreadyCalledError, CancelledError };

/** A function that receives a Failure report left unhandled at the end of a chain. */
export type UnhandledFailureReporter = (failure: Failure) => void;

const defaultReporter: UnhandledFailureReporter = (failure) => {
  const detail = failure.stack ?? failure.toString();
  process.stderr.write(`Unhandled error in Deferred:\n${detail}\n`);
};
let reporter: UnhandledFailureReporter = defaultReporter;

/**
 * Replaces what happens to a failure that is still unhandled when its Deferred is garbage-collected (by default: a
 * message to stderr). Returns the previous reporter. Pass `null` to restore the default.
 */
export function setUnhandledFailureReporter(fn: UnhandledFailureReporter | null): UnhandledFailureReporter {
  if (fn !== null && typeof fn !== 'function') {
    throw new TypeError('Expected `fn` to be a function or null');
  }
  const previous = reporter;
  reporter = fn ?? defaultReporter;
  return previous;
}

// The held value is the failure, never the Deferred, so registering does not keep the Deferred alive.
const unhandled = new FinalizationRegistry<Failure>((failure) => {
  try {
    reporter(failure);
  } catch {
    // A reporter that throws must not take the process down from a GC callback.
  }
});

type Fn = (...args: never[]) => unknown;

/**
 * A link is LINK_SIZE slots. The first link of a chain is kept in three fields of the Deferred, so that the usual
 * Deferred with one callback allocates nothing more; the others are stored flat in one array allocated on the second
 * link. No object per link. A link is one of:
 *
 * - callback, errback (either may be null), arguments: an array given to both, null, or a {@link SplitArgs};
 * - the waiting outer Deferred, {@link WAITER}, null: the link an outer Deferred adds to the inner one it is paused on;
 * - an {@link IndexedListener}, {@link INDEXED}, a number: hands the result and that number to the listener, so that
 *   a DeferredList needs no closure nor argument array per input.
 */
const LINK_SIZE = 3;

/** The errback slot of the inline link when there is none. */
const NO_LINK = { link: 'none' };
/** The errback slot of a waiter's link. Not a function, so it is never mistaken for an errback. */
const WAITER = { link: 'waiter' };
/** The errback slot of an indexed listener's link. */
const INDEXED = { link: 'indexed' };

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
 * Receives the outcome of a Deferred through an indexed link (see {@link Deferred._addIndexed}). What it returns (or
 * throws) becomes the Deferred's result, as for a callback.
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
/**
 * A Deferred's flags, above the bits: how many things its chain waits on, in units of PAUSED (so `_flags >= PAUSED`
 * means paused).
 */
const PAUSED = 8;

const NO_RESULT: unique symbol = Symbol('no result');

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

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

function checkFn(fn: unknown, name: string): void {
  if (typeof fn !== 'function')
    throw new TypeError(`Expected \`${name}\` to be a function, got ${typeof fn}`);
}

/**
 * A result that is not there yet, with a chain of callbacks and errbacks that process it — Twisted's `Deferred`.
 *
 * - Callbacks run synchronously: when the Deferred fires, or at once when added to a Deferred that has fired.
 * - Extra arguments given to `addCallback(fn, ...args)` are passed to `fn` after the result.
 * - A callback that throws switches the chain to errbacks, which receive a {@link Failure}. An errback that returns a
 *   value (not a Failure) switches it back; one that throws or returns a Failure stays on the errback path.
 * - A callback that returns a Deferred or any PromiseLike pauses the chain until that settles.
 * - It is awaitable: `await d` gives the result at the end of the chain, or rejects with the original error.
 *
 * Long chains and nested Deferreds are run by an explicit loop, so depth never overflows the stack.
 */
export class Deferred<T = unknown> implements PromiseLike<T> {
  // The fields are declared here and set in the constructor: plain assignments build a Deferred faster than field
  // initializers do, which counts when a batch makes 200,000 of them.
  /**
   * @internal The result, once fired (see {@link CALLED}). Until then, the canceller given to the constructor, or
   * NO_RESULT: a Deferred needs no field of its own for a canceller it only uses before it fires.
   */
  declare _result: unknown;
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
  /**
   * @internal {@link CALLED}, {@link RUNNING}, {@link SUPPRESS_ALREADY_CALLED} and the {@link PAUSED} count, in one field
   * to keep Deferreds small.
   */
  declare _flags: number;
  /** @internal The failure this Deferred is registered to report when it is collected, if any. */
  declare _registered: Failure | null;
  /** @internal */ declare _observed: Failure | null;

  /**
   * @param canceller called by {@link cancel} on an unfired Deferred, to stop the work that would fire it. If the
   * Deferred is still unfired after the canceller returns, it errbacks with {@link CancelledError}.
   */
  constructor(canceller?: (d: Deferred<T>) => void) {
    if (canceller !== undefined && typeof canceller !== 'function') {
      throw new TypeError('Expected `canceller` to be a function or undefined');
    }
    this._result = canceller === undefined ? NO_RESULT : canceller;
    this._l0 = null;
    this._l1 = NO_LINK;
    this._l2 = null;
    this._links = null;
    this._next = 0;
    this._flags = 0;
    this._registered = null;
    this._observed = null;
  }

  /** True once `callback()` or `errback()` was called (or cancellation fired it). */
  get called(): boolean {
    return (this._flags & CALLED) !== 0;
  }

  /** True while the chain waits on a Deferred or Promise returned by a callback. */
  get paused(): boolean {
    return this._flags >= PAUSED;
  }

  /** @internal True when the chain waits on nothing and none of its callbacks runs. */
  _isIdle(): boolean {
    return (this._flags & ~(CALLED | SUPPRESS_ALREADY_CALLED)) === 0;
  }

  /**
   * Fires the Deferred with a successful result and runs the callback chain synchronously.
   * @throws {AlreadyCalledError} when it has already fired.
   * @throws {TypeError} when `result` is a Deferred or a Promise: return those from a callback instead.
   */
  callback(result: T): void {
    if (isThenable(result)) {
      throw new TypeError(
        'Expected `result` not to be a Deferred or Promise; return it from a callback instead',
      );
    }
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

  /** @internal */
  _start(result: unknown): void {
    const flags = this._flags;
    if ((flags & CALLED) !== 0) {
      if ((flags & SUPPRESS_ALREADY_CALLED) !== 0) {
        this._flags = flags & ~SUPPRESS_ALREADY_CALLED;
        return;
      }
      throw new AlreadyCalledError();
    }
    this._flags = flags | CALLED;
    this._result = result;
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
   * raised by the callback. Extra arguments for each can be given in `options`.
   */
  addCallbacks<U, V>(
    callback: (result: T, ...args: never[]) => U | PromiseLike<U>,
    errback: (failure: Failure, ...args: never[]) => V | PromiseLike<V>,
    options?: { callbackArgs?: readonly unknown[]; errbackArgs?: readonly unknown[] },
  ): Deferred<Awaited<U> | Awaited<V>> {
    checkFn(callback, 'callback');
    checkFn(errback, 'errback');
    const ca = options?.callbackArgs;
    const ea = options?.errbackArgs;
    // A string would otherwise be spread into one argument per character.
    if (ca !== undefined && !Array.isArray(ca)) throw new TypeError('Expected `callbackArgs` to be an array');
    if (ea !== undefined && !Array.isArray(ea)) throw new TypeError('Expected `errbackArgs` to be an array');
    return this._add(callback as Fn, errback as Fn, ca?.length ? ca : null, ea?.length ? ea : null);
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

  /** @internal True when no link is waiting to run or has run since the chain last ran to its end. */
  _noLinks(): boolean {
    return this._l1 === NO_LINK;
  }

  /**
   * @internal Adds a link that calls `listener._onIndexed(result, index, failed)`: one link, and no closure nor array
   * per call, for a listener that watches many Deferreds.
   */
  _addIndexed(listener: IndexedListener, index: number): void {
    this._push(listener, INDEXED, index);
    if ((this._flags & CALLED) !== 0) this._run();
  }

  /**
   * Cancels the work this Deferred waits for. On an unfired Deferred the canceller runs, and if the Deferred is still
   * unfired afterwards it errbacks with {@link CancelledError}. On a fired Deferred whose chain waits on another
   * Deferred, that one is cancelled instead. Otherwise it does nothing.
   */
  cancel(): void {
    if ((this._flags & CALLED) === 0) {
      const canceller = this._result;
      if (canceller !== NO_RESULT) {
        (canceller as (d: Deferred<T>) => void)(this);
      } else {
        // Without a canceller the work goes on; its eventual result is dropped instead of raising AlreadyCalledError.
        this._flags |= SUPPRESS_ALREADY_CALLED;
      }
      if ((this._flags & CALLED) === 0) this.errback(new Failure(new CancelledError()));
    } else if (this._result instanceof Deferred) {
      this._result.cancel();
    }
  }

  /**
   * Makes `other` fire with this Deferred's result (or failure) when it arrives. This chain continues with `undefined`
   * afterwards, as in Twisted. Returns this Deferred.
   */
  chainDeferred(other: Deferred<T>): Deferred<undefined> {
    if (!(other instanceof Deferred)) throw new TypeError('Expected `other` to be a Deferred');
    return this._add(
      (r: unknown) => {
        other.callback(r as T);
      },
      (f: unknown) => {
        other.errback(f);
      },
      null,
      null,
    );
  }

  /**
   * Awaiting a Deferred gives the result at the end of its chain, or rejects with the original error (`failure.value`).
   * It does not change what callbacks added later see, and it counts as handling a failure.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.asPromise().then(onfulfilled, onrejected);
  }

  /** A Promise of the result at the end of the chain, as `await` sees it. */
  asPromise(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this._add(
        (r: unknown) => {
          resolve(r as T);
          return r;
        },
        (f: unknown) => {
          this._observed = f as Failure;
          reject((f as Failure).value);
          return f;
        },
        null,
        null,
      );
    });
  }

  /** A Deferred that fires when `promise` settles. Cancelling it drops the promise's eventual result. */
  static fromPromise<T>(promise: PromiseLike<T>): Deferred<T> {
    if (!isThenable(promise)) throw new TypeError('Expected `promise` to be a Promise or thenable');
    const d = new Deferred<T>();
    promise.then(
      (v) => d._start(v),
      (e) => d._start(new Failure(e)),
    );
    return d;
  }

  /** @internal The loop that runs chains: Twisted's `_runCallbacks`, with nested Deferreds on an explicit stack. */
  _run(): void {
    if ((this._flags & RUNNING) !== 0) return;
    // Deferreds whose chains were interrupted to hand a result to a waiter; allocated only when that happens.
    let stack: Deferred<unknown>[] | null = null;
    let current = this as Deferred<unknown>;
    for (;;) {
      if (current._flags >= PAUSED) {
        // This one waits on something else now; go back to the Deferred that handed it a result, if any.
        if (stack === null || stack.length === 0) return;
        current = stack.pop()!;
        continue;
      }
      let finished = true;
      for (;;) {
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
        if (kind === WAITER) {
          const waiter = first as Deferred<unknown>;
          // The Deferred that was waiting on `current` takes its result and goes on, on this same stack.
          waiter._result = current._result;
          if (current._result instanceof Failure) current._observed = current._result;
          current._result = undefined;
          waiter._flags -= PAUSED;
          if (stack === null) stack = [];
          stack.push(current);
          current = waiter;
          finished = false;
          break;
        }
        const failed = current._result instanceof Failure;
        let next: unknown;
        if (kind === INDEXED) {
          current._flags |= RUNNING;
          try {
            next = (first as IndexedListener)._onIndexed(current._result, third as number, failed);
            if (next === current) throw new TypeError('A callback returned the Deferred it was added to');
          } catch (e) {
            next = new Failure(e);
          } finally {
            current._flags &= ~RUNNING;
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
            if (next === current) throw new TypeError('A callback returned the Deferred it was added to');
          } catch (e) {
            next = new Failure(e);
          } finally {
            current._flags &= ~RUNNING;
          }
        }
        current._result = next;
        if (next instanceof Deferred) {
          const inner = next as Deferred<unknown>;
          if ((inner._flags & CALLED) === 0 || inner._flags >= PAUSED || inner._result instanceof Deferred) {
            // Not fired yet (or itself waiting): pause, and let it hand its result back when it gets one.
            current._flags += PAUSED;
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
        } else if (isThenable(next)) {
          current._flags += PAUSED;
          const waiting = current;
          let settled = false;
          const resume = (value: unknown) => {
            if (settled) return;
            settled = true;
            waiting._result = value;
            waiting._flags -= PAUSED;
            waiting._run();
          };
          try {
            next.then(resume, (e) => resume(new Failure(e)));
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
        current = stack.pop()!;
      }
    }
  }

  /** @internal Tracks whether the chain ended with a failure nobody handled. */
  _settle(): void {
    const r = this._result;
    if (r instanceof Failure && r !== this._observed) {
      // A chain that ended failed, was resumed by a new link and ended with another failure reports the new one.
      if (this._registered !== r) {
        this._unregister();
        this._registered = r;
        releaseFrames(r.value, 0);
        unhandled.register(this, r, this);
      }
    } else {
      this._unregister();
    }
  }

  /** @internal */
  _unregister(): void {
    if (this._registered !== null) {
      this._registered = null;
      unhandled.unregister(this);
    }
  }
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
  } catch (e) {
    return fail(e);
  }
  if (out instanceof Deferred) return out as Deferred<Awaited<T>>;
  if (isThenable(out)) return Deferred.fromPromise(out) as Deferred<Awaited<T>>;
  return succeed(out as Awaited<T>);
}

/**
 * A Deferred that fires after `ms` milliseconds with `fn(...args)` (or `undefined` without `fn`). Cancelling it clears
 * the timer and errbacks with {@link CancelledError}.
 */
export function deferLater<T = undefined, A extends unknown[] = []>(
  ms: number,
  fn?: (...args: A) => T | PromiseLike<T>,
  ...args: A
): Deferred<Awaited<T>> {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`Expected \`ms\` to be a finite number >= 0, got ${String(ms)}`);
  }
  if (fn !== undefined) checkFn(fn, 'fn');
  const d = new Deferred<undefined>(() => clearTimeout(timer));
  const timer = setTimeout(() => d.callback(undefined), ms);
  if (fn === undefined) return d as unknown as Deferred<Awaited<T>>;
  return d.addCallback(() => fn(...args));
}
