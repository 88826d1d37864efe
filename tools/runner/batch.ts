/**
 * Run one (nbclient's `NotebookClient.execute` and what its CLI does with the result): one notebook on one kernel,
 * then compared with its recorded outputs (`--check`) or written; and every planned run, a few at a time.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import pLimit from 'p-limit';
import { writeNotebook } from '../nbformat/index.ts';
import { type CellDrift, compareNotebooks } from './check.ts';
import type { RunnerOptions } from './options.ts';
import { type RunResult, runNotebook } from './run.ts';
import type { PlannedRun } from './select.ts';

/** What became of one run; {@link statusLine} and {@link reportOf} in `report.ts` put it into words. */
export type RunOutcome = { run: PlannedRun; result: RunResult } & (
  | { kind: 'failed' }
  | { kind: 'matches' }
  | { kind: 'not-recorded' }
  | { kind: 'drift'; drifts: CellDrift[] }
  | { kind: 'written'; target: string }
  | { kind: 'changed-on-disk'; beside: string }
);

/** Told as runs start and end, and as each cell starts. */
export interface RunListener {
  started(run: PlannedRun): void;
  cell(run: PlannedRun, cellNumber: number, cellCount: number): void;
  finished(outcome: RunOutcome): void;
}

/** `--check`: the fresh run against the recorded outputs. */
function judge(run: PlannedRun, result: RunResult): RunOutcome {
  if (!result.notebook || !result.original) throw new Error('a finished run has a notebook');
  const drifts = compareNotebooks(result.original, result.notebook, result.normalisers, run.shown, {
    acrossKernels: run.kernel !== 'tslab',
  });
  if (drifts.length === 0) return { run, result, kind: 'matches' };
  const neverRun = result.original.cells.every(
    (cell) => cell.cell_type !== 'code' || cell.execution_count === null,
  );
  return neverRun ? { run, result, kind: 'not-recorded' } : { run, result, kind: 'drift', drifts };
}

/**
 * Writes the run into `out`, or over the notebook, unless someone saved the notebook while it ran: then their file
 * stays, and this run goes beside it as `<name>.executed.ipynb`.
 */
async function record(run: PlannedRun, result: RunResult, out: string | undefined): Promise<RunOutcome> {
  if (!result.notebook) throw new Error('a finished run has a notebook');
  if (out) {
    await mkdir(out, { recursive: true });
    const target = join(out, basename(run.path));
    await writeNotebook(target, result.notebook);
    return { run, result, kind: 'written', target };
  }
  if ((await readFile(run.path, 'utf8').catch(() => null)) !== result.originalText) {
    const beside = run.path.replace(/(\.ipynb)?$/, '.executed.ipynb');
    await writeNotebook(beside, result.notebook);
    return { run, result, kind: 'changed-on-disk', beside };
  }
  await writeNotebook(run.path, result.notebook);
  return { run, result, kind: 'written', target: run.path };
}

/** Runs one notebook on one kernel, then checks or records it as `options` say. */
export async function runOne(
  run: PlannedRun,
  options: RunnerOptions,
  onCell?: (cellNumber: number, cellCount: number) => void,
): Promise<RunOutcome> {
  const result = await runNotebook(run.path, {
    kernel: run.kernel,
    cellTimeoutMs: options.timeout * 1000,
    notebookTimeoutMs: options.notebookTimeout * 1000,
    startupTimeoutMs: options.startupTimeout * 1000,
    allowErrors: options.allowErrors,
    onCell,
  });
  if (result.failure) return { run, result, kind: 'failed' };
  return options.check ? judge(run, result) : record(run, result, options.out);
}

/** Every planned run, `options.jobs` at a time; the outcomes come in the order of `runs`. */
export async function runAll(
  runs: readonly PlannedRun[],
  options: RunnerOptions,
  listener: RunListener,
): Promise<RunOutcome[]> {
  const limit = pLimit(options.jobs);
  return Promise.all(
    runs.map((run) =>
      limit(async () => {
        listener.started(run);
        const outcome = await runOne(run, options, (cell, total) => listener.cell(run, cell, total));
        listener.finished(outcome);
        return outcome;
      }),
    ),
  );
}
