/**
 * Real Jupyter as the judge (`npm run notebooks:nbconvert`, `tools/nbconvert-check.ts`): runs each notebook through
 * `jupyter nbconvert --to notebook --execute` (i.e. nbclient) with the project's kernelspecs, tslab's and Deno's, into
 * a temporary folder, and names the notebook, kernel and cell when a cell errors that is not tagged
 * `raises-exception`. The notebooks in the repository are never written.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Command, CommanderError } from 'commander';
import pLimit from 'p-limit';
import { findJupyter, INSTALL_HINT, installKernelspecs, jupyterEnv } from '../env/jupyter.ts';
import { KERNEL_NAMES, type KernelName } from './kernels.ts';
import { kernelList, positiveNumber } from './options.ts';
import { notebooksIn } from './select.ts';

const MARKER = 'ASYNC_BATCHING_CELL_ERROR ';

// nbclient calls this hook after every cell, once its outputs are complete. It reports the reply status (nbclient's
// own error names neither the cell nor, for tslab, the error; and it takes an aborted request for a success) with
// the error as the kernel gave it (tslab: text on stderr; Deno: an `error` output), and
// after a failure it waits: tslab aborts any request that arrives within 200 ms after a failed one, which would
// silently skip the cell after a `raises-exception` cell.
const CONFIG = `import json, sys, time

def _report_cell(cell, cell_index, execute_reply, **kwargs):
    content = (execute_reply or {}).get('content', {})
    stderr = ''.join(o.get('text', '') for o in cell.outputs
                     if o.get('output_type') == 'stream' and o.get('name') == 'stderr')
    stderr += ''.join('%s: %s\\n' % (o.get('ename'), o.get('evalue')) for o in cell.outputs
                      if o.get('output_type') == 'error')
    sys.stderr.write(${JSON.stringify(MARKER)} + json.dumps({
        'cell': cell_index + 1,
        'status': content.get('status'),
        'expected': 'raises-exception' in cell.metadata.get('tags', []),
        'stderr': stderr,
    }) + '\\n')
    sys.stderr.flush()
    if content.get('status') == 'error':
        time.sleep(0.3)

c.ExecutePreprocessor.on_cell_executed = _report_cell
`;

/** What nbconvert made of one notebook on one kernel. */
export interface NbconvertOutcome {
  path: string;
  kernel: KernelName;
  ok: boolean;
  /** `ok  12.3s`, or what failed: the cell and its error, or nbconvert's last lines. */
  message: string;
  seconds: number;
}

/** What the config's hook reports for one cell. */
interface CellReport {
  cell: number;
  status: string;
  expected: boolean;
  stderr: string;
}

function firstErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  return lines.find((line) => /^\w*(Error|Exception)\b.*:/.test(line)) ?? lines.find(Boolean) ?? '';
}

/** Runs `jupyter nbconvert --execute` on one notebook; resolves with its exit code and its stderr. */
async function nbconvert(
  jupyter: string,
  kernel: KernelName,
  path: string,
  work: { outDir: string; config: string; timeout: number },
): Promise<{ code: number | null; stderr: string }> {
  const args = [
    'nbconvert',
    '--to',
    'notebook',
    '--execute',
    `--ExecutePreprocessor.kernel_name=${kernel}`,
    `--ExecutePreprocessor.timeout=${work.timeout}`,
    `--config=${work.config}`,
    '--output-dir',
    join(work.outDir, kernel),
    path,
  ];
  const child = spawn(jupyter, args, { env: jupyterEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stderr };
}

/** Judges one run from the hook's reports: the first unexpected error, a refused cell, or nbconvert's failure. */
export function verdict(
  code: number | null,
  stderr: string,
  seconds: number,
): { ok: boolean; message: string } {
  const reports = stderr
    .split('\n')
    .filter((line) => line.startsWith(MARKER))
    .map((line) => JSON.parse(line.slice(MARKER.length)) as CellReport);
  const unexpected = reports.find((report) => report.status === 'error' && !report.expected);
  if (unexpected)
    return { ok: false, message: `cell ${unexpected.cell}: ${firstErrorLine(unexpected.stderr)}` };
  const refused = reports.find((report) => report.status !== 'ok' && report.status !== 'error');
  if (refused) return { ok: false, message: `cell ${refused.cell}: the kernel answered ${refused.status}` };
  if (code !== 0) {
    const tail = stderr.trim().split('\n').slice(-15).join('\n');
    return { ok: false, message: `jupyter nbconvert exited with ${code}:\n${tail}` };
  }
  return { ok: true, message: `ok  ${seconds.toFixed(1)}s` };
}

/** Options of `npm run notebooks:nbconvert`. */
export interface NbconvertOptions {
  /** Notebooks named on the command line (none: every `notebooks/*.ipynb`). */
  paths: string[];
  kernels: KernelName[];
  /** Seconds allowed for one cell. */
  timeout: number;
  /** Notebooks run at the same time. */
  jobs: number;
}

/** Parses the arguments (without `node` and the script); help and errors are written by commander. */
export function parseNbconvertArgs(
  argv: readonly string[],
): { options: NbconvertOptions } | { exitCode: number } {
  const cli = new Command()
    .name('npm run notebooks:nbconvert --')
    .description(
      'Execute notebooks with real Jupyter (nbconvert/nbclient) and the project kernelspecs (tslab and Deno),\n' +
        'into a temporary folder; fail on any cell error not tagged raises-exception. Default: every\n' +
        'notebooks/*.ipynb on both kernels.',
    )
    .argument('[paths...]', 'notebooks to execute')
    .option(
      '--kernel <names>',
      `kernels to run on, comma-separated: ${KERNEL_NAMES.join(', ')}`,
      kernelList,
      [...KERNEL_NAMES] as KernelName[],
    )
    .option('--timeout <seconds>', 'time allowed for one cell', positiveNumber('--timeout', false), 60)
    .option(
      '--jobs <n>',
      'notebooks run at the same time',
      positiveNumber('--jobs', true),
      availableParallelism(),
    )
    .exitOverride();
  try {
    cli.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return { exitCode: error.exitCode };
    throw error;
  }
  const { kernel, timeout, jobs } = cli.opts<{ timeout: number; jobs: number; kernel: KernelName[] }>();
  return { options: { paths: [...cli.args], kernels: kernel, timeout, jobs } };
}

/** A problem that stops the whole check before any notebook runs (no Jupyter, a missing notebook). */
export class NbconvertSetupError extends Error {
  override name = 'NbconvertSetupError';
}

/**
 * The notebooks to check: the given files, or every notebook in `defaultDir`.
 * @throws {NbconvertSetupError} naming a path that is not a file.
 */
export async function nbconvertNotebooks(paths: readonly string[], defaultDir: string): Promise<string[]> {
  if (paths.length === 0) return notebooksIn(defaultDir).catch(() => []);
  for (const path of paths) {
    if (!(await stat(path).catch(() => null))?.isFile())
      throw new NbconvertSetupError(`no such notebook: ${path}`);
  }
  return [...paths];
}

/**
 * Finds `jupyter nbconvert` and registers the kernelspecs of `kernels`; returns the `jupyter` command.
 * @throws {NbconvertSetupError} saying what to install, or why a kernelspec could not be registered.
 */
export function prepareJupyter(kernels: readonly KernelName[]): string {
  const jupyter = findJupyter('nbconvert');
  if (!jupyter) {
    throw new NbconvertSetupError(
      `jupyter nbconvert is not installed, so the notebooks cannot be checked in Jupyter.\n${INSTALL_HINT}`,
    );
  }
  try {
    installKernelspecs({ quiet: true, kernels });
  } catch (error) {
    throw new NbconvertSetupError((error as Error).message, { cause: error });
  }
  return jupyter;
}

/**
 * Runs every notebook on every kernel through nbconvert, `options.jobs` at a time, in a temporary folder that is
 * removed afterwards; `onOutcome` hears of each as it ends.
 */
export async function nbconvertAll(
  jupyter: string,
  paths: readonly string[],
  options: Pick<NbconvertOptions, 'kernels' | 'timeout' | 'jobs'>,
  onOutcome: (outcome: NbconvertOutcome) => void,
): Promise<NbconvertOutcome[]> {
  const outDir = await mkdtemp(join(tmpdir(), 'nbconvert-check-'));
  try {
    const work = { outDir, config: join(outDir, 'nbconvert_config.py'), timeout: options.timeout };
    await writeFile(work.config, CONFIG);
    const limit = pLimit(options.jobs);
    const one = async (kernel: KernelName, path: string): Promise<NbconvertOutcome> => {
      const started = Date.now();
      const { code, stderr } = await nbconvert(jupyter, kernel, path, work);
      const seconds = (Date.now() - started) / 1000;
      const outcome = { path, kernel, seconds, ...verdict(code, stderr, seconds) };
      onOutcome(outcome);
      return outcome;
    };
    return await Promise.all(
      options.kernels.flatMap((kernel) => paths.map((path) => limit(() => one(kernel, path)))),
    );
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** One run's line: `notebooks/01-x.ipynb [tslab]  ok  3.1s` or `... FAILED cell 4: ...`. */
export function outcomeLine(outcome: NbconvertOutcome, cwd: string): string {
  const shown = `${relative(cwd, outcome.path) || outcome.path} [${outcome.kernel}]`;
  return `${shown}  ${outcome.ok ? outcome.message : `FAILED ${outcome.message}`}`;
}

/** One line per kernel: how many notebooks ran without errors, and the notebook time they took. */
export function nbconvertSummary(
  outcomes: readonly NbconvertOutcome[],
  kernels: readonly KernelName[],
): string {
  return kernels
    .map((kernel) => {
      const mine = outcomes.filter((outcome) => outcome.kernel === kernel);
      const seconds = mine.reduce((sum, outcome) => sum + outcome.seconds, 0);
      const ok = mine.filter((outcome) => outcome.ok).length;
      return (
        `nbconvert on ${kernel}: ${ok} of ${mine.length} notebooks ran in Jupyter without errors ` +
        `(${seconds.toFixed(1)} s of notebook time)\n`
      );
    })
    .join('');
}
