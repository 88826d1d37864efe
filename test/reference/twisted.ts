/**
 * A plain model of Twisted's Deferred, DeferredList and DeferredSemaphore, written to be read, not to be fast: a list
 * of callback pairs, recursion where Twisted recursed, closures where Twisted used them. The differential test runs
 * the same random programs against this and against the library and compares what they did.
 *
 * It models Twisted's behaviour plus the library's documented choices, each marked "library:" below. Failures and
 * error classes are the library's own (they are data, not machinery).
 */
import {
  AlreadyCalledError,
  CancelledError,
  CircularChainError,
  Failure,
  FirstError,
  NotPaused,
  TooManyReleasesError,
} from 'async-batching';

type Callback = (result: unknown, ...args: unknown[]) => unknown;
/** One link: what runs on success, what runs on failure (null: pass the result on), and their extra arguments. */
type Link = {
  cb: Callback | null;
  eb: Callback | null;
  cbArgs: unknown[];
  ebArgs: unknown[];
  resume?: RefDeferred;
};

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as PromiseLike<unknown>).then === 'function'
  );
}

/** A built-in function without a name: in practice a Promise's own resolve or reject function. */
function isResolveFunction(f: unknown): f is (value: unknown) => void {
  return (
    typeof f === 'function' &&
    f.name === '' &&
    Function.prototype.toString.call(f) === 'function () { [native code] }'
  );
}

export class RefDeferred<T = unknown> {
  callbacks: Link[] = [];
  called = false;
  paused = 0;
  result: unknown = undefined;
  runningCallbacks = false;
  suppressAlreadyCalled = false;
  cancelling = false;
  canceller: ((d: RefDeferred<T>) => void) | undefined;

  constructor(canceller?: (d: RefDeferred<T>) => void) {
    this.canceller = canceller;
  }

  addCallbacks(
    cb: Callback | null,
    eb: Callback | null = null,
    cbArgs: unknown[] = [],
    ebArgs: unknown[] = [],
  ): this {
    this.callbacks.push({ cb, eb, cbArgs, ebArgs });
    if (this.called) this.runCallbacks();
    return this;
  }
  addCallback(cb: Callback, ...args: unknown[]): this {
    return this.addCallbacks(cb, null, args);
  }
  addErrback(eb: Callback, ...args: unknown[]): this {
    return this.addCallbacks(null, eb, [], args);
  }
  addBoth(fn: Callback, ...args: unknown[]): this {
    return this.addCallbacks(fn, fn, args, args);
  }
  chainDeferred(other: RefDeferred<T>): this {
    return this.addCallbacks(
      (r) => other.callback(r as T),
      (f) => other.errback(f),
    );
  }

  /**
   * library: a Deferred is awaitable. A Promise settled by a link added at the end of the chain now: with the result,
   * or rejected with a failure's value (which counts as handling it); the link passes the result on.
   *
   * library: given a Promise's own resolve function (V8's, when `await`, `Promise.all` or `resolve(d)` adopt the
   * Deferred) while the chain has not run to its end (not fired, paused, or running a callback), that link settles
   * the adopting Promise itself, as a native Promise it adopted would: its reactions run in the same microtask as those
   * of a Promise settled by a link at the same place. A reject function of the caller's own beside it is still called
   * a microtask later.
   */
  then(
    onFulfilled?: ((value: unknown) => unknown) | null,
    onRejected?: ((reason: unknown) => unknown) | null,
  ): Promise<unknown> {
    const atRest = this.called && this.paused === 0 && !this.runningCallbacks;
    if (!atRest && isResolveFunction(onFulfilled) && typeof onRejected === 'function') {
      this.addCallbacks(
        (r) => {
          onFulfilled(r);
          return r;
        },
        (f) => {
          const reason = (f as Failure).value;
          if (isResolveFunction(onRejected)) onRejected(reason);
          else Promise.reject(reason).then(undefined, onRejected);
          return f;
        },
      );
      return undefined as never;
    }
    return new Promise((resolve, reject) => {
      this.addCallbacks(
        (r) => {
          resolve(r);
          return r;
        },
        (f) => {
          reject((f as Failure).value);
          return f;
        },
      );
    }).then(onFulfilled, onRejected);
  }

  callback(result: T): void {
    // The library's message, for a Deferred or Promise (which it describes as "an object").
    if (isThenable(result)) {
      throw new TypeError(
        'Expected `result` not to be a Deferred or Promise (return it from a callback instead), got an object',
      );
    }
    this.startRunCallbacks(result);
  }
  errback(reason?: unknown): void {
    this.startRunCallbacks(reason instanceof Failure ? reason : new Failure(reason));
  }
  startRunCallbacks(result: unknown): void {
    if (this.called) {
      if (this.suppressAlreadyCalled) {
        this.suppressAlreadyCalled = false;
        return;
      }
      throw new AlreadyCalledError();
    }
    this.called = true;
    this.result = result;
    this.runCallbacks();
  }

  pause(): void {
    this.paused++;
  }
  unpause(): void {
    // library: too many unpause() calls raise instead of driving the count below zero.
    if (this.paused === 0) throw new NotPaused();
    this.paused--;
    if (this.paused === 0 && this.called) this.runCallbacks();
  }

  cancel(seen = new Set<RefDeferred>()): void {
    // library: Deferreds waiting on each other in a ring have nothing to cancel (Twisted would recurse until it fails).
    if (seen.has(this)) return;
    seen.add(this);
    if (!this.called) {
      if (this.canceller) {
        // library: cancelling a Deferred whose canceller is running (through a ring of waits) does nothing.
        if (this.cancelling) return;
        this.cancelling = true;
        try {
          this.canceller(this);
        } catch (e) {
          this.cancelling = false;
          // library: a canceller that throws is reported, and the Deferred still fails with CancelledError.
          if (!this.called)
            this.errback(
              new CancelledError('The Deferred was cancelled, and its canceller threw', { cause: e }),
            );
          return;
        }
        this.cancelling = false;
      } else {
        this.suppressAlreadyCalled = true;
      }
      if (!this.called) this.errback(new CancelledError());
    } else if (this.result instanceof RefDeferred) {
      this.result.cancel(seen);
    }
  }

  runCallbacks(): void {
    if (this.runningCallbacks || this.paused) return;
    while (this.callbacks.length > 0) {
      const link = this.callbacks.shift() as Link;
      if (link.resume) {
        // The continuation of an outer Deferred waiting on this one: it takes the result, this one keeps undefined.
        const outer = link.resume;
        outer.result = this.result;
        this.result = undefined;
        outer.paused--;
        outer.runCallbacks();
        continue;
      }
      const failed = this.result instanceof Failure;
      const fn = failed ? link.eb : link.cb;
      if (fn === null) continue;
      this.runningCallbacks = true;
      try {
        this.result = fn(this.result, ...(failed ? link.ebArgs : link.cbArgs));
        // Twisted warns (a DeprecationWarning it means to make an error); library: it is the error.
        if (this.result === this) throw new CircularChainError();
      } catch (e) {
        this.result = new Failure(e);
      } finally {
        this.runningCallbacks = false;
      }
      const inner = this.result;
      if (inner instanceof RefDeferred) {
        if (!inner.called || inner.paused || inner.result instanceof RefDeferred) {
          this.paused++;
          inner.callbacks.push({ cb: null, eb: null, cbArgs: [], ebArgs: [], resume: this });
          return;
        }
        this.result = inner.result;
        inner.result = undefined;
      } else if (isThenable(inner)) {
        this.paused++;
        const resume = (value: unknown) => {
          this.result = value;
          this.paused--;
          this.runCallbacks();
        };
        inner.then(resume, (e) => resume(new Failure(e)));
        return;
      }
    }
  }
}

export interface RefListOptions {
  fireOnOneCallback?: boolean;
  fireOnOneErrback?: boolean;
  consumeErrors?: boolean;
}

export class RefDeferredList extends RefDeferred<unknown> {
  resultList: unknown[];
  finishedCount = 0;
  readonly options: RefListOptions;

  constructor(deferreds: RefDeferred[], options: RefListOptions = {}) {
    // library: cancelling goes through the canceller, so the list errbacks if cancelling its inputs did not fire it.
    super(() => {
      for (const d of deferreds) d.cancel();
    });
    this.options = options;
    this.resultList = new Array(deferreds.length);
    // library: with fireOnOneCallback, an empty list fails as one whose every input failed; Twisted's never fires.
    if (deferreds.length === 0) {
      if (options.fireOnOneCallback)
        this.errback(new AggregateError([], 'Every Deferred in the DeferredList failed'));
      else this.callback([]);
    }
    deferreds.forEach((d, i) => {
      d.addCallbacks(
        (r) => this.cbDeferred(r, i, true),
        (f) => this.cbDeferred(f, i, false),
      );
    });
  }

  cbDeferred(result: unknown, index: number, succeeded: boolean): unknown {
    this.resultList[index] = [succeeded, result];
    this.finishedCount++;
    if (!this.called) {
      if (succeeded && this.options.fireOnOneCallback) {
        this.callback([result, index]);
      } else if (!succeeded && this.options.fireOnOneErrback) {
        this.errback(new FirstError(result as Failure, index));
      } else if (this.finishedCount === this.resultList.length) {
        if (this.options.fireOnOneCallback) {
          // library: every input failed; an AggregateError instead of a result list that looks like success.
          const errors = this.resultList.map((e) => ((e as [boolean, Failure])[1] as Failure).value);
          this.errback(new AggregateError(errors, 'Every Deferred in the DeferredList failed'));
        } else {
          this.callback(this.resultList);
        }
      }
    }
    return !succeeded && this.options.consumeErrors ? null : result;
  }
}

/** Twisted's `maybeDeferred`: whatever `f` does becomes a Deferred. */
function maybeDeferred(f: () => unknown): RefDeferred {
  const d = new RefDeferred();
  let out: unknown;
  try {
    out = f();
    if (out instanceof RefDeferred) return out;
    // library: a result whose `then` getter throws is the call's failure, as a throw from `f` is.
    if (isThenable(out)) {
      out.then(
        (v) => d.callback(v),
        (e) => d.errback(e),
      );
      return d;
    }
  } catch (e) {
    d.errback(e);
    return d;
  }
  d.callback(out);
  return d;
}

export class RefDeferredSemaphore {
  tokens: number;
  waiting: RefDeferred[] = [];
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
    this.tokens = limit;
  }

  acquire(): RefDeferred {
    const d: RefDeferred = new RefDeferred(() => {
      this.waiting.splice(this.waiting.indexOf(d), 1);
    });
    if (this.tokens === 0) {
      this.waiting.push(d);
    } else {
      this.tokens--;
      d.callback(this);
    }
    return d;
  }

  release(): void {
    // library: releasing more than was acquired raises.
    if (this.tokens >= this.limit) throw new TooManyReleasesError();
    this.tokens++;
    if (this.waiting.length > 0) {
      this.tokens--;
      (this.waiting.shift() as RefDeferred).callback(this);
    }
  }

  run(f: (...args: unknown[]) => unknown, ...args: unknown[]): RefDeferred {
    return this.acquire().addCallback(() =>
      maybeDeferred(() => f(...args)).addBoth((r) => {
        this.release();
        return r;
      }),
    );
  }
}
