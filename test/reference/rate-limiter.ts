/**
 * The plain model of `RateLimiter` that the library's is compared with (test/unit/blocks/rate-limiter.test.ts): every start time
 * kept for ever, the clock read at every decision, and "may one more start now?" answered by counting, for every
 * window, the starts less than `per` ago. Slow and obviously right; no credit, no ring, no binary search.
 */
import type { Clock, RateWindow } from 'async-batching';

interface RefJob {
  fn: () => void;
  cancelled: boolean;
}

export class RefRateLimiter {
  windows: readonly RateWindow[];
  readonly clock: Clock;
  /** Every start, in order. */
  readonly starts: number[] = [];
  readonly queue: RefJob[] = [];
  timer: unknown = null;

  constructor(windows: readonly RateWindow[], clock: Clock) {
    this.windows = windows;
    this.clock = clock;
  }

  /** Starts less than `per` before `now`: those still inside a window of that length. */
  inWindow(per: number, now: number): number {
    return this.starts.filter((t) => t + per > now).length;
  }

  allows(now: number): boolean {
    return this.windows.every((w) => this.inWindow(w.per, now) < w.max);
  }

  get available(): number {
    const now = this.clock.now();
    return Math.min(...this.windows.map((w) => Math.max(0, w.max - this.inWindow(w.per, now))));
  }

  get waiting(): number {
    return this.queue.filter((j) => !j.cancelled).length;
  }

  setWindows(windows: readonly RateWindow[]): void {
    this.windows = windows;
    this.pump();
  }

  /** Queues `fn` and starts what may start; the handle's `cancel()` takes it out if it has not started. */
  run(fn: () => void): { cancel(): void } {
    const job: RefJob = { fn, cancelled: false };
    this.queue.push(job);
    this.pump();
    return {
      cancel: () => {
        if (this.queue.includes(job)) job.cancelled = true;
      },
    };
  }

  /** Starts queued jobs in order while every window allows, then plans a timer for the first moment one does. */
  pump(): void {
    const now = this.clock.now();
    for (;;) {
      const head = this.queue[0];
      if (head === undefined) break;
      if (head.cancelled) {
        this.queue.shift();
        continue;
      }
      if (!this.allows(now)) break;
      this.queue.shift();
      this.starts.push(now);
      head.fn();
    }
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.waiting === 0) return;
    // Without new starts, a window only frees up when a start leaves it, at `start + per`: the first such moment
    // that every window allows is when the head may start.
    const moments = this.starts
      .flatMap((t) => this.windows.map((w) => t + w.per))
      .filter((t) => t > now)
      .sort((a, b) => a - b);
    const next = moments.find((t) => this.allows(t));
    if (next !== undefined) this.timer = this.clock.setTimeout(() => this.pump(), next - now);
  }
}
