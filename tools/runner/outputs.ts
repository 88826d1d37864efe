/**
 * Turns iopub messages into nbformat outputs the way Jupyter front ends do: consecutive stream text of one name is
 * merged (with carriage returns applied, so a `\r` progress line keeps only its last state), `clear_output` with
 * `wait: true` is deferred until the next output, and `update_display_data` rewrites every output shown with that
 * display id, in any cell of the notebook. Stream text is capped per output, as JupyterLab and VS Code do for long
 * text: the head and the tail are kept, with a line saying how much was dropped in between.
 */

import {
  applyCarriageReturns,
  joinText,
  type MimeBundle,
  type Output,
  type StreamOutput,
} from '../nbformat/index.ts';
import type { KernelMessage } from './kernel.ts';

/** The MIME types kept from display data and results; others (e.g. JavaScript) are dropped. */
export const KEPT_MIME_TYPES: readonly string[] = ['text/plain', 'text/html', 'image/svg+xml', 'image/png'];

function keepMimes(data: unknown): MimeBundle {
  const bundle: MimeBundle = {};
  if (data === null || typeof data !== 'object') return bundle;
  for (const [mime, value] of Object.entries(data)) {
    if (KEPT_MIME_TYPES.includes(mime)) bundle[mime] = value;
  }
  return bundle;
}

/** The default cap on one stream output, in characters: the first half and the last half are kept. */
export const MAX_STREAM_CHARS = 200_000;

const countLines = (text: string) => text.split('\n').length - 1;

/**
 * The text of one stream output, with carriage returns applied as chunks arrive (only the last line can still
 * change) and the middle dropped once it grows past the cap. Appending costs the size of the chunk, not of the text
 * so far, so a cell printing 100,000 lines is recorded in linear time.
 */
class StreamText {
  readonly #half: number;
  #head = '';
  #tail = '';
  #droppedChars = 0;
  #droppedLines = 0;
  /** Whether the text ends in a carriage return that the next chunk may act on. */
  #pendingReturn = false;

  constructor(maxChars: number) {
    this.#half = Math.floor(maxChars / 2);
  }

  append(chunk: string): void {
    if (this.#pendingReturn || chunk.includes('\r')) {
      const cut = this.#tail.lastIndexOf('\n') + 1;
      this.#tail = this.#tail.slice(0, cut) + applyCarriageReturns(this.#tail.slice(cut) + chunk);
      this.#pendingReturn = this.#tail.endsWith('\r');
    } else {
      // The common case costs only the chunk: no scan of the text so far, which V8 would have to flatten.
      this.#tail += chunk;
    }
    if (this.#head === '' && this.#droppedChars === 0) {
      if (this.#tail.length <= 2 * this.#half) return;
      // Over the cap for the first time: the head is frozen at a line boundary.
      const end = this.#tail.lastIndexOf('\n', this.#half) + 1 || this.#half;
      this.#head = this.#tail.slice(0, end);
      this.#tail = this.#tail.slice(end);
    }
    this.#trim(2 * this.#half);
  }

  /** Once the head is frozen: drops whole lines from the front of the tail when it is over `limit`, down to half the cap. */
  #trim(limit: number): void {
    if (this.#head === '' || this.#tail.length <= limit) return;
    const from = this.#tail.length - this.#half;
    const start = this.#tail.indexOf('\n', from) + 1 || from;
    const dropped = this.#tail.slice(0, start);
    this.#droppedChars += dropped.length;
    this.#droppedLines += countLines(dropped);
    this.#tail = this.#tail.slice(start);
  }

  toString(): string {
    this.#trim(this.#half);
    if (this.#droppedChars === 0) return this.#head + this.#tail;
    const note =
      `[... ${this.#droppedLines.toLocaleString('en')} lines (${this.#droppedChars.toLocaleString('en')} characters) ` +
      `of output dropped by the runner: one output keeps at most ${(2 * this.#half).toLocaleString('en')} characters, ` +
      'its beginning and its end ...]\n';
    return this.#head + note + this.#tail;
  }
}

/** Options for {@link OutputRecorder}. */
export interface OutputRecorderOptions {
  /** The most characters one stream output keeps (its head and tail halves); default {@link MAX_STREAM_CHARS}. */
  maxStreamChars?: number;
}

/** Records the outputs of one notebook's cells from kernel messages. */
export class OutputRecorder {
  readonly #displays = new Map<string, Output[]>();
  readonly #streams = new Map<StreamOutput, StreamText>();
  readonly #maxStreamChars: number;
  #outputs: Output[] = [];
  #clearPending = false;

  constructor(options: OutputRecorderOptions = {}) {
    const max = options.maxStreamChars ?? MAX_STREAM_CHARS;
    if (!Number.isInteger(max) || max < 2) {
      throw new RangeError(`Expected \`maxStreamChars\` to be a whole number >= 2, got ${max}`);
    }
    this.#maxStreamChars = max;
  }

  /** Starts a new cell; its outputs are collected into a fresh list, returned by {@link outputs}. */
  beginCell(): void {
    this.#outputs = [];
    this.#streams.clear();
    this.#clearPending = false;
  }

  /** The outputs of the current cell. */
  get outputs(): Output[] {
    for (const [output, text] of this.#streams) output.text = text.toString();
    return this.#outputs;
  }

  #add(output: Output, displayId: string | undefined): void {
    if (this.#clearPending) {
      this.#outputs.length = 0;
      this.#streams.clear();
      this.#clearPending = false;
    }
    const last = this.#outputs.at(-1);
    if (output.output_type === 'stream') {
      const text = joinText(output.text);
      const open =
        last?.output_type === 'stream' && last.name === output.name ? this.#streams.get(last) : undefined;
      if (open) {
        open.append(text);
        return;
      }
      const stream = new StreamText(this.#maxStreamChars);
      stream.append(text);
      this.#streams.set(output, stream);
    }
    this.#outputs.push(output);
    if (displayId) {
      const shown = this.#displays.get(displayId) ?? [];
      shown.push(output);
      this.#displays.set(displayId, shown);
    }
  }

  /**
   * Applies one iopub message (a child of the current cell's request). Unknown message types are ignored; an
   * `execute_result` without a count gets `null`, for the caller to fill in from the reply.
   */
  handle(message: KernelMessage): void {
    const content = message.content;
    const transient = (content.transient ?? {}) as { display_id?: unknown };
    const displayId = typeof transient.display_id === 'string' ? transient.display_id : undefined;
    switch (message.header.msg_type) {
      case 'update_display_data':
        for (const output of displayId ? (this.#displays.get(displayId) ?? []) : []) {
          if (output.output_type === 'display_data' || output.output_type === 'execute_result') {
            output.data = keepMimes(content.data);
            output.metadata = (content.metadata as Record<string, unknown>) ?? {};
          }
        }
        break;
      case 'clear_output':
        if (content.wait) {
          this.#clearPending = true;
        } else {
          this.#outputs.length = 0;
          this.#streams.clear();
          this.#clearPending = false;
        }
        break;
      default: {
        const output = outputOf(message.header.msg_type, content);
        // Only displays and results can be updated later by their display id.
        const updatable = output?.output_type === 'display_data' || output?.output_type === 'execute_result';
        if (output) this.#add(output, updatable ? displayId : undefined);
      }
    }
  }
}

/** The output an iopub message of `msgType` adds (stream, display data, result or error), or `null` for others. */
function outputOf(msgType: string, content: Record<string, unknown>): Output | null {
  switch (msgType) {
    case 'stream':
      return {
        output_type: 'stream',
        name: content.name === 'stderr' ? 'stderr' : 'stdout',
        text: String(content.text),
      };
    case 'display_data':
      return {
        output_type: 'display_data',
        data: keepMimes(content.data),
        metadata: (content.metadata as Record<string, unknown>) ?? {},
      };
    case 'execute_result':
      return {
        output_type: 'execute_result',
        data: keepMimes(content.data),
        metadata: (content.metadata as Record<string, unknown>) ?? {},
        execution_count: typeof content.execution_count === 'number' ? content.execution_count : null,
      };
    case 'error':
      return {
        output_type: 'error',
        ename: String(content.ename),
        evalue: String(content.evalue),
        traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
      };
    default:
      return null;
  }
}
