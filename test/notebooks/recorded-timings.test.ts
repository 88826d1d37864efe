// The walkthrough's recorded timings are what its code does on a quiet machine. Every chart of notebooks 01-11 is held
// to the demo sites' latency model: each bar (a request, from its start to its end) lasts its page's delay, and at
// most SLACK_MS more; a job that waited for a token shows that wait as the faint part of its bar, and the whole batch
// ends within the slack of what the model's schedule gives. Every timing printed next to a chart is held to the
// chart, and notebook 9's rate to a plain Node run of the same recipe on this machine (at least RATE_SHARE of it). A
// record made while the machine was saturated (bars ten times their page's delay, 419 requests/s against 2,300) fails
// here, and so does a timing cell nobody checks: cells tagged nbval-ignore-output skip the output comparison, so each
// must have its check below.
//
// Only the reference rate is measured by this test; the rest reads the recorded notebooks. The reference can only
// flake one way: a loaded CI machine makes it slower, which makes the check easier, not harder. It fails when the
// record is slower than half of what this machine does now: a record made under load, or a CI machine more than
// twice as fast as the one that recorded.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startDemoSite } from 'async-batching/demo';
import { describe, expect, it } from 'vitest';
import { cellTags, joinText, type Notebook, parseNotebook } from '../../tools/nbformat/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const folder = join(root, 'notebooks');
/** How much longer than its page's delay a recorded request may take, in ms (quiet machine: 1-15 ms). */
const SLACK_MS = 40;
/**
 * Notebook 9 runs fifty requests at once on a 2-20 ms site; its bars carry the event loop's queueing as well, and one
 * major garbage collection in the kernel (which also hosts the demo site) stalls all fifty at once: bars of 65-98 ms
 * in 3 of 5 recordings on a quiet machine (load average < 1.5). A record made under load still fails here (bars of
 * 161 ms on average in the one committed before this test) and in the rate check below.
 */
const SLACK_AT_SCALE_MS = 100;
/** The recorded requests/s must be at least this share of a plain Node run of the same recipe here. */
const RATE_SHARE = 0.5;

interface Bar {
  label: string;
  /** From the chart's origin (the first job's creation), in ms. */
  queued: number;
  start: number;
  end: number;
  ok: boolean;
}

interface Cell {
  index: number;
  source: string;
  tags: Set<string>;
  text: string;
  charts: Bar[][];
}

const unescapeXml = (s: string) =>
  s.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));

/** The bars of a chart drawn by Timeline.toSVG, read from the tooltips it gives every bar. */
function barsOf(svg: string): Bar[] {
  const tip =
    /<g><title>(.*?): ([\d.]+) ms to ([\d.]+) ms \(([\d.]+) ms\)(?:, waited ([\d.]+) ms)?, (ok|failed)<\/title>/g;
  return [...svg.matchAll(tip)].map((m) => {
    const start = Number(m[2]);
    return {
      label: unescapeXml(m[1]),
      queued: start - Number(m[5] ?? 0),
      start,
      end: Number(m[3]),
      ok: m[6] === 'ok',
    };
  });
}

function cellsOf(notebook: Notebook): Cell[] {
  return notebook.cells.map((cell, index) => {
    const texts: string[] = [];
    const charts: Bar[][] = [];
    for (const output of cell.cell_type === 'code' ? cell.outputs : []) {
      if (output.output_type === 'stream') texts.push(joinText(output.text));
      else if (output.output_type === 'display_data' || output.output_type === 'execute_result') {
        const svg = output.data['image/svg+xml'];
        if (svg !== undefined) charts.push(barsOf(joinText(svg)));
        else if (output.data['text/plain'] !== undefined) texts.push(joinText(output.data['text/plain']));
      }
    }
    return { index, source: joinText(cell.source), tags: cellTags(cell), text: texts.join(''), charts };
  });
}

function load(name: string): Cell[] {
  return cellsOf(parseNotebook(readFileSync(join(folder, name), 'utf8'), name));
}

/** The one cell of `cells` whose source contains `needle`. */
function cellWith(cells: Cell[], needle: string): Cell {
  const found = cells.filter((c) => c.source.includes(needle));
  if (found.length !== 1)
    throw new Error(`expected one cell containing ${JSON.stringify(needle)}, found ${found.length}`);
  return found[0];
}

/** A number printed in `text` by `pattern`'s first group. */
function printed(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  if (m === null) throw new Error(`${pattern} not found in the recorded output:\n${text}`);
  return Number(m[1].replace(/,/g, ''));
}

/** The demo site's delay for each path, for the latency range a notebook's setup cell gives. */
async function latencyModel(cells: Cell[]): Promise<(path: string) => number> {
  const setup = cellWith(cells, 'startDemoSite(');
  const m = /startDemoSite\(\{ latency: \{ min: (\d+), max: (\d+) \} \}\)/.exec(setup.source);
  if (m === null) throw new Error(`no latency range in the setup cell:\n${setup.source}`);
  const site = await startDemoSite({ latency: { min: Number(m[1]), max: Number(m[2]) } });
  await site.close();
  return (path) => site.latencyOf(path);
}

/** The bars that last longer than their delay plus `slack`, or less than the delay (less than 1 ms of rounding). */
function offModel(bars: Bar[], delayOf: (label: string) => number, slack: number): string[] {
  return bars
    .filter((b) => {
      const run = b.end - b.start;
      const delay = delayOf(b.label);
      return run < delay - 1 || run > delay + slack;
    })
    .map((b) => `${b.label}: ${(b.end - b.start).toFixed(1)} ms, its page waits ${delayOf(b.label)} ms`);
}

/** When `n` slots take jobs in order, each as soon as a slot is free, and each lasts its delay: the last end. */
function modelMakespan(delays: number[], n: number): number {
  const free = Array.from({ length: n }, () => 0);
  for (const delay of delays) {
    const slot = free.indexOf(Math.min(...free));
    free[slot] += delay;
  }
  return Math.max(...free);
}

/** The most bars running at one instant (a bar ending at t does not overlap one starting at t). */
function peak(bars: Bar[]): number {
  const events = bars.flatMap((b): [number, number][] => [
    [b.start, 1],
    [b.end, -1],
  ]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let most = 0;
  for (const [, delta] of events) {
    running += delta;
    most = Math.max(most, running);
  }
  return most;
}

/**
 * Notebooks 7 and 8: ten requests, two at a time, on the 20-120 ms site. Each bar within the slack of its page's
 * delay; never more than two at once; the batch over within the model's schedule plus the slack per request in a row;
 * the printed "N ms in all" is the chart's span.
 */
async function checkTwoAtATime(name: string, needle: string) {
  const cells = load(name);
  const delayOf = await latencyModel(cells);
  const cell = cellWith(cells, needle);
  expect(cell.charts, `${name}: one chart`).toHaveLength(1);
  const bars = cell.charts[0];
  expect(bars, `${name}: ten bars`).toHaveLength(10);
  expect(offModel(bars, delayOf, SLACK_MS), `${name}: bars against the latency model`).toEqual([]);
  expect(peak(bars), `${name}: at most two at once`).toBeLessThanOrEqual(2);
  const span = Math.max(...bars.map((b) => b.end)) - Math.min(...bars.map((b) => b.queued));
  const model = modelMakespan(
    bars.map((b) => delayOf(b.label)),
    2,
  );
  expect(span, `${name}: the batch against the model's ${model} ms`).toBeLessThanOrEqual(
    model + SLACK_MS * 5,
  );
  expect(span).toBeGreaterThanOrEqual(model - 1);
  const total = printed(cell.text, /at most 2 running, (\d+) ms in all/);
  expect(Math.abs(total - span), `${name}: the printed total is the chart's`).toBeLessThanOrEqual(1);
  return bars;
}

const walkthrough = readdirSync(folder)
  .filter((file) => /^(0[1-9]|1[01])-.*\.ipynb$/.test(file))
  .sort();

/** Each timing cell of 01-11 and the check that holds it: notebook, a piece of the cell's source. */
const CHECKED: [string, string][] = [
  ['07-deferred-semaphore.ipynb', "title: 'DeferredSemaphore(2): 10 requests'"],
  ['08-cooperator.ipynb', "const title = 'Cooperator, 2 tasks on one generator"],
  ['09-at-scale.ipynb', 'requests/s'],
  ['10-polite-crawling.ipynb', 'fastHostsDone(naiveTimeline)'],
  ['11-batch-window.ipynb', 'async function trickle('],
];

describe('the recorded timings of the walkthrough', () => {
  it('leave no timing cell unchecked: every cell whose output is not compared has a check here', () => {
    const ignored = walkthrough.flatMap((name) =>
      load(name)
        .filter((c) => c.tags.has('nbval-ignore-output'))
        .map((c) => `${name} cell ${c.index + 1}`),
    );
    const checked = CHECKED.map(([name, needle]) => `${name} cell ${cellWith(load(name), needle).index + 1}`);
    expect(ignored.sort()).toEqual(checked.sort());
  });

  it("07: each semaphore job's request lasts its page's delay; the batch ends when the model says", async () => {
    await checkTwoAtATime('07-deferred-semaphore.ipynb', "title: 'DeferredSemaphore(2): 10 requests'");
  });

  it("08: each Cooperator request lasts its page's delay, and none waits", async () => {
    const bars = await checkTwoAtATime(
      '08-cooperator.ipynb',
      "const title = 'Cooperator, 2 tasks on one generator",
    );
    expect(bars.filter((b) => b.start - b.queued > 0.05).map((b) => b.label)).toEqual([]);
  });

  it("09: each of the first 300 requests lasts its page's delay, fifty at a time", async () => {
    const cells = load('09-at-scale.ipynb');
    const delayOf = await latencyModel(cells);
    const cell = cellWith(cells, 'requests/s');
    expect(cell.charts).toHaveLength(1);
    const bars = cell.charts[0];
    expect(bars).toHaveLength(300);
    expect(offModel(bars, delayOf, SLACK_AT_SCALE_MS)).toEqual([]);
    expect(peak(bars)).toBeLessThanOrEqual(50);
  });

  it(`09: the recorded rate is at least ${RATE_SHARE}x a plain Node run of the same recipe here`, async () => {
    const recorded = printed(
      cellWith(load('09-at-scale.ipynb'), 'requests/s').text,
      /: ([\d,]+) requests\/s/,
    );
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(root, 'test/helpers/at-scale-rate.ts')],
      {
        cwd: root,
        timeout: 120_000,
      },
    );
    const { rate } = JSON.parse(stdout) as { rate: number };
    expect(
      recorded,
      `recorded ${recorded} requests/s, a plain run here ${Math.round(rate)}`,
    ).toBeGreaterThanOrEqual(RATE_SHARE * rate);
  }, 150_000);

  it("10: each host's requests last that host's delay, and the printed times are the charts'", () => {
    const cells = load('10-polite-crawling.ipynb');
    const setup = cellWith(cells, 'startPoliteSite(');
    const m = /latency: i === 0 \? (\d+) : (\d+)/.exec(setup.source);
    expect(m, 'the hosts of the setup cell').not.toBeNull();
    const [slow, fast] = [Number(m?.[1]), Number(m?.[2])];
    const delayOf = (host: string) => (host === 'host-00' ? slow : fast);
    const cell = cellWith(cells, 'fastHostsDone(naiveTimeline)');
    expect(cell.charts).toHaveLength(2);
    const [naive, keyed] = cell.charts;
    for (const bars of [naive, keyed]) {
      expect(bars).toHaveLength(300);
      expect(offModel(bars, delayOf, SLACK_MS)).toEqual([]);
      expect(peak(bars)).toBeLessThanOrEqual(8);
    }
    const fastDone = (bars: Bar[]) =>
      Math.max(...bars.filter((b) => b.label !== 'host-00').map((b) => b.end)) -
      Math.min(...bars.map((b) => b.start));
    const m2 = /done after (\d+) ms\s+with the naive pool,\s+(\d+) ms with keyedParallel/.exec(cell.text);
    expect(m2, cell.text).not.toBeNull();
    expect(Math.abs(Number(m2?.[1]) - fastDone(naive))).toBeLessThanOrEqual(1);
    expect(Math.abs(Number(m2?.[2]) - fastDone(keyed))).toBeLessThanOrEqual(1);
    // 285 fast requests over eight slots cannot end before this, whatever the slow host does.
    expect(fastDone(keyed)).toBeGreaterThanOrEqual(Math.floor(285 / 8) * fast - 1);
  });

  it("11: a lone load waits for its bulk call's delay; a patient one at most maxWait more; printed waits are the charts'", () => {
    const cells = load('11-batch-window.ipynb');
    const setup = cellWith(cells, 'startPoliteSite(');
    const bulk = printed(setup.source, /bulkLatency: (\d+)/);
    const cell = cellWith(cells, 'async function trickle(');
    const maxWait = printed(cell.source, /minSize: 5, maxWait: (\d+) \}/);
    expect(cell.charts).toHaveLength(2);
    const [eager, patient] = cell.charts;
    const waits = (bars: Bar[]) => bars.map((b) => b.end - b.start);
    expect(eager).toHaveLength(10);
    expect(waits(eager).filter((w) => w < bulk - 1 || w > bulk + SLACK_MS)).toEqual([]);
    expect(patient).toHaveLength(10);
    expect(waits(patient).filter((w) => w < bulk - 1 || w > maxWait + bulk + SLACK_MS)).toEqual([]);
    const lines = [...cell.text.matchAll(/waits ([\d, ]+) ms/g)].map((m) => m[1].split(', ').map(Number));
    // The chart keeps a tenth of a millisecond, the printed line whole ones: they agree to within one.
    const charted = [eager, patient].map(waits);
    expect(lines.map((line) => line.length)).toEqual([10, 10]);
    const apart = lines.flatMap((line, i) => line.filter((w, j) => Math.abs(w - charted[i][j]) > 1));
    expect(apart).toEqual([]);
  });
});
