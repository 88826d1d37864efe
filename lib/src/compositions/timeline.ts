import { checkFiniteNumber, checkObject, describe, isThenable } from '../core/args.js';
import { type Clock, checkClock, systemClock } from '../core/clock.js';
import { Deferred } from '../core/deferred.js';

/** One recorded job. Times are in the clock's unit (milliseconds for the default clock). */
export interface TimelineBar {
  /** The job's number, in the order jobs started, from 0 (what `start()` returned). */
  readonly id: number;
  /** The job's label, as given to `start()` or `track()`. */
  readonly label: string;
  /** When the job was created (queued), before it could start; equal to `start` for a job that started at once. */
  readonly queued: number;
  /** When the job started running. */
  readonly start: number;
  /** `undefined` while the job runs. */
  readonly end: number | undefined;
  /** `undefined` while the job runs. */
  readonly ok: boolean | undefined;
}

/** Options of {@link Timeline}. */
export interface TimelineOptions {
  /** Where the times are read (only its `now()`): a {@link ManualClock} to draw a schedule by hand. Default {@link systemClock}. */
  clock?: Clock;
}

/** Options of {@link Timeline.toSVG}. */
export interface TimelineSVGOptions {
  /** Width of the picture in pixels. Default 720. */
  width?: number;
  /** A heading drawn above the chart. */
  title?: string;
  /**
   * `'packed'` (default): bars share rows, each job placed from its creation on the first free row, so the number of
   * rows is the most jobs that existed at once (created and not yet finished). `'rows'`: one row per job.
   */
  lanes?: 'packed' | 'rows';
}

/** Options of {@link Timeline.start} and {@link Timeline.track}. */
export interface TimelineJobOptions {
  /**
   * When the job was created, from {@link Timeline.now}: the chart draws the wait from then until it starts as a faint
   * segment. Default: the start, i.e. no wait.
   */
  queued?: number;
}

interface MutableBar {
  id: number;
  label: string;
  queued: number;
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
const RUNNING_FILL = '#9c9590';
const WAIT_OPACITY = '0.3';

/**
 * Colours by class, so a dark page (`prefers-color-scheme: dark`) gets a dark chart; each element also carries the
 * light colours as attributes, for renderers that drop style sheets. Page CSS can override through the variables.
 */
const STYLE = [
  '.ab-bg{fill:var(--ab-chart-background,#ffffff)}',
  '.ab-fg{fill:var(--ab-chart-text,#222222)}',
  '.ab-muted{fill:var(--ab-chart-muted,#555555)}',
  '.ab-axis{stroke:var(--ab-chart-muted,#555555)}',
  '.ab-grid{stroke:var(--ab-chart-grid,#dddddd)}',
  '@media (prefers-color-scheme:dark){',
  '.ab-bg{fill:var(--ab-chart-background,#1e1e1e)}',
  '.ab-fg{fill:var(--ab-chart-text,#e6e6e6)}',
  '.ab-muted{fill:var(--ab-chart-muted,#b0b0b0)}',
  '.ab-axis{stroke:var(--ab-chart-muted,#b0b0b0)}',
  '.ab-grid{stroke:var(--ab-chart-grid,#3a3a3a)}}',
].join('');

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
 *
 @remarks
 * ```ts
 * import { Timeline } from 'async-batching';
 *
 * const tl = new Timeline();
 * await parallel(urls, 3, (url) => tl.track(url, getPage(url)));
 * tl.peakConcurrency; // 3
 * writeFileSync('timeline.svg', tl.toSVG({ title: 'three at a time' }));
 * ```
 *
 * Records when each job starts and ends (`start(label)`/`end(id, ok)` or `track(label, work)`, which passes the
 * `Deferred` or Promise through) and draws the bars as a self-contained SVG; the notebooks use it to show what a
 * concurrency limit looks like. A job that waited before it could start (in a semaphore's queue, say) passes the time it
 * was created, read earlier with `tl.now()`: `tl.track(label, work, { queued })`. Its bar then shows the wait as a faint
 * segment before the solid run, and rows are packed by creation, so a chart shows how many jobs *existed* at once as
 * well as how many ran. `tl.totalTime` is the time from the first creation to the last end. The SVG is `role="img"` with
 * an `aria-label` and a first `<title>` describing it (the export uses that as alt text), and its colours follow
 * `prefers-color-scheme: dark` (or the `--ab-chart-*` CSS variables) while keeping light colours as attributes for
 * renderers that drop style sheets.
 */
export class Timeline {
  readonly #clock: Clock;
  readonly #bars: MutableBar[] = [];

  constructor(options: TimelineOptions = {}) {
    checkObject(options, 'options');
    this.#clock = options.clock === undefined ? systemClock : checkClock(options.clock, 'options.clock');
  }

  /** The recorded jobs, in the order they started. */
  get bars(): readonly TimelineBar[] {
    return this.#bars;
  }

  /** The current time on this timeline's clock: pass it as `queued` when a job is created, before it starts. */
  now(): number {
    return this.#clock.now();
  }

  /**
   * The time from the first job's creation to the last end (or the latest recorded time while jobs run); 0 with no
   * jobs.
   */
  get totalTime(): number {
    if (this.#bars.length === 0) return 0;
    let first = Number.POSITIVE_INFINITY;
    for (const b of this.#bars) first = Math.min(first, b.queued);
    return this.#lastTime() - first;
  }

  /**
   * Records the start of a job and returns its id, for {@link end}.
   * @throws {RangeError} when `options.queued` is not a number at or before now.
   */
  start(label: string, options: TimelineJobOptions = {}): number {
    if (typeof label !== 'string')
      throw new TypeError(`Expected \`label\` to be a string, got ${describe(label)}`);
    checkObject(options, 'options');
    const start = this.#clock.now();
    const { queued = start } = options;
    if (typeof queued !== 'number' || !(queued <= start)) {
      throw new RangeError(
        `Expected \`options.queued\` to be a time from now() at or before the start (${start}), got ${describe(queued)}`,
      );
    }
    const id = this.#bars.length;
    this.#bars.push({ id, label, queued, start, end: undefined, ok: undefined });
    return id;
  }

  /**
   * Records the end of job `id`; `ok = false` draws it as failed.
   * @throws {RangeError} when `id` is unknown or the job has already ended.
   */
  end(id: number, ok = true): void {
    const bar = Number.isInteger(id) ? this.#bars[id] : undefined;
    if (bar === undefined)
      throw new RangeError(`Expected \`id\` to be an id returned by start(), got ${describe(id)}`);
    if (bar.end !== undefined) throw new RangeError(`Job ${id} (${bar.label}) has already ended`);
    bar.end = this.#clock.now();
    bar.ok = Boolean(ok);
  }

  /**
   * Records a job that starts now and ends when `work` settles (failed if it fails). A Deferred is returned as is,
   * with a link added that passes its result on unchanged; a Promise gives a new Promise of the same outcome.
   * `options.queued` is when the job was created, if it waited before starting.
   */
  track<T>(label: string, work: Deferred<T>, options?: TimelineJobOptions): Deferred<T>;
  track<T>(label: string, work: PromiseLike<T>, options?: TimelineJobOptions): Promise<T>;
  track<T>(
    label: string,
    work: Deferred<T> | PromiseLike<T>,
    options: TimelineJobOptions = {},
  ): Deferred<T> | Promise<T> {
    if (!isThenable(work)) {
      throw new TypeError(`Expected \`work\` to be a Deferred or a Promise, got ${describe(work)}`);
    }
    const id = this.start(label, options);
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

  /**
   * Rows for the bars: each bar goes on the first row that is free when it is created, so a row holds one job from
   * its creation to its end and the number of rows is the most jobs that existed at once.
   */
  #pack(last: number): number[] {
    const order = [...this.#bars].sort((a, b) => a.queued - b.queued || a.id - b.id);
    const rowEnds: number[] = [];
    const rows: number[] = new Array(this.#bars.length);
    for (const b of order) {
      const id = b.id;
      let row = rowEnds.findIndex((end) => end <= b.queued);
      if (row === -1) row = rowEnds.length;
      rowEnds[row] = b.end ?? last;
      rows[id] = row;
    }
    return rows;
  }

  /** What the chart shows, in words: its `<title>` and `aria-label`, and the alt text of an exported image. */
  #describe(title: string | undefined): string {
    const bars = this.#bars;
    const failed = bars.filter((b) => b.ok === false).length;
    const waited = bars.filter((b) => b.start > b.queued).length;
    const parts = [
      `${bars.length} ${bars.length === 1 ? 'job' : 'jobs'}`,
      `at most ${this.peakConcurrency} running at once`,
    ];
    if (waited > 0) parts.push(`${waited} created before they could start`);
    if (failed > 0) parts.push(`${failed} failed`);
    const summary = `Timeline of ${parts.join(', ')}`;
    return title === undefined ? summary : `${title}. ${summary}`;
  }

  /**
   * Draws the recorded jobs as an SVG document (a string starting with `<svg`): per job, a faint segment from its
   * creation to its start (when it waited) and a solid bar while it ran; running jobs are drawn up to the latest
   * recorded time, in grey. The chart is an image for assistive technology (`role="img"`) described by its first
   * `<title>`, and follows the page into dark mode (`prefers-color-scheme`, or the `--ab-chart-*` CSS variables).
   */
  toSVG(options: TimelineSVGOptions = {}): string {
    checkObject(options, 'options');
    const { width = 720, title, lanes = 'packed' } = options;
    if (checkFiniteNumber(width, 'width') < 100) {
      throw new RangeError(`Expected \`width\` to be a number >= 100, got ${describe(width)}`);
    }
    if (title !== undefined && typeof title !== 'string')
      throw new TypeError(`Expected \`title\` to be a string, got ${describe(title)}`);
    if (lanes !== 'packed' && lanes !== 'rows') {
      throw new TypeError(`Expected \`lanes\` to be 'packed' or 'rows', got ${describe(lanes)}`);
    }
    const bars = this.#bars;
    const top = title === undefined ? 8 : 30;
    const origin = bars.length === 0 ? 0 : Math.min(...bars.map((b) => b.queued));
    const last = bars.length === 0 ? 0 : this.#lastTime();
    const span = Math.max(last - origin, 1e-9);
    const rows = lanes === 'packed' ? this.#pack(last) : bars.map((b) => b.id);
    const rowCount = bars.length === 0 ? 0 : Math.max(...rows) + 1;
    const plotWidth = width - LEFT - RIGHT;
    const x = (t: number) => LEFT + ((t - origin) / span) * plotWidth;
    const plotBottom = top + rowCount * (ROW + GAP);
    const height = plotBottom + AXIS;
    const description = escapeXml(this.#describe(title));

    const out: string[] = [];
    out.push(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" font-family="sans-serif" font-size="11" role="img" aria-label="${description}">`,
    );
    // The first <title> names the whole chart (tooltips and exporters read it); the bars' own titles come later.
    out.push(`<title>${description}</title>`);
    out.push(`<style>${STYLE}</style>`);
    out.push(`<rect class="ab-bg" x="0" y="0" width="${n(width)}" height="${n(height)}" fill="#ffffff"/>`);
    if (title !== undefined) {
      out.push(
        `<text class="ab-fg" x="${LEFT}" y="19" font-size="14" font-weight="bold" fill="#222222">${escapeXml(title)}</text>`,
      );
    }
    if (bars.some((b) => b.start > b.queued)) {
      // A key for the two kinds of segment, at the top right.
      const keyX = Math.max(LEFT, width - RIGHT - 150);
      out.push(
        `<rect x="${n(keyX)}" y="10" width="12" height="10" fill="${OK_FILL}" fill-opacity="${WAIT_OPACITY}"/>`,
        `<text class="ab-muted" x="${n(keyX + 16)}" y="19" fill="#555555">waiting</text>`,
        `<rect x="${n(keyX + 70)}" y="10" width="12" height="10" fill="${OK_FILL}"/>`,
        `<text class="ab-muted" x="${n(keyX + 86)}" y="19" fill="#555555">running</text>`,
      );
    }

    // Time axis: a line, and ticks at round numbers of milliseconds from the first creation.
    const step = tickStep(span, Math.max(2, Math.floor(plotWidth / 90)));
    out.push(
      `<line class="ab-axis" x1="${LEFT}" y1="${n(plotBottom)}" x2="${n(LEFT + plotWidth)}" y2="${n(plotBottom)}" stroke="#555555"/>`,
    );
    for (let i = 0; i * step <= span + step * 1e-9; i++) {
      const t = i * step;
      const tx = x(origin + t);
      out.push(
        `<line class="ab-grid" x1="${n(tx)}" y1="${n(top)}" x2="${n(tx)}" y2="${n(plotBottom + 4)}" stroke="#dddddd"/>`,
      );
      const anchor = i === 0 ? 'start' : tx > LEFT + plotWidth - 20 ? 'end' : 'middle';
      out.push(
        `<text class="ab-muted" x="${n(tx)}" y="${n(plotBottom + 16)}" text-anchor="${anchor}" fill="#555555">${escapeXml(formatMs(t, step))}</text>`,
      );
    }

    for (const b of bars) {
      const end = b.end ?? last;
      const bx = x(b.start);
      const bw = Math.max(x(end) - bx, 1);
      const by = top + (rows[b.id] ?? 0) * (ROW + GAP);
      const fill = b.ok === undefined ? RUNNING_FILL : b.ok ? OK_FILL : FAIL_FILL;
      const state = b.ok === undefined ? 'running' : b.ok ? 'ok' : 'failed';
      const wait = b.start > b.queued ? `, waited ${formatMs(b.start - b.queued, 0.1)}` : '';
      const tip = `${b.label}: ${formatMs(b.start - origin, 0.1)} to ${formatMs(end - origin, 0.1)} (${formatMs(end - b.start, 0.1)})${wait}, ${state}`;
      out.push(`<g><title>${escapeXml(tip)}</title>`);
      if (b.start > b.queued) {
        const qx = x(b.queued);
        out.push(
          `<rect x="${n(qx)}" y="${n(by)}" width="${n(bx - qx)}" height="${ROW}" fill="${fill}" fill-opacity="${WAIT_OPACITY}"/>`,
        );
      }
      out.push(`<rect x="${n(bx)}" y="${n(by)}" width="${n(bw)}" height="${ROW}" rx="2" fill="${fill}"/>`);
      // A nested <svg> clips the label to its bar without needing a clipPath reference.
      out.push(
        `<svg x="${n(bx)}" y="${n(by)}" width="${n(bw)}" height="${ROW}"><text x="3" y="${ROW - 5}" fill="#ffffff">${escapeXml(b.label)}</text></svg></g>`,
      );
    }
    out.push('</svg>');
    return out.join('\n');
  }
}
