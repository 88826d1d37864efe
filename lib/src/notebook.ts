/**
 * Rich output for notebooks, whichever kernel runs them. A notebook imports `display` from here instead of from its
 * kernel, so the same cell shows an SVG chart under tslab, and prints the markup when run as a plain script. Every
 * difference between kernels lives in this file: supporting another kernel is one more entry in `CHANNELS`.
 *
 * ```ts
 * import { display, newDisplay } from 'async-batching/notebook';
 * display.svg(timeline.toSVG({ title: 'Two at a time' }));
 * const progress = newDisplay();
 * progress.text('1000 done'); // later calls replace this output instead of adding lines
 * ```
 *
 * @module
 */

/** Shows one piece of rich output. */
export interface Display {
  /** Shows an HTML fragment. */
  html(markup: string): void;
  /** Shows an SVG document (a string starting with `<svg`). */
  svg(markup: string): void;
  /** Shows Markdown text. */
  markdown(text: string): void;
  /** Shows plain text. */
  text(text: string): void;
}

/** The part of tslab's public module (`import * as tslab from 'tslab'`) this helper uses. */
export interface TslabModule {
  /** Shows output in the cell being executed. */
  display: Display;
  /** Makes one output that later calls replace. */
  newDisplay(): Display;
}

/** A kernel's way of showing output: where the notebook's outputs go, and how to make one output that updates. */
interface Channel {
  readonly display: Display;
  newDisplay(): Display;
}

/**
 * tslab runs each cell with a `require` it publishes as `globalThis.__tslab__.require`; that `require('tslab')` is
 * the running kernel's own module, whose display functions write to the cell being executed. (An `import 'tslab'`
 * from this package could find another copy of tslab, one not connected to any kernel.)
 */
function tslabChannel(): Channel | undefined {
  const host = (globalThis as { __tslab__?: { require?: unknown } }).__tslab__;
  if (typeof host?.require !== 'function') return undefined;
  const tslab = (host.require as (id: string) => unknown)('tslab') as Partial<TslabModule> | undefined;
  if (typeof tslab?.newDisplay !== 'function' || typeof tslab.display !== 'object') return undefined;
  return tslab as TslabModule;
}

/** The part of Deno's `Deno.jupyter` namespace this helper uses (Deno 2's built-in Jupyter kernel). */
export interface DenoJupyter {
  /** Shows a MIME bundle (`{ 'text/html': ... }`) in the cell being executed, or updates the output `display_id`. */
  display(
    bundle: Record<string, string>,
    options?: { raw?: boolean; display_id?: string; update?: boolean },
  ): Promise<void> | void;
}

let denoDisplays = 0;

/**
 * Deno's kernel (`deno jupyter`): `Deno.jupyter.display` sends a MIME bundle to the running cell; an output with a
 * `display_id` is replaced in place by a later call with `update: true`. Its calls are asynchronous; a failure is
 * reported, never thrown into the cell's own code.
 */
function denoChannel(): Channel | undefined {
  let jupyter: Partial<DenoJupyter> | undefined;
  try {
    jupyter = (globalThis as { Deno?: { jupyter?: Partial<DenoJupyter> } }).Deno?.jupyter;
  } catch {
    // Outside the kernel (`deno run notebook.ts`) Deno 2.9's `Deno.jupyter` getter throws: a plain script, then.
    return undefined;
  }
  if (typeof jupyter?.display !== 'function') return undefined;
  const send = (bundle: Record<string, string>, options: { display_id?: string; update?: boolean }) => {
    Promise.resolve(jupyter.display?.(bundle, { raw: true, ...options })).catch((e: unknown) => {
      console.error('display failed:', e);
    });
  };
  const make = (id?: string): Display => {
    let shown = false;
    const show = (bundle: Record<string, string>) => {
      if (id === undefined) send(bundle, {});
      else {
        send(bundle, { display_id: id, update: shown });
        shown = true;
      }
    };
    return {
      html: (markup) => show({ 'text/html': markup }),
      svg: (markup) => show({ 'image/svg+xml': markup }),
      markdown: (text) => show({ 'text/markdown': text }),
      text: (text) => show({ 'text/plain': text }),
    };
  };
  return { display: make(), newDisplay: () => make(`async-batching-${process.pid}-${++denoDisplays}`) };
}

/** Outside any kernel: each output is printed, and an updating display prints each new value on its own line. */
function consoleDisplay(): Display {
  const print = (value: string) => console.log(value);
  return { html: print, svg: print, markdown: print, text: print };
}

const CONSOLE: Channel = { display: consoleDisplay(), newDisplay: consoleDisplay };

/** The kernels this helper knows, tried in order. */
const CHANNELS: readonly (() => Channel | undefined)[] = [tslabChannel, denoChannel];

/** The running kernel's channel, looked up on every call (cheap), so a kernel is found however this was loaded. */
function channel(): Channel {
  for (const find of CHANNELS) {
    const found = find();
    if (found !== undefined) return found;
  }
  return CONSOLE;
}

function checkText(value: unknown, what: string): string {
  if (typeof value !== 'string') {
    throw new TypeError(`Expected \`${what}\` to be a string, got ${value === null ? 'null' : typeof value}`);
  }
  return value;
}

/** Wraps a kernel's display so every method checks its argument and finds the channel when called. */
function checked(target: () => Display): Display {
  return {
    html: (markup) => target().html(checkText(markup, 'markup')),
    svg: (markup) => target().svg(checkText(markup, 'markup')),
    markdown: (text) => target().markdown(checkText(text, 'text')),
    text: (text) => target().text(checkText(text, 'text')),
  };
}

/**
 * Shows rich output in the cell that is running: in the notebook under a kernel (tslab or Deno's), with
 * `console.log` elsewhere.
 * @throws {TypeError} when the argument is not a string.
 */
export const display: Display = checked(() => channel().display);

/**
 * A display that shows one output and replaces it on every later call — for a progress line. Outside a kernel each
 * call prints a new line.
 */
export function newDisplay(): Display {
  const own = channel().newDisplay();
  return checked(() => own);
}
