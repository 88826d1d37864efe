import { Deferred } from './core/deferred.js';

/** One recorded job. Times are in the clock's unit (milliseconds for the default clock). */
export interface TimelineBar {
  readonly id: number;
  readonly label: string;
  readonly start: number;
  /** `undefined` while the job runs. */
  readonly end: number | undefined;
  /** `undefined` while the job runs. */
  readonly ok: boolean | undefined;
}

/** Options of {@link Timeline}. */
export interface TimelineOptions {
  /** Returns the current time in milliseconds. Default `performance.now()`. */
  clock?: () => number;
}

/** Options of {@link Timeline.toSVG}. */
export interface TimelineSVGOptions {
  /** Width of the picture in pixels. Default 720. */
  width?: number;
  /** A heading drawn above the chart. */
  title?: string;
  /**
   * `'packed'` (default): bars share rows, each placed on the first free row, so the number of rows is the peak
   * concurrency and a concurrency limit shows as a fixed number of rows. `'rows'`: one row per job.
   */
  lanes?: 'packed' | 'rows';
}

interface MutableBar {
  id: number;
  label: string;
  start: number;
  end: number | undefined;
  ok: boolean | undefined;
}

const ROW = 18;
const GAP = 4;
const LEFT = 12;
const RIGHT = 12;
const AXIS = 28;
const OK_FILL = '#4e79a7';
const FAIL_FILL = '#e15759';
const RUNNING_FILL = '#bab0ac';

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round number for SVG attributes, so the output is short and stable. */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A tick step of 1, 2 or 5 times a power of ten, giving at most about `target` ticks over `span`. */
function tickStep(span: number, target: number): number {
  const raw = span / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

function formatMs(v: number, step: number): string {
  if (step >= 1000) return `${Number((v / 1000).toFixed(step >= 10_000 ? 0 : 1))} s`;
  const digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  return `${Number(v.toFixed(digits))} ms`;
}

/**
 * Records when jobs start and end and draws them as an SVG chart: one horizontal bar per job over a time axis, failed
 * jobs in another colour, a `<title>` tooltip per bar. The SVG is plain markup (no script, no external references), and
 * the same recorded times always give the same SVG.
 *
 * ```ts
 * const timeline = new Timeline();
 * await parallel(urls, 4, (url) => timeline.track(url, getPage(url)));
 * display.html(timeline.toSVG({ title: 'Four at a time' }));
 * ```
 */
export class Timeline {
  readonly #clock: () => number;
  readonly #bars: MutableBar[] = [];

  constructor(options: TimelineOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('Expected `options` to be an object');
    const clock = options.clock ?? (() => performance.now());
    if (typeof clock !== 'function') throw new TypeError('Expected `options.clock` to be a function');
    this.#clock = clock;
  }

  /** The recorded jobs, in the order they started. */
  get bars(): readonly TimelineBar[] {
    return this.#bars;
  }

  /** Records the start of a job and returns its id, for {@link end}. */
  start(label: string): number {
    if (typeof label !== 'string') throw new TypeError('Expected `label` to be a string');
    const id = this.#bars.length;
    this.#bars.push({ id, label, start: this.#clock(), end: undefined, ok: undefined });
    return id;
  }

  /**
   * Records the end of job `id`; `ok = false` draws it as failed.
   * @throws {RangeError} when `id` is unknown or the job has already ended.
   */
  end(id: number, ok = true): void {
    const bar = Number.isInteger(id) ? this.#bars[id] : undefined;
    if (bar === undefined)
      throw new RangeError(`Expected \`id\` to be an id returned by start(), got ${String(id)}`);
    if (bar.end !== undefined) throw new RangeError(`Job ${id} (${bar.label}) has already ended`);
    bar.end = this.#clock();
    bar.ok = Boolean(ok);
  }

  /**
   * Records a job that starts now and ends when `work` settles (failed if it fails). A Deferred is returned as is,
   * with a link added that passes its result on unchanged; a Promise gives a new Promise of the same outcome.
   */
  track<T>(label: string, work: Deferred<T>): Deferred<T>;
  track<T>(label: string, work: PromiseLike<T>): Promise<T>;
  track<T>(label: string, work: Deferred<T> | PromiseLike<T>): Deferred<T> | Promise<T> {
    if (
      work === null ||
      (typeof work !== 'object' && typeof work !== 'function') ||
      typeof (work as PromiseLike<T>).then !== 'function'
    ) {
      throw new TypeError('Expected `work` to be a Deferred or a Promise');
    }
    const id = this.start(label);
    if (work instanceof Deferred) {
      return work.addCallbacks(
        (value: T) => {
          this.end(id, true);
          return value;
        },
        (failure) => {
          this.end(id, false);
          return failure;
        },
      ) as unknown as Deferred<T>;
    }
    return Promise.resolve(work).then(
      (value) => {
        this.end(id, true);
        return value;
      },
      (error: unknown) => {
        this.end(id, false);
        throw error;
      },
    );
  }

  /** The largest number of jobs that were running at the same moment (a job ending at t does not overlap one starting at t). */
  get peakConcurrency(): number {
    const last = this.#lastTime();
    const events: [number, number][] = [];
    for (const b of this.#bars) {
      events.push([b.start, 1], [b.end ?? last, -1]);
    }
    // Ends before starts at the same time.
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let running = 0;
    let peak = 0;
    for (const [, delta] of events) {
      running += delta;
      if (running > peak) peak = running;
    }
    return peak;
  }

  #lastTime(): number {
    let last = Number.NEGATIVE_INFINITY;
    for (const b of this.#bars) last = Math.max(last, b.start, b.end ?? b.start);
    return last;
  }

  /** Rows for the bars: each bar goes on the first row that is free when it starts. */
  #pack(last: number): number[] {
    const order = this.#bars
      .map((b) => b.id)
      .sort((a, b) => this.#bars[a].start - this.#bars[b].start || a - b);
    const rowEnds: number[] = [];
    const rows: number[] = new Array(this.#bars.length);
    for (const id of order) {
      const b = this.#bars[id];
      let row = rowEnds.findIndex((end) => end <= b.start);
      if (row === -1) row = rowEnds.length;
      rowEnds[row] = b.end ?? last;
      rows[id] = row;
    }
    return rows;
  }

  /**
   * Draws the recorded jobs as an SVG document (a string starting with `<svg`). Running jobs are drawn up to the
   * latest recorded time, in grey.
   */
  toSVG(options: TimelineSVGOptions = {}): string {
    if (options === null || typeof options !== 'object')
      throw new TypeError('Expected `options` to be an object');
    const { width = 720, title, lanes = 'packed' } = options;
    if (typeof width !== 'number' || !Number.isFinite(width) || width < 100) {
      throw new RangeError(`Expected \`width\` to be a number >= 100, got ${String(width)}`);
    }
    if (title !== undefined && typeof title !== 'string')
      throw new TypeError('Expected `title` to be a string');
    if (lanes !== 'packed' && lanes !== 'rows') {
      throw new TypeError(`Expected \`lanes\` to be 'packed' or 'rows', got ${String(lanes)}`);
    }
    const bars = this.#bars;
    const top = title === undefined ? 8 : 30;
    const origin = bars.length === 0 ? 0 : Math.min(...bars.map((b) => b.start));
    const last = bars.length === 0 ? 0 : this.#lastTime();
    const span = Math.max(last - origin, 1e-9);
    const rows = lanes === 'packed' ? this.#pack(last) : bars.map((b) => b.id);
    const rowCount = bars.length === 0 ? 0 : Math.max(...rows) + 1;
    const plotWidth = width - LEFT - RIGHT;
    const x = (t: number) => LEFT + ((t - origin) / span) * plotWidth;
    const plotBottom = top + rowCount * (ROW + GAP);
    const height = plotBottom + AXIS;

    const out: string[] = [];
    out.push(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" font-family="sans-serif" font-size="11">`,
    );
    out.push(`<rect x="0" y="0" width="${n(width)}" height="${n(height)}" fill="#ffffff"/>`);
    if (title !== undefined) {
      out.push(
        `<text x="${LEFT}" y="19" font-size="14" font-weight="bold" fill="#222222">${escapeXml(title)}</text>`,
      );
    }

    // Time axis: a line, and ticks at round numbers of milliseconds from the first start.
    const step = tickStep(span, Math.max(2, Math.floor(plotWidth / 90)));
    out.push(
      `<line x1="${LEFT}" y1="${n(plotBottom)}" x2="${n(LEFT + plotWidth)}" y2="${n(plotBottom)}" stroke="#555555"/>`,
    );
    for (let i = 0; i * step <= span + step * 1e-9; i++) {
      const t = i * step;
      const tx = x(origin + t);
      out.push(
        `<line x1="${n(tx)}" y1="${n(top)}" x2="${n(tx)}" y2="${n(plotBottom + 4)}" stroke="#dddddd"/>`,
      );
      const anchor = i === 0 ? 'start' : tx > LEFT + plotWidth - 20 ? 'end' : 'middle';
      out.push(
        `<text x="${n(tx)}" y="${n(plotBottom + 16)}" text-anchor="${anchor}" fill="#555555">${escapeXml(formatMs(t, step))}</text>`,
      );
    }

    for (const b of bars) {
      const end = b.end ?? last;
      const bx = x(b.start);
      const bw = Math.max(x(end) - bx, 1);
      const by = top + rows[b.id] * (ROW + GAP);
      const fill = b.ok === undefined ? RUNNING_FILL : b.ok ? OK_FILL : FAIL_FILL;
      const state = b.ok === undefined ? 'running' : b.ok ? 'ok' : 'failed';
      const tip = `${b.label}: ${formatMs(b.start - origin, 0.1)} to ${formatMs(end - origin, 0.1)} (${formatMs(end - b.start, 0.1)}), ${state}`;
      out.push(
        `<g><title>${escapeXml(tip)}</title><rect x="${n(bx)}" y="${n(by)}" width="${n(bw)}" height="${ROW}" rx="2" fill="${fill}"/>`,
      );
      // A nested <svg> clips the label to its bar without needing a clipPath reference.
      out.push(
        `<svg x="${n(bx)}" y="${n(by)}" width="${n(bw)}" height="${ROW}"><text x="3" y="${ROW - 5}" fill="#ffffff">${escapeXml(b.label)}</text></svg></g>`,
      );
    }
    out.push('</svg>');
    return out.join('\n');
  }
}
