/**
 * The floor of the eager-semaphore shape: the least a limiter that hands back a Promise per job can do. One Promise
 * per job, an array as the queue; no options, no cancellation, no argument checks. The semaphore rows are held
 * against it.
 */
export function minimalSemaphore(concurrency: number) {
  const queue: (() => void)[] = [];
  let head = 0;
  let active = 0;
  // A finished job hands its place to the oldest waiting one, if any.
  const done = () => {
    if (head < queue.length) queue[head++]();
    else active--;
  };
  return <A, R>(fn: (arg: A) => Promise<R>, arg: A): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const start = () => {
        fn(arg).then(
          (v) => {
            done();
            resolve(v);
          },
          (e) => {
            done();
            reject(e);
          },
        );
      };
      if (active >= concurrency) queue.push(start);
      else {
        active++;
        start();
      }
    });
}

type Settle = (value: unknown) => void;

/** The handle {@link minimalThenableSemaphore} returns: it keeps the functions `then()` is given until its job ends. */
class Handle<A> {
  state: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  outcome: unknown;
  onFulfilled: Settle | null = null;
  onRejected: Settle | null = null;
  readonly fn: (arg: A) => PromiseLike<unknown>;
  readonly arg: A;
  constructor(fn: (arg: A) => PromiseLike<unknown>, arg: A) {
    this.fn = fn;
    this.arg = arg;
  }
  then(onFulfilled: Settle, onRejected: Settle): void {
    if (this.state === 'fulfilled') onFulfilled(this.outcome);
    else if (this.state === 'rejected') onRejected(this.outcome);
    else {
      this.onFulfilled = onFulfilled;
      this.onRejected = onRejected;
    }
  }
  settle(state: 'fulfilled' | 'rejected', outcome: unknown): void {
    this.state = state;
    this.outcome = outcome;
    (state === 'fulfilled' ? this.onFulfilled : this.onRejected)?.(outcome);
  }
}

/**
 * The floor of an eager limiter whose handles are not native Promises, as a Deferred is not: the same queue as
 * {@link minimalSemaphore}, each job's handle an object with a `then` that keeps the functions it is given. Only what
 * `await` and `Promise.all` need (its `then` returns nothing, and calls back at once once settled); no async context
 * is kept for a waiting job. `Promise.all` over such handles takes V8's path for foreign thenables, as over Deferreds.
 */
export function minimalThenableSemaphore(concurrency: number) {
  const queue: Handle<never>[] = [];
  let head = 0;
  let active = 0;
  const start = (h: Handle<never>) => {
    h.fn(h.arg).then(
      (v) => {
        done();
        h.settle('fulfilled', v);
      },
      (e) => {
        done();
        h.settle('rejected', e);
      },
    );
  };
  const done = () => {
    if (head < queue.length) start(queue[head++]);
    else active--;
  };
  return <A, R>(fn: (arg: A) => PromiseLike<R>, arg: A): PromiseLike<R> => {
    const h = new Handle<A>(fn, arg);
    if (active >= concurrency) queue.push(h as unknown as Handle<never>);
    else {
      active++;
      start(h as unknown as Handle<never>);
    }
    return h as unknown as PromiseLike<R>;
  };
}
