/**
 * Turns iopub messages into nbformat outputs the way Jupyter front ends do: consecutive stream text of one name is
 * merged (with carriage returns applied, so a `\r` progress line keeps only its last state), `clear_output` with
 * `wait: true` is deferred until the next output, and `update_display_data` rewrites every output shown with that
 * display id, in any cell of the notebook.
 */

import { applyCarriageReturns, joinText, type MimeBundle, type Output } from '../nbformat/index.ts';
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

/** Records the outputs of one notebook's cells from kernel messages. */
export class OutputRecorder {
  readonly #displays = new Map<string, Output[]>();
  #outputs: Output[] = [];
  #clearPending = false;

  /** Starts a new cell; its outputs are collected into a fresh list, returned by {@link outputs}. */
  beginCell(): void {
    this.#outputs = [];
    this.#clearPending = false;
  }

  /** The outputs of the current cell. */
  get outputs(): Output[] {
    return this.#outputs;
  }

  #add(output: Output, displayId: string | undefined): void {
    if (this.#clearPending) {
      this.#outputs.length = 0;
      this.#clearPending = false;
    }
    const last = this.#outputs.at(-1);
    if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name) {
      last.text = applyCarriageReturns(joinText(last.text) + joinText(output.text));
      return;
    }
    if (output.output_type === 'stream') output.text = applyCarriageReturns(joinText(output.text));
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
      case 'stream':
        this.#add(
          {
            output_type: 'stream',
            name: content.name === 'stderr' ? 'stderr' : 'stdout',
            text: String(content.text),
          },
          undefined,
        );
        break;
      case 'display_data':
        this.#add(
          {
            output_type: 'display_data',
            data: keepMimes(content.data),
            metadata: (content.metadata as Record<string, unknown>) ?? {},
          },
          displayId,
        );
        break;
      case 'execute_result':
        this.#add(
          {
            output_type: 'execute_result',
            data: keepMimes(content.data),
            metadata: (content.metadata as Record<string, unknown>) ?? {},
            execution_count: typeof content.execution_count === 'number' ? content.execution_count : null,
          },
          displayId,
        );
        break;
      case 'error':
        this.#add(
          {
            output_type: 'error',
            ename: String(content.ename),
            evalue: String(content.evalue),
            traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
          },
          undefined,
        );
        break;
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
          this.#clearPending = false;
        }
        break;
    }
  }
}
