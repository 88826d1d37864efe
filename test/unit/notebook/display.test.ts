// The notebook display helper: the running kernel's channel when there is one, console.log otherwise.
import { display, newDisplay, svgAlt } from 'async-batching/notebook';
import { afterEach, describe, expect, it, vi } from 'vitest';

type Host = { __tslab__?: { require: (id: string) => unknown } };

/** A stand-in for tslab's public module, recording what reaches each display (id 0 is tslab's `display`). */
function fakeTslab() {
  const shown: [number, string, string][] = [];
  let next = 0;
  const make = () => {
    const id = next++;
    const show = (mime: string) => (value: string) => shown.push([id, mime, value]);
    return { html: show('html'), svg: show('svg'), markdown: show('markdown'), text: show('text') };
  };
  const module = { display: make(), newDisplay: make };
  const required: string[] = [];
  const host = {
    require: (id: string) => {
      required.push(id);
      return id === 'tslab' ? module : undefined;
    },
  };
  return { host, shown, required };
}

type DenoHost = { Deno?: { jupyter: { display: (b: Record<string, string>, o?: object) => Promise<void> } } };

afterEach(() => {
  delete (globalThis as Host).__tslab__;
  delete (globalThis as DenoHost).Deno;
  vi.restoreAllMocks();
});

describe('display outside a kernel', () => {
  it('prints each output with console.log', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    display.svg('<svg></svg>');
    display.html('<b>hi</b>');
    display.markdown('# Title');
    display.text('plain');
    expect(log.mock.calls).toEqual([['<svg></svg>'], ['<b>hi</b>'], ['# Title'], ['plain']]);
  });

  it('prints every update of a newDisplay() on a line of its own', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const progress = newDisplay();
    progress.text('1 / 3');
    progress.text('2 / 3');
    expect(log.mock.calls).toEqual([['1 / 3'], ['2 / 3']]);
  });

  it('rejects output that is not a string, naming the argument and what came', () => {
    expect(() => display.svg(5 as unknown as string)).toThrow(/`markup` to be a string, got number/);
    expect(() => newDisplay().text(null as unknown as string)).toThrow(/`text` to be a string, got null/);
  });
});

describe('display inside tslab', () => {
  it("writes through the running kernel's own tslab module, not console.log", () => {
    const tslab = fakeTslab();
    (globalThis as Host).__tslab__ = tslab.host;
    const log = vi.spyOn(console, 'log');
    display.svg('<svg></svg>');
    display.markdown('*x*');
    expect(tslab.required).toContain('tslab');
    expect(tslab.shown).toEqual([
      [0, 'svg', '<svg></svg>'],
      [0, 'markdown', '*x*'],
    ]);
    expect(log).not.toHaveBeenCalled();
  });

  it('gives each newDisplay() its own tslab display, so updates replace one output', () => {
    const tslab = fakeTslab();
    (globalThis as Host).__tslab__ = tslab.host;
    const a = newDisplay();
    const b = newDisplay();
    a.text('a1');
    b.text('b1');
    a.text('a2');
    expect(tslab.shown).toEqual([
      [1, 'text', 'a1'],
      [2, 'text', 'b1'],
      [1, 'text', 'a2'],
    ]);
  });

  it("sends an SVG with its text fallback in one bundle through the kernel's own sender", () => {
    const tslab = fakeTslab();
    const sent: [unknown, boolean][] = [];
    const jupyter = {
      lastWriteDisplayData: (output: unknown, update: boolean) => sent.push([output, update]),
    };
    const module = tslab.host.require('tslab');
    const dist = '/repo/node_modules/tslab/dist';
    // The module cache as Node keeps it: the running tslab's public module, its jupyter module beside it.
    const require = Object.assign((id: string) => tslab.host.require(id), {
      cache: {
        [`${dist}/public.js`]: { filename: `${dist}/public.js`, exports: module },
        [`${dist}/jupyter.js`]: { filename: `${dist}/jupyter.js`, exports: jupyter },
      },
    });
    (globalThis as Host).__tslab__ = { require };
    const svg = '<svg role="img" aria-label="Two at a time. Timeline of 2 jobs"><title>ignored</title></svg>';
    display.svg(svg);
    const progress = newDisplay();
    progress.svg('<svg><title>A &amp; B</title></svg>', 'chart of A and B');
    // A later cell has a sender of its own; an update goes through that one.
    const later: unknown[] = [];
    jupyter.lastWriteDisplayData = (output: unknown) => later.push(output);
    progress.text('done');
    expect(sent).toEqual([
      [
        {
          data: { 'image/svg+xml': svg, 'text/plain': 'Two at a time. Timeline of 2 jobs' },
          metadata: {},
          transient: {},
        },
        false,
      ],
      [
        {
          data: { 'image/svg+xml': '<svg><title>A &amp; B</title></svg>', 'text/plain': 'chart of A and B' },
          metadata: {},
          transient: { display_id: expect.stringMatching(/^async-batching-/) },
        },
        false,
      ],
    ]);
    expect(later).toEqual([
      {
        data: { 'text/plain': 'done' },
        metadata: {},
        transient: (sent[1][0] as { transient: object }).transient,
      },
    ]);
    expect(tslab.shown).toEqual([]);
  });

  it('falls back to console.log when the kernel host does not provide tslab', () => {
    (globalThis as Host).__tslab__ = { require: () => undefined };
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    display.html('<i>x</i>');
    expect(log.mock.calls).toEqual([['<i>x</i>']]);
  });
});

describe('the text fallback of an SVG', () => {
  it("is the SVG's aria-label, else its first <title>, with XML entities read", () => {
    expect(svgAlt('<svg aria-label="a &lt; b &amp; c &#x2014; d"><title>t</title></svg>')).toBe(
      'a < b & c \u2014 d',
    );
    expect(
      svgAlt('<svg viewBox="0 0 1 1"><title> Bars &quot;1&quot; </title><g><title>x</title></g></svg>'),
    ).toBe('Bars "1"');
    expect(svgAlt('<svg></svg>')).toBe('An SVG image');
  });

  it('is checked like the markup', () => {
    expect(() => display.svg('<svg></svg>', 5 as unknown as string)).toThrow(
      /`alt` to be a string, got number/,
    );
  });
});

describe("display inside Deno's kernel", () => {
  function fakeDeno() {
    const sent: [Record<string, string>, object | undefined][] = [];
    (globalThis as DenoHost).Deno = {
      jupyter: {
        display: async (bundle, options) => {
          sent.push([bundle, options]);
        },
      },
    };
    return sent;
  }

  it('sends a raw MIME bundle through Deno.jupyter.display, not console.log', () => {
    const sent = fakeDeno();
    const log = vi.spyOn(console, 'log');
    display.svg('<svg></svg>');
    display.html('<b>x</b>');
    expect(sent).toEqual([
      [{ 'image/svg+xml': '<svg></svg>', 'text/plain': 'An SVG image' }, { raw: true }],
      [{ 'text/html': '<b>x</b>' }, { raw: true }],
    ]);
    expect(log).not.toHaveBeenCalled();
  });

  it('gives each newDisplay() its own display_id, and replaces that output on every later call', () => {
    const sent = fakeDeno();
    const a = newDisplay();
    const b = newDisplay();
    a.text('a1');
    b.text('b1');
    a.text('a2');
    const [[, first], [, other], [, update]] = sent as [unknown, { display_id: string; update: boolean }][];
    expect(first.update).toBe(false);
    expect(update).toEqual({ raw: true, display_id: first.display_id, update: true });
    expect(other.display_id).not.toBe(first.display_id);
    expect(sent[2][0]).toEqual({ 'text/plain': 'a2' });
  });

  it('prints with console.log under `deno run`, where reading Deno.jupyter throws', () => {
    Object.defineProperty(globalThis, 'Deno', {
      configurable: true,
      get: () => ({
        get jupyter(): never {
          throw new TypeError('Deno.jupyter is only available in `deno jupyter` subcommand');
        },
      }),
    });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    display.svg('<svg></svg>');
    newDisplay().text('1 / 3');
    expect(log.mock.calls).toEqual([['<svg></svg>'], ['1 / 3']]);
  });

  it('prefers tslab when both are present (tslab is the kernel whose outputs are recorded)', () => {
    const sent = fakeDeno();
    const tslab = fakeTslab();
    (globalThis as Host).__tslab__ = tslab.host;
    display.text('t');
    expect(tslab.shown).toEqual([[0, 'text', 't']]);
    expect(sent).toEqual([]);
  });
});
