import { checkFiniteNumber, checkMs, describe } from './args.js';

/**
 * The one time source of every timed API: `addTimeout`, `deferLater`, the rate limiter, retries, the batcher, the
 * Cooperator, getPage's `Retry-After` waits and the Timeline. Injecting a {@link ManualClock} is how tests (and
 * notebooks) drive time by hand instead of sleeping, as Twisted's `task.Clock` does for its `IReactorTime`.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale: only differences matter. */
  now(): number;
  /** Calls `fn` once, after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a call planned by {@link Clock.setTimeout} (a handle already fired or cleared is ignored). */
  clearTimeout(handle: unknown): void;
}

/**
 * The longest wait one host timer honours: 2^31-1 ms, about 24.8 days. Node fires a longer one after 1 ms (with a
 * warning), and browsers at once; {@link systemClock} chains timers beyond it instead.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A wait longer than one host timer can hold: a chain of timers, each at most {@link MAX_TIMER_MS}, re-armed until the
 * whole wait has passed. `Infinity` never fires.
 */
class LongTimer {
  #handle: ReturnType<typeof setTimeout> | undefined;
  #left: number;
  readonly #fn: () => void;

  constructor(fn: () => void, ms: number) {
    this.#fn = fn;
    this.#left = ms;
    this.#arm();
  }

  #arm(): void {
    const step = Math.min(this.#left, MAX_TIMER_MS);
    this.#left -= step;
    this.#handle = setTimeout(this.#fire, step);
  }

  #fire = (): void => {
    if (this.#left > 0) this.#arm();
    else {
      this.#handle = undefined;
      this.#fn();
    }
  };

  clear(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}

/**
 * The real clock: `performance.now()` and the host's timers (Node's, a browser's, Deno's). Every wait lasts as long as
 * asked, however long: one beyond 2^31-1 ms (about 24.8 days) is a chain of timers, where a bare `setTimeout` would fire
 * after 1 ms. This is the one place the package sets a timer (besides fixed delays of its own under a second).
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => (ms > MAX_TIMER_MS ? new LongTimer(fn, ms) : setTimeout(fn, ms)),
  clearTimeout: (handle) => {
    if (handle instanceof LongTimer) handle.clear();
    else clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
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
    checkMs(ms, 'ms');
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

/** @internal `value`, a {@link Clock}: an object with `now()`, `setTimeout()` and `clearTimeout()`. */
export function checkClock(value: unknown, name = 'clock'): Clock {
  if (!isClock(value)) {
    throw new TypeError(
      `Expected \`${name}\` to be a Clock, with now(), setTimeout() and clearTimeout(), got ${describe(value)}`,
    );
  }
  return value;
}

function isClock(value: unknown): value is Clock {
  if (value === null || typeof value !== 'object') return false;
  try {
    const c = value as Partial<Clock>;
    return (
      typeof c.now === 'function' &&
      typeof c.setTimeout === 'function' &&
      typeof c.clearTimeout === 'function'
    );
  } catch {
    return false;
  }
}
