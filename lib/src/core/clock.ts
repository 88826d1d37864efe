import { checkFiniteNumber, describe } from './args.js';

/**
 * The time source of the polite helpers (rate limiter, retry, batcher). Injecting one is how tests drive time by hand
 * instead of sleeping, as Twisted's `task.Clock` does for its schedulers.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale: only differences matter. */
  now(): number;
  /** Calls `fn` once, after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a call planned by {@link Clock.setTimeout} (a handle already fired or cleared is ignored). */
  clearTimeout(handle: unknown): void;
}

/** The real clock: `performance.now()` and the timers of the event loop. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * A clock that moves only when told to, for tests and notebooks: `advance(ms)` runs the calls that fall due, in time
 * order, each at its own time.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #calls = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    checkFiniteNumber(start, 'start');
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#calls.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#calls.delete(handle as number);
  }

  /** How many calls are planned. */
  get pending(): number {
    return this.#calls.size;
  }

  /** Moves time forward by `ms`, running every call that falls due on the way (including ones they plan). */
  advance(ms: number): void {
    checkFiniteNumber(ms, 'ms');
    if (ms < 0) throw new RangeError(`Expected \`ms\` to be >= 0, got ${ms}`);
    const end = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Number.POSITIVE_INFINITY;
      for (const [id, c] of this.#calls) {
        if (c.at < nextAt || (c.at === nextAt && id < nextId)) {
          nextAt = c.at;
          nextId = id;
        }
      }
      if (nextId === -1 || nextAt > end) break;
      const call = this.#calls.get(nextId) as { at: number; fn: () => void };
      this.#calls.delete(nextId);
      this.#now = nextAt;
      call.fn();
    }
    this.#now = end;
  }
}

/** @internal */
export function checkClock(value: unknown): Clock {
  const c = value as Clock | undefined;
  if (
    c === null ||
    typeof c !== 'object' ||
    typeof c.now !== 'function' ||
    typeof c.setTimeout !== 'function' ||
    typeof c.clearTimeout !== 'function'
  ) {
    throw new TypeError(
      `Expected \`clock\` to have now(), setTimeout() and clearTimeout(), got ${describe(value)}`,
    );
  }
  return c;
}
