/**
 * `--check`: compares the outputs recorded in a notebook with a fresh run, after the notebook's normalisers, and
 * renders each difference as a unified diff. Execution counts and output metadata are not compared.
 */
import { createTwoFilesPatch } from 'diff';
import { cellTags, joinText, type Notebook, type Output } from '../nbformat/index.ts';
import { kernelNeutral } from './kernel-neutral.ts';
import { type Normaliser, normalise } from './normalise.ts';
import { IGNORE_OUTPUT, SKIP_EXECUTION } from './run.ts';

/** One cell whose outputs differ. */
export interface CellDrift {
  /** 1-based position of the cell in the notebook. */
  cellNumber: number;
  /** A unified diff from the recorded outputs to the fresh ones. */
  diff: string;
}

function section(title: string, body: string): string {
  return `[${title}]\n${body}${body.endsWith('\n') || body === '' ? '' : '\n'}`;
}

/** Renders outputs as comparable text: one titled section per output (and per MIME type), normalised. */
export function renderOutputs(outputs: readonly Output[], normalisers: readonly Normaliser[]): string {
  return outputs
    .map((output) => {
      switch (output.output_type) {
        case 'stream':
          return section(`stream ${output.name}`, normalise(joinText(output.text), normalisers));
        case 'error':
          return section(
            'error',
            normalise([`${output.ename}: ${output.evalue}`, ...output.traceback].join('\n'), normalisers),
          );
        default:
          return Object.keys(output.data)
            .sort()
            .map((mime) => {
              const value = output.data[mime];
              const text =
                typeof value === 'string' || Array.isArray(value) ? joinText(value) : JSON.stringify(value);
              const body = mime === 'image/png' ? text : normalise(text, normalisers);
              return section(`${output.output_type} ${mime}`, body);
            })
            .join('');
      }
    })
    .join('');
}

/** Options for {@link compareNotebooks}. */
export interface CompareOptions {
  /**
   * The fresh run is on another kernel than the recorded one (Deno against tslab): compare both sides in the form
   * the kernels share (see `kernel-neutral.ts`).
   */
  acrossKernels?: boolean;
}

/**
 * Lists the code cells whose outputs differ between `recorded` and `fresh` (the same notebook, re-executed).
 * Cells tagged `nbval-ignore-output` or `skip-execution` are not compared.
 */
export function compareNotebooks(
  recorded: Notebook,
  fresh: Notebook,
  normalisers: readonly Normaliser[],
  label = 'notebook',
  options: CompareOptions = {},
): CellDrift[] {
  const view = options.acrossKernels ? kernelNeutral : (outputs: readonly Output[]) => outputs;
  const drifts: CellDrift[] = [];
  recorded.cells.forEach((cell, index) => {
    const now = fresh.cells[index];
    if (cell.cell_type !== 'code' || now?.cell_type !== 'code') return;
    const tags = cellTags(cell);
    if (tags.has(IGNORE_OUTPUT) || tags.has(SKIP_EXECUTION)) return;
    const before = renderOutputs(view(cell.outputs), normalisers);
    const after = renderOutputs(view(now.outputs), normalisers);
    if (before === after) return;
    const cellNumber = index + 1;
    const patch = createTwoFilesPatch(
      `${label} cell ${cellNumber} (recorded)`,
      `${label} cell ${cellNumber} (this run)`,
      before,
      after,
      undefined,
      undefined,
      { context: 3 },
    );
    // Drop the "Index:"/"====" preamble jsdiff adds; keep the ---/+++ header and the hunks.
    const diff = patch
      .split('\n')
      .filter((line) => !line.startsWith('====') && !line.startsWith('Index:'))
      .join('\n');
    drifts.push({ cellNumber, diff: diff.endsWith('\n') ? diff : `${diff}\n` });
  });
  return drifts;
}
