// The semaphore's and the lock's rules about tokens and outcomes: each test is named after the rule it pins, and each
// failed on the code before it (see the README's "Guarantees under failure").
import {
  CancelledError,
  ConcurrencyPrimitive,
  Deferred,
  DeferredLock,
  DeferredSemaphore,
  type Failure,
  TooManyReleasesError,
} from 'async-batching';
import { describe, expect, it } from 'vitest';

/** An object whose every missing property throws when read: `then` included: a job may return anything. */
function strict(): object {
  return new Proxy(
    {},
    {
      get(target, key) {
        if (!(key in target)) throw new Error(`no ${String(key)}`);
        return Reflect.get(target, key);
      },
    },
  );
}

/** What a Deferred fired with, read synchronously: `{ ok, value }`, or undefined while it has not fired. */
function outcomeOf<T>(d: Deferred<T>): { ok: boolean; value: unknown } | undefined {
  let seen: { ok: boolean; value: unknown } | undefined;
  d.addCallbacks(
    (value) => {
      seen = { ok: true, value };
      return value;
    },
    (failure: Failure) => {
      seen = { ok: false, value: failure.value };
      return null;
    },
  );
  return seen;
}

describe('whatever a job returns or throws becomes its outcome', () => {
  it('a result whose then getter throws fails the job, gives the token back, and the queue goes on', () => {
    const sem = new DeferredSemaphore(1);
    const gate = new Deferred<string>();
    const first = sem.run(() => gate);
    const bad = sem.run(strict);
    const third = sem.run(() => 3);
    gate.callback('done');
    expect(outcomeOf(first)).toEqual({ ok: true, value: 'done' });
    expect(outcomeOf(bad)).toEqual({ ok: false, value: new Error('no then') });
    expect(outcomeOf(third)).toEqual({ ok: true, value: 3 });
    expect(sem.held).toBe(0);
    expect(sem.tokens).toBe(1);
  });

  it('a result whose then getter throws fails a job that started at once, instead of throwing from run()', () => {
    const sem = new DeferredSemaphore(1);
    const d = sem.run(strict);
    expect(outcomeOf(d)).toEqual({ ok: false, value: new Error('no then') });
    expect(sem.tokens).toBe(1);
  });

  it('a value that looks like a thenable only when looked at again fails the job instead of throwing', () => {
    const sem = new DeferredSemaphore(1);
    let reads = 0;
    const shifty = {
      get then() {
        reads++;
        return reads === 1 ? undefined : () => {};
      },
    };
    const d = sem.run(() => shifty);
    const seen = outcomeOf(d);
    expect(seen?.ok).toBe(false);
    expect(seen?.value).toBeInstanceOf(TypeError);
    expect(sem.tokens).toBe(1);
  });

  it('a foreign thenable that calls back twice and then throws settles its job once, with its first outcome', async () => {
    const sem = new DeferredSemaphore(1);
    const twice = {
      then(ok: (v: unknown) => void, no: (e: unknown) => void) {
        ok('first');
        ok('second');
        no(new Error('late'));
        throw new Error('thrown');
      },
    };
    const fired: unknown[] = [];
    const d = sem
      .run(() => twice)
      .addBoth((r) => {
        fired.push(r);
        return r;
      });
    await expect(d).resolves.toBe('first');
    expect(fired).toEqual(['first']);
    expect(sem.tokens).toBe(1);
  });

  it('a Deferred shared by several jobs keeps its value for its other listeners', () => {
    const sem = new DeferredSemaphore(3);
    const shared = new Deferred<string>();
    const runs = [sem.run(() => shared), sem.run(() => shared), sem.run(() => shared)];
    let later: unknown;
    shared.callback('PAGE');
    shared.addCallback((v) => {
      later = v;
    });
    expect(runs.map((d) => outcomeOf(d))).toEqual([
      { ok: true, value: 'PAGE' },
      { ok: true, value: 'PAGE' },
      { ok: true, value: 'PAGE' },
    ]);
    expect(later).toBe('PAGE');
  });
});

describe("a run() job's token is released by run() alone", () => {
  it('a bare release() inside a job throws TooManyReleasesError and the limit still holds', async () => {
    const sem = new DeferredSemaphore(1);
    await expect(sem.run(() => sem.release())).rejects.toBeInstanceOf(TooManyReleasesError);
    expect(sem.tokens).toBe(1);
    let inside = 0;
    let peak = 0;
    const job = async () => {
      inside++;
      peak = Math.max(peak, inside);
      await Promise.resolve();
      inside--;
    };
    await Promise.all([sem.run(job), sem.run(job), sem.run(job)]);
    expect(peak).toBe(1);
  });

  it('a bare release() inside a job of a lock throws TooManyReleasesError and the lock stays held', () => {
    const lock = new DeferredLock();
    let thrown: unknown;
    let lockedInside = false;
    const gate = new Deferred<void>();
    lock.run(() => {
      try {
        lock.release();
      } catch (e) {
        thrown = e;
      }
      lockedInside = lock.locked;
      return gate;
    });
    expect(thrown).toBeInstanceOf(TooManyReleasesError);
    expect((thrown as TooManyReleasesError).code).toBe('AB_ERR_TOO_MANY_RELEASES');
    expect(lockedInside).toBe(true);
    gate.callback(undefined);
    expect(lock.locked).toBe(false);
  });

  it('release() gives back a token taken with acquire() while jobs hold theirs', () => {
    const sem = new DeferredSemaphore(2);
    sem.run(() => new Deferred());
    sem.acquire();
    sem.release();
    expect(sem.held).toBe(1);
    expect(() => sem.release()).toThrow(TooManyReleasesError);
  });
});

describe('cancelling a running run() releases its token when the job’s result fires, as in Twisted', () => {
  it('a Promise job: its result fires with CancelledError at once, as Deferred.fromPromise’s would; its late outcome is dropped', async () => {
    const sem = new DeferredSemaphore(1);
    let finish!: (v: string) => void;
    const d = sem.run(() => new Promise<string>((resolve) => (finish = resolve)));
    const order: string[] = [];
    d.addErrback((f: Failure) => {
      order.push(`fired ${f.check(CancelledError)?.name} with ${sem.tokens} free`);
    });
    d.cancel();
    expect(order).toEqual(['fired CancelledError with 1 free']);
    // The next job gets the token, and the first job's late value must not reach it.
    const gate = new Deferred<string>();
    const next = sem.run(() => gate);
    finish('late');
    await Promise.resolve();
    await Promise.resolve();
    expect(next.called).toBe(false);
    expect(sem.held).toBe(1);
    gate.callback('next');
    expect(outcomeOf(next)).toEqual({ ok: true, value: 'next' });
    expect(sem.tokens).toBe(1);
  });

  it('a Deferred job without a canceller: the same, since cancelling fires it', () => {
    const sem = new DeferredSemaphore(1);
    const inner = new Deferred<string>();
    const d = sem.run(() => inner);
    d.cancel();
    expect(outcomeOf(d)).toEqual({ ok: false, value: new CancelledError() });
    expect(sem.tokens).toBe(1);
    // The work's own late result is dropped by the cancelled Deferred, as Twisted does.
    expect(() => inner.callback('late')).not.toThrow();
  });

  it('a Deferred job whose canceller fires it with a value: run() fires with that value', () => {
    const sem = new DeferredSemaphore(1);
    const d = sem.run(() => new Deferred<string>((self) => self.callback('partial')));
    d.cancel();
    expect(outcomeOf(d)).toEqual({ ok: true, value: 'partial' });
    expect(sem.tokens).toBe(1);
  });

  it('a Deferred job that waits on more work after cancelling keeps its token until it fires', () => {
    const sem = new DeferredSemaphore(1);
    const cleanup = new Deferred<string>();
    // Cancelling fails the job's Deferred; its errback then waits for some clean-up before the job is over.
    const job = new Deferred<string>().addErrback(() => cleanup);
    const d = sem.run(() => job);
    d.cancel();
    expect(outcomeOf(d)).toEqual({ ok: false, value: new CancelledError() });
    expect(sem.tokens).toBe(0);
    cleanup.callback('cleaned');
    expect(sem.tokens).toBe(1);
  });
});

describe("a finished job's outcome and the order around it are Twisted's (found by comparing with the plain model of Twisted)", () => {
  it("a waiter's callback that cancels a job whose result already fired does not replace that result", async () => {
    const sem = new DeferredSemaphore(1);
    let reject = (_: Error) => {};
    const first = sem.run(() => new Promise<number>((_, no) => (reject = no)));
    const second = sem.run(() => 2);
    // When the second job's result fires, the first has already failed: cancelling it must change nothing.
    second.addCallback((value) => {
      first.cancel();
      return value;
    });
    reject(new Error('the first job failed'));
    await expect(first).rejects.toThrow('the first job failed');
    await expect(second).resolves.toBe(2);
  });

  it("a job's callbacks run after the jobs its token lets in, last finished first, as Twisted's nested release() calls", () => {
    const sem = new DeferredSemaphore(1);
    const order: string[] = [];
    const holder = sem.acquire();
    for (const name of ['a', 'b', 'c']) {
      sem
        .run(() => {
          order.push(`job ${name}`);
          return name;
        })
        .addCallback((value) => {
          order.push(`callback ${value}`);
          return value;
        });
    }
    expect(outcomeOf(holder)?.ok).toBe(true);
    sem.release();
    expect(order).toEqual(['job a', 'job b', 'job c', 'callback c', 'callback b', 'callback a']);
    expect(sem.tokens).toBe(1);
  });
});

describe('held counts the tokens held now', () => {
  it('counts acquire() holders and running jobs, and stays right after the limit is lowered below them', () => {
    const sem = new DeferredSemaphore(3);
    const gate = new Deferred<void>();
    sem.acquire();
    sem.acquire();
    sem.run(() => gate);
    expect(sem.held).toBe(3);
    sem.limit = 1;
    expect(sem.held).toBe(3);
    expect(sem.tokens).toBe(0);
    sem.release();
    gate.callback(undefined);
    expect(sem.held).toBe(1);
    expect(sem.tokens).toBe(0);
    sem.release();
    expect(sem.held).toBe(0);
    expect(sem.tokens).toBe(1);
  });
});

describe('using and await using release what acquire() took', () => {
  it('await using a semaphore acquired in the block releases its token when the block ends (Twisted’s async with)', async () => {
    const sem = new DeferredSemaphore(3);
    {
      await using _outer = await sem.acquire();
      expect(sem.tokens).toBe(2);
      {
        await using _inner = await sem.acquire();
        expect(sem.tokens).toBe(1);
        const d1 = sem.acquire();
        const d2 = sem.acquire();
        expect(sem.tokens).toBe(0);
        expect(d1.called).toBe(true);
        expect(d2.called).toBe(false);
        d1.addCallback((s) => s.release());
        d2.addCallback((s) => s.release());
      }
      expect(sem.tokens).toBe(2);
    }
    expect(sem.tokens).toBe(3);
  });

  it('await using a lock releases it at the end of the block, also when the block throws', async () => {
    const lock = new DeferredLock();
    await expect(
      (async () => {
        await using held = await lock.acquire();
        expect(held.locked).toBe(true);
        throw new Error('some specific error');
      })(),
    ).rejects.toThrow('some specific error');
    expect(lock.locked).toBe(false);
  });

  it('a block waiting in the queue gets the token in turn and hands it on when it ends', async () => {
    const lock = new DeferredLock();
    const order: string[] = [];
    const holder = lock.acquire();
    const block = (async () => {
      using _ = await lock.acquire();
      order.push('block');
    })();
    order.push('before release');
    holder.addCallback((l) => l.release());
    await block;
    expect(order).toEqual(['before release', 'block']);
    expect(lock.locked).toBe(false);
  });

  it('disposing without a token taken with acquire() throws TooManyReleasesError', () => {
    const sem = new DeferredSemaphore(1);
    expect(() => sem[Symbol.dispose]()).toThrow(TooManyReleasesError);
  });
});

describe('a DeferredLock is not a DeferredSemaphore', () => {
  it('both are ConcurrencyPrimitives, so code written for either takes a lock or a semaphore', async () => {
    const lock = new DeferredLock();
    const sem = new DeferredSemaphore(2);
    expect(lock).not.toBeInstanceOf(DeferredSemaphore);
    expect(lock).toBeInstanceOf(ConcurrencyPrimitive);
    expect(sem).toBeInstanceOf(ConcurrencyPrimitive);
    // Each job reads `held` once both have had their chance to start.
    const job = async (p: ConcurrencyPrimitive) => {
      await Promise.resolve();
      return p.held;
    };
    const twice = (p: ConcurrencyPrimitive) => Promise.all([p.run(job, p), p.run(job, p)]);
    await expect(twice(lock)).resolves.toEqual([1, 1]);
    await expect(twice(sem)).resolves.toEqual([2, 2]);
  });
});

describe("Twisted's lock and semaphore tests, in our words", () => {
  it('cancelling an acquire that already has the lock or a token does nothing', () => {
    for (const p of [new DeferredLock(), new DeferredSemaphore(1)]) {
      const d = p.acquire();
      const failures: unknown[] = [];
      d.addErrback((f) => failures.push(f));
      d.cancel();
      expect(failures).toEqual([]);
      expect(p.held).toBe(1);
    }
  });

  it('cancelling an acquire still waiting fails it at once with CancelledError', () => {
    for (const p of [new DeferredLock(), new DeferredSemaphore(1)] as ConcurrencyPrimitive[]) {
      p.acquire();
      const d = p.acquire();
      d.cancel();
      expect(outcomeOf(d)).toEqual({ ok: false, value: new CancelledError() });
      expect(p.waiting.length).toBe(0);
    }
  });

  it('a lock runs a job with its arguments, holds while the job’s Deferred is pending, and queues others', () => {
    const lock = new DeferredLock();
    const control = new Deferred<string>();
    let seenArg: unknown;
    const result = lock.run((arg: string) => {
      seenArg = arg;
      return control;
    }, 'unique');
    expect(lock.locked).toBe(true);
    expect(seenArg).toBe('unique');
    let counter = 0;
    lock.acquire().addCallback(() => counter++);
    expect(counter).toBe(0);
    control.callback('second');
    expect(outcomeOf(result)).toEqual({ ok: true, value: 'second' });
    expect(counter).toBe(1);
    expect(lock.locked).toBe(true);
    lock.release();
    expect(lock.locked).toBe(false);
  });
});
