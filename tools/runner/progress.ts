/**
 * One status line per notebook. On a terminal the block of lines is redrawn in place; otherwise (CI logs, pipes)
 * each change of state is printed once as a plain line.
 */
import type { Writable } from 'node:stream';

type State = { text: string; final: boolean };

/** Progress display for a set of notebooks running in parallel. */
export class Progress {
  readonly #out: Writable & { isTTY?: boolean; columns?: number };
  readonly #names: string[];
  readonly #width: number;
  readonly #states = new Map<string, State>();
  #drawn = 0;

  constructor(out: Writable & { isTTY?: boolean; columns?: number }, names: readonly string[]) {
    this.#out = out;
    this.#names = [...names];
    this.#width = Math.max(0, ...names.map((name) => name.length));
    for (const name of names) this.#states.set(name, { text: 'waiting', final: false });
  }

  #line(name: string): string {
    return `${name.padEnd(this.#width)}  ${this.#states.get(name)?.text ?? ''}`;
  }

  /** Sets the status of one notebook; `final` marks its last update (ok / FAILED). */
  update(name: string, text: string, final = false): void {
    this.#states.set(name, { text, final });
    if (this.#out.isTTY) {
      this.#redraw();
    } else if (final || text === 'started') {
      // Plain output: only the start and the outcome, so logs stay readable.
      this.#out.write(`${this.#line(name)}\n`);
    }
  }

  #redraw(): void {
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}F` : '';
    // A line wider than the terminal would wrap and throw off the cursor movement, so it is cut.
    const columns = this.#out.columns ?? 0;
    const clip = (line: string) =>
      columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line;
    const lines = this.#names.map((name) => `\x1b[2K${clip(this.#line(name))}`);
    this.#out.write(`${up}${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }
}
