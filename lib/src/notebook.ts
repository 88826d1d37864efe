/**
 * Rich output for notebooks, whichever kernel runs them. A notebook imports `display` from here instead of from its
 * kernel, so the same cell shows an SVG chart under tslab, and prints the markup when run as a plain script. Every
 * difference between kernels lives in this file: supporting another kernel is one more entry in `CHANNELS`.
 *
 * ```ts
 * import { display, newDisplay } from 'async-batching/notebook';
 * display.svg(timeline.toSVG({ title: 'Two at a time' })); // its <title> goes along as the text fallback
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
  /**
   * Shows an SVG document (a string starting with `<svg`), with `alt` as its `text/plain` fallback: what a notebook
   * shows where it does not render the image (Jupyter Notebook drops SVG from an untrusted notebook) and what a
   * screen reader or an exporter reads. `alt` defaults to the SVG's own `aria-label` or first `<title>`.
   */
  svg(markup: string, alt?: string): void;
  /** Shows Markdown text. */
  markdown(text: string): void;
  /** Shows plain text. */
  text(text: string): void;
}

/** A display of tslab's own (`tslab.display`): one MIME type per output. */
export interface TslabDisplay {
  /** Shows HTML. */
  html(markup: string): void;
  /** Shows an SVG document. */
  svg(markup: string): void;
  /** Shows Markdown text. */
  markdown(text: string): void;
  /** Shows plain text. */
  text(text: string): void;
}

/** The part of tslab's public module (`import * as tslab from 'tslab'`) this helper uses. */
export interface TslabModule {
  /** Shows output in the cell being executed. */
  display: TslabDisplay;
  /** Makes one output that later calls replace. */
  newDisplay(): TslabDisplay;
}

/** A kernel's way of showing output, one MIME bundle at a time, in the cell being run. */
interface Channel {
  readonly display: Display;
  newDisplay(): Display;
}

/** What every kernel gets to show: one output, in one or more MIME types. */
type Show = (bundle: Record<string, string>) => void;

/** A {@link Display} over a kernel's way of showing one bundle. */
function displayOf(show: Show): Display {
  return {
    html: (markup) => show({ 'text/html': markup }),
    svg: (markup, alt) => show({ 'image/svg+xml': markup, 'text/plain': alt ?? svgAlt(markup) }),
    markdown: (text) => show({ 'text/markdown': text }),
    text: (text) => show({ 'text/plain': text }),
  };
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** An SVG's description: its root's `aria-label`, else its first `<title>`, else a plain word. */
export function svgAlt(markup: string): string {
  const label =
    /^\s*<svg\b[^>]*?\saria-label="([^"]*)"/.exec(markup)?.[1] ?? /<title>([^<]*)<\/title>/.exec(markup)?.[1];
  const text = label
    ?.replace(/&(?:#x([0-9a-f]+)|#(\d+)|(\w+));/gi, (entity, hex, dec, name) =>
      hex
        ? String.fromCodePoint(parseInt(hex, 16))
        : dec
          ? String.fromCodePoint(Number(dec))
          : (XML_ENTITIES[name] ?? entity),
    )
    .trim();
  return text || 'An SVG image';
}

/** The send function of tslab's `jupyter` module (`lastWriteDisplayData`), which takes a whole MIME bundle. */
type TslabWrite = (
  output: { data: Record<string, string>; metadata: object; transient: { display_id?: string } },
  update: boolean,
) => void;

/**
 * tslab runs each cell with a `require` it publishes as `globalThis.__tslab__.require`; that `require('tslab')` is
 * the running kernel's own module, whose display functions write to the cell being executed. (An `import 'tslab'`
 * from this package could find another copy of tslab, one not connected to any kernel.)
 */
function tslabChannel(): Channel | undefined {
  const host = (globalThis as { __tslab__?: { require?: unknown } }).__tslab__;
  if (typeof host?.require !== 'function') return undefined;
  const require = host.require as ((id: string) => unknown) & {
    cache?: Record<string, TslabLoaded | undefined>;
  };
  const tslab = require('tslab') as Partial<TslabModule> | undefined;
  if (typeof tslab?.newDisplay !== 'function' || typeof tslab.display !== 'object') return undefined;
  let channel = tslabChannels.get(tslab);
  if (channel === undefined) {
    channel = tslabBundles(tslab as TslabModule, require.cache);
    tslabChannels.set(tslab, channel);
  }
  return channel;
}

/** The channel made for each tslab module, so the module cache is searched once per kernel, not per output. */
const tslabChannels = new WeakMap<object, Channel>();

function tslabBundles(
  tslab: TslabModule,
  cache: Record<string, TslabLoaded | undefined> | undefined,
): Channel {
  const jupyter = tslabJupyter(tslab, cache);
  if (jupyter === undefined) return tslabDisplaysOnly(tslab);
  const make = (id?: string): Display => {
    let shown = false;
    return displayOf((data) => {
      // Read at every call, as tslab's own displays do: it is the sender of the cell running now.
      const write = jupyter.lastWriteDisplayData;
      if (typeof write !== 'function') throw new Error('tslab is not running a cell');
      (write as TslabWrite)(
        { data, metadata: {}, transient: id === undefined ? {} : { display_id: id } },
        shown,
      );
      if (id !== undefined) shown = true;
    });
  };
  return { display: make(), newDisplay: () => make(`async-batching-${process.pid}-${++tslabDisplays}`) };
}

interface TslabLoaded {
  filename: string;
  exports: unknown;
}

let tslabDisplays = 0;

/**
 * tslab's public display sends one MIME type per output, so an SVG could carry no text fallback. The running kernel's
 * `jupyter` module, loaded beside its public module, sends whole bundles (`lastWriteDisplayData`, the sender of the
 * cell being run); it is found in the module cache next to the very module `require('tslab')` returned.
 */
function tslabJupyter(
  tslab: object,
  cache: Record<string, TslabLoaded | undefined> | undefined,
): { lastWriteDisplayData?: unknown } | undefined {
  if (cache === undefined || cache === null) return undefined;
  const loaded = Object.values(cache).find((module) => module?.exports === tslab);
  if (!loaded || !/public\.js$/.test(loaded.filename)) return undefined;
  const jupyter = cache[loaded.filename.replace(/public\.js$/, 'jupyter.js')]?.exports as
    | { lastWriteDisplayData?: unknown }
    | undefined;
  return jupyter !== null && typeof jupyter === 'object' && 'lastWriteDisplayData' in jupyter
    ? jupyter
    : undefined;
}

/** A tslab whose bundle sender was not found: its own displays, an SVG without its text fallback. */
function tslabDisplaysOnly(tslab: TslabModule): Channel {
  const wrap = (own: TslabDisplay): Display => ({
    html: (markup) => own.html(markup),
    svg: (markup) => own.svg(markup),
    markdown: (text) => own.markdown(text),
    text: (text) => own.text(text),
  });
  return { display: wrap(tslab.display), newDisplay: () => wrap(tslab.newDisplay()) };
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
    return displayOf((bundle) => {
      if (id === undefined) send(bundle, {});
      else {
        send(bundle, { display_id: id, update: shown });
        shown = true;
      }
    });
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
    svg: (markup, alt) =>
      target().svg(checkText(markup, 'markup'), alt === undefined ? undefined : checkText(alt, 'alt')),
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
