import { checkWhole, describe } from '../../core/args.js';
import type { Deferred } from '../../core/deferred.js';
import { TooManyReleasesError } from '../../core/errors.js';
import { DeferredSemaphore } from './index.js';

/**
 * A {@link DeferredSemaphore} per key, made when a key is first used and dropped once nobody holds or waits for it,
 * so that a crawl over a million hosts keeps only the busy ones in memory. `run('example.com', getPage, url)` lets at
 * most `perKey` jobs of that key run at once; jobs of other keys never wait for it.
 *
 * Each key's semaphore keeps the semantics of `DeferredSemaphore`: first-in first-out per key, cancelling a waiting
 * job removes it, cancelling a running one cancels the Deferred its job returned.
 */
export class KeyedSemaphore {
  #perKey: number;
  readonly #sems = new Map<string, DeferredSemaphore>();

  /** @param perKey how many holders each key allows at once: a whole number >= 1. */
  constructor(perKey: number) {
    this.#perKey = checkWhole(perKey, 'perKey', 1);
  }

  /** The limit of every key. Setting it applies to the keys in use at once (see `DeferredSemaphore.limit`). */
  get perKey(): number {
    return this.#perKey;
  }

  /** Sets the limit of every key; see the getter. */
  set perKey(value: number) {
    this.#perKey = checkWhole(value, 'perKey', 1);
    for (const sem of this.#sems.values()) sem.limit = value;
  }

  /** How many keys are in use (held or waited for). */
  get size(): number {
    return this.#sems.size;
  }

  /** How many holders `key` has now; more than `perKey` while holders taken under a higher `perKey` remain. */
  running(key: string): number {
    return this.#sems.get(key)?.held ?? 0;
  }

  /** How many acquires or jobs wait for `key`. */
  waiting(key: string): number {
    return this.#sems.get(key)?.waiting.length ?? 0;
  }

  /** Takes a token of `key`; fires with this object when it has one. The holder must call `release(key)`. */
  acquire(key: string): Deferred<this> {
    const sem = this.#sem(key);
    return sem.acquire().addCallbacks(
      () => this,
      (failure) => {
        // Cancelled while waiting: the key may have nobody else.
        this.#dropIfIdle(key, sem);
        return failure;
      },
    ) as unknown as Deferred<this>;
  }

  /**
   * Gives back a token of `key`.
   * @throws {TooManyReleasesError} when `key` has no holder.
   */
  release(key: string): void {
    checkKey(key);
    const sem = this.#sems.get(key);
    if (sem === undefined) throw new TooManyReleasesError(`release(${JSON.stringify(key)}) without a holder`);
    sem.release();
    this.#dropIfIdle(key, sem);
  }

  /** Runs `fn(...args)` holding a token of `key`, and fires with its outcome. */
  run<R, A extends unknown[]>(
    key: string,
    fn: (...args: A) => R | PromiseLike<R>,
    ...args: A
  ): Deferred<Awaited<R>> {
    const sem = this.#sem(key);
    const d = sem.run(fn, ...args);
    // Runs once the job's token is back (the semaphore releases before it fires), or once the waiter is cancelled.
    return d.addBoth((outcome) => {
      this.#dropIfIdle(key, sem);
      return outcome;
    }) as Deferred<Awaited<R>>;
  }

  #sem(key: string): DeferredSemaphore {
    checkKey(key);
    let sem = this.#sems.get(key);
    if (sem === undefined) {
      sem = new DeferredSemaphore(this.#perKey);
      this.#sems.set(key, sem);
    }
    return sem;
  }

  #dropIfIdle(key: string, sem: DeferredSemaphore): void {
    if (sem.held === 0 && sem.waiting.length === 0 && this.#sems.get(key) === sem) this.#sems.delete(key);
  }
}

function checkKey(key: unknown): void {
  if (typeof key !== 'string') throw new TypeError(`Expected \`key\` to be a string, got ${describe(key)}`);
}
