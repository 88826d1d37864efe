/**
 * Report: each run's status line, the detailed report of a run that failed or drifted, the closing summary and the
 * exit code. Pure functions of the outcomes; the CLI prints them.
 */
import { relative } from 'node:path';
import { joinText } from '../nbformat/index.ts';
import type { RunOutcome } from './batch.ts';
import type { RunnerOptions } from './options.ts';
import type { CellProblem, RunResult } from './run.ts';

/** Lines of a failed cell's output shown in its report, and characters per line. */
const DETAIL_LINES = 40;
const DETAIL_LINE_CHARS = 300;

/** Cuts a line of a failure report to a readable length, saying how much was cut. */
export function clipLine(line: string, max = DETAIL_LINE_CHARS): string {
  return line.length <= max ? line : `${line.slice(0, max)} ... (${line.length - max} more characters)`;
}

/** Cuts a message (e.g. an error's `evalue`) to one short line. */
export function clipMessage(text: string): string {
  const [first, ...rest] = text.split('\n');
  return clipLine(first) + (rest.length > 0 ? ` (+${rest.length} lines)` : '');
}

/** `cell N: Name: message`, on one line. */
export function describeProblem(problem: CellProblem): string {
  const where = problem.cellNumber === null ? '' : `cell ${problem.cellNumber}: `;
  return `${where}${problem.ename}: ${clipMessage(problem.evalue)}`;
}

/** The failing cell's output, indented: it is in no notebook on disk, since a failed run is never written. */
export function failureDetails(result: RunResult): string {
  const text = result.failedCellOutputs
    .map((output) => {
      if (output.output_type === 'stream') return joinText(output.text);
      if (output.output_type === 'error') return `${output.ename}: ${output.evalue}\n`;
      return '';
    })
    .join('')
    .trimEnd();
  if (!text) return '';
  const lines = text.split('\n');
  const shown = lines.slice(0, DETAIL_LINES).map((line) => `  | ${clipLine(line)}`);
  if (lines.length > DETAIL_LINES) shown.push(`  | ... (${lines.length - DETAIL_LINES} more lines)`);
  return `${shown.join('\n')}\n`;
}

/** Whether the run counts as a failure in the summary and the exit code. */
export function failed(outcome: RunOutcome): boolean {
  return outcome.kind !== 'matches' && outcome.kind !== 'written';
}

/** The run's final status line (after its name): `ok  3.2s`, `FAILED cell 4: ...`, `DRIFT in cell 7  3.2s`. */
export function statusLine(outcome: RunOutcome): string {
  const seconds = `${(outcome.result.durationMs / 1000).toFixed(1)}s`;
  switch (outcome.kind) {
    case 'failed':
      return `FAILED ${describeProblem(outcome.result.failure!)}`;
    case 'not-recorded':
      return `NOT RECORDED: run \`npm run notebooks -- ${outcome.run.shown}\` first  ${seconds}`;
    case 'drift':
      return `DRIFT in cell ${outcome.drifts.map((d) => d.cellNumber).join(', ')}  ${seconds}`;
    case 'matches':
      return `ok (matches)  ${seconds}`;
    case 'changed-on-disk':
      return `CHANGED ON DISK while it ran  ${seconds}`;
    case 'written': {
      const allowed = outcome.result.allowedErrors.length;
      return `ok  ${seconds}${allowed ? `  (${allowed} expected error${allowed > 1 ? 's' : ''})` : ''}`;
    }
  }
}

/** The run's report after every status line, or `null` when its status line says it all. */
export function reportOf(outcome: RunOutcome, cwd: string): string | null {
  const { shown } = outcome.run;
  switch (outcome.kind) {
    case 'failed':
      return (
        `${shown}: ${describeProblem(outcome.result.failure!)}\n${failureDetails(outcome.result)}` +
        '(the notebook was not written)\n'
      );
    case 'drift':
      return `${shown}: recorded outputs differ from this run\n${outcome.drifts.map((d) => d.diff).join('\n')}`;
    case 'changed-on-disk':
      return (
        `${shown}: the file changed on disk while it ran, so it was not overwritten; ` +
        `this run's outputs are in ${relative(cwd, outcome.beside) || outcome.beside}\n`
      );
    default:
      return null;
  }
}

/** What follows the status lines: the reports, then `checked 12 notebooks on tslab and deno: 23 ok, 1 failed`. */
export function summary(
  outcomes: readonly RunOutcome[],
  notebookCount: number,
  options: Pick<RunnerOptions, 'check' | 'kernels'>,
  cwd: string,
): string {
  const reports = outcomes.map((outcome) => reportOf(outcome, cwd)).filter((report) => report !== null);
  const failures = outcomes.filter(failed).length;
  const verb = options.check ? 'checked' : 'ran';
  const { kernels } = options;
  const on = kernels.length > 1 || kernels[0] !== 'tslab' ? ` on ${kernels.join(' and ')}` : '';
  const plural = notebookCount > 1 ? 's' : '';
  const counts = `${outcomes.length - failures} ok, ${failures} failed`;
  return `${reports.length > 0 ? `\n${reports.join('\n')}` : ''}\n${verb} ${notebookCount} notebook${plural}${on}: ${counts}\n`;
}

/** 0 when every run ran (and, with `--check`, matched), else 1. */
export function exitCode(outcomes: readonly RunOutcome[]): number {
  return outcomes.some(failed) ? 1 : 0;
}
