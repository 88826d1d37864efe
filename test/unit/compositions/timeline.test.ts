import { Deferred, Timeline } from 'async-batching';
import { describe, expect, it } from 'vitest';

/** A clock the test moves by hand: only its `now()` is read. */
function manualClock(start = 100) {
  const clock = { now: start, read: { now: () => clock.now, setTimeout: () => 0, clearTimeout: () => {} } };
  return clock;
}

function recorded() {
  const clock = manualClock();
  const timeline = new Timeline({ clock: clock.read });
  const a = timeline.start('a');
  clock.now = 110;
  const b = timeline.start('b');
  clock.now = 120;
  timeline.end(a);
  const c = timeline.start('c <&>');
  clock.now = 150;
  timeline.end(b, false);
  timeline.end(c);
  return timeline;
}

describe('Timeline', () => {
  it('records start and end times from its clock', () => {
    const timeline = recorded();
    expect(timeline.bars.map((b) => [b.label, b.start, b.end, b.ok])).toEqual([
      ['a', 100, 120, true],
      ['b', 110, 150, false],
      ['c <&>', 120, 150, true],
    ]);
  });

  it('counts the peak number of overlapping jobs, a job ending as another starts not overlapping', () => {
    expect(recorded().peakConcurrency).toBe(2);
    expect(new Timeline().peakConcurrency).toBe(0);
  });

  it('tracks a Deferred, passing its result on and marking failures', () => {
    const clock = manualClock(0);
    const timeline = new Timeline({ clock: clock.read });
    const ok = new Deferred<number>();
    const bad = new Deferred<number>();
    const seen: unknown[] = [];
    expect(timeline.track('ok', ok)).toBe(ok);
    timeline.track('bad', bad).addErrback((f) => seen.push(f.getErrorMessage()));
    clock.now = 5;
    ok.callback(42);
    bad.errback(new Error('nope'));
    ok.addCallback((v) => seen.push(v));
    expect(seen).toEqual(['nope', 42]);
    expect(timeline.bars.map((b) => [b.end, b.ok])).toEqual([
      [5, true],
      [5, false],
    ]);
  });

  it('tracks a Promise, giving a Promise of the same outcome', async () => {
    const clock = manualClock(0);
    const timeline = new Timeline({ clock: clock.read });
    await expect(timeline.track('ok', Promise.resolve('v'))).resolves.toBe('v');
    const err = new Error('x');
    await expect(timeline.track('bad', Promise.reject(err))).rejects.toBe(err);
    expect(timeline.bars.map((b) => b.ok)).toEqual([true, false]);
  });

  it('rejects unknown ids, double ends and bad arguments', () => {
    const timeline = new Timeline({ clock: manualClock(0).read });
    const id = timeline.start('x');
    timeline.end(id);
    expect(() => timeline.end(id)).toThrow(RangeError);
    expect(() => timeline.end(99)).toThrow(/`id`/);
    expect(() => timeline.start(5 as unknown as string)).toThrow(/`label`/);
    expect(() => timeline.track('x', 5 as unknown as Promise<void>)).toThrow(/`work`/);
    expect(() => new Timeline({ clock: (() => 1) as never })).toThrow(/`options.clock`/);
    expect(() => timeline.toSVG({ width: 10 })).toThrow(/`width`/);
  });

  it('draws one bar per job with a tooltip, failed jobs in another colour', () => {
    const svg = recorded().toSVG({ title: 'Three jobs' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    // One title for the chart, one tooltip per bar.
    expect(svg.match(/<title>/g)).toHaveLength(4);
    expect(svg).toContain('Three jobs');
    const fills = [...svg.matchAll(/rx="2" fill="(#[0-9a-f]+)"/g)].map((m) => m[1]);
    expect(fills).toHaveLength(3);
    expect(new Set(fills).size).toBe(2);
    expect(fills[0]).toBe(fills[2]);
    expect(svg).toContain('<title>b: 10 ms to 50 ms (40 ms), failed</title>');
  });

  it('escapes labels and uses no script, foreignObject or external references', () => {
    const svg = recorded().toSVG();
    expect(svg).toContain('c &#60;&#38;&#62;');
    expect(svg).not.toContain('c <&>');
    expect(svg).not.toMatch(/<script|foreignObject|href=|url\(/);
  });

  it('draws a time axis with ticks in milliseconds', () => {
    const svg = recorded().toSVG();
    expect(svg).toContain('>0 ms</text>');
    expect(svg).toContain('>50 ms</text>');
  });

  it('packs bars into as many rows as the peak concurrency, or one row per job', () => {
    const timeline = recorded();
    const rowsOf = (svg: string) =>
      new Set([...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)"/g)].map((m) => m[1]));
    expect(rowsOf(timeline.toSVG()).size).toBe(timeline.peakConcurrency);
    expect(rowsOf(timeline.toSVG({ lanes: 'rows' })).size).toBe(3);
  });

  it('gives the same SVG for the same recorded times', () => {
    expect(recorded().toSVG({ width: 500 })).toBe(recorded().toSVG({ width: 500 }));
  });

  it('draws jobs still running up to the latest recorded time', () => {
    const clock = manualClock(0);
    const timeline = new Timeline({ clock: clock.read });
    timeline.start('long');
    clock.now = 10;
    timeline.end(timeline.start('short'));
    const svg = timeline.toSVG();
    expect(svg).toContain('long: 0 ms to 10 ms (10 ms), running');
  });

  it('draws the wait from creation to start as a faint segment before the bar, and says so in the tooltip', () => {
    const clock = manualClock(0);
    const timeline = new Timeline({ clock: clock.read });
    const queued = timeline.now();
    clock.now = 10;
    const late = timeline.start('late', { queued });
    clock.now = 20;
    timeline.end(late);
    const prompt = timeline.start('prompt');
    clock.now = 40;
    timeline.end(prompt);
    expect(timeline.bars.map((b) => [b.label, b.queued, b.start])).toEqual([
      ['late', 0, 10],
      ['prompt', 20, 20],
    ]);
    const svg = timeline.toSVG({ width: 400, lanes: 'rows' });
    // The axis starts at the first creation: x = 12 + t * (376 / 40).
    expect(svg).toContain('<rect x="12" y="8" width="94" height="18" fill="#4e79a7" fill-opacity="0.3"/>');
    expect(svg.match(/fill-opacity="0.3"/g)).toHaveLength(2); // the late job's wait, and the key
    expect(svg).toContain('late: 10 ms to 20 ms (10 ms), waited 10 ms, ok');
    expect(svg).toMatch(/>waiting<\/text>/);
  });

  it('packs rows by creation, so jobs created together take a row each however long they wait', () => {
    const clock = manualClock(0);
    const timeline = new Timeline({ clock: clock.read });
    const queued = timeline.now();
    for (let i = 0; i < 4; i++) {
      clock.now = i * 10;
      const id = timeline.start(`job ${i}`, { queued });
      clock.now = i * 10 + 10;
      timeline.end(id);
    }
    expect(timeline.peakConcurrency).toBe(1);
    const ys = new Set(
      [...timeline.toSVG().matchAll(/<rect x="[\d.]+" y="([\d.]+)"[^>]*rx="2"/g)].map((m) => m[1]),
    );
    expect(ys.size).toBe(4);
  });

  it('refuses a creation time after the start, naming the option', () => {
    const timeline = new Timeline({ clock: manualClock(5).read });
    expect(() => timeline.start('x', { queued: 6 })).toThrow(/`options.queued`.*got 6/);
    expect(() => timeline.start('x', { queued: Number.NaN })).toThrow(RangeError);
  });

  it('totals the time from the first creation to the last end', () => {
    const clock = manualClock(0);
    const timeline = new Timeline({ clock: clock.read });
    expect(timeline.totalTime).toBe(0);
    const queued = timeline.now();
    clock.now = 20;
    const a = timeline.start('a', { queued });
    clock.now = 45;
    timeline.end(a);
    expect(timeline.totalTime).toBe(45);
    expect(recorded().totalTime).toBe(50);
  });

  it('is an image with a description (role, aria-label and a first <title>) for screen readers and alt text', () => {
    const svg = recorded().toSVG({ title: 'Three jobs' });
    const label = 'Three jobs. Timeline of 3 jobs, at most 2 running at once, 1 failed';
    expect(svg).toMatch(new RegExp(`^<svg [^>]*role="img" aria-label="${label}"`));
    expect(/<title>([^<]*)<\/title>/.exec(svg)?.[1]).toBe(label);
  });

  it('follows dark mode through a style sheet, keeping light colours as attributes for renderers without CSS', () => {
    const svg = recorded().toSVG();
    expect(svg).toMatch(
      /<style>.*@media \(prefers-color-scheme:dark\)\{.*\.ab-bg\{fill:var\(--ab-chart-background,#1e1e1e\)\}/,
    );
    expect(svg).toContain('<rect class="ab-bg" x="0" y="0" width="720"');
    expect(svg).toContain('fill="#ffffff"/>');
  });
});
