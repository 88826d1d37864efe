/**
 * `npm run notebooks [-- paths...] [--kernel tslab,deno] [--check] [--allow-errors] [--timeout S] [--jobs N] ...`
 *
 * Executes notebooks in tslab kernels (or Deno's) and writes their outputs back as Jupyter would, or with `--check`
 * compares a fresh run against the recorded outputs without writing anything.
 */

import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import pLimit from 'p-limit';
import { joinText, removeUnfinishedWrites, writeNotebook } from './nbformat/index.ts';
import { compareNotebooks } from './notebooks/check.ts';
import { kernelList, positiveNumber } from './notebooks/cli-options.ts';
import { killAllKernels } from './notebooks/kernel.ts';
import { KERNEL_NAMES, type KernelName } from './notebooks/kernels.ts';
import { Progress } from './notebooks/progress.ts';
import { type CellProblem, type RunResult, runNotebook } from './notebooks/run.ts';

const ROOT = resolve(import.meta.dirname, '..');

async function notebooksIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ipynb'))
    .map((entry) => join(dir, entry.name))
    .sort();
}

/** Expands the given paths (files or folders); a path that does not exist is an error naming it. */
async function resolvePaths(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (!info) throw new Error(`no such notebook or folder: ${path}`);
    found.push(...(info.isDirectory() ? await notebooksIn(path) : [path]));
  }
  return found;
}

function describe(problem: CellProblem): string {
  const where = problem.cellNumber === null ? '' : `cell ${problem.cellNumber}: `;
  return `${where}${problem.ename}: ${clipMessage(problem.evalue)}`;
}

const DETAIL_LINES = 40;
const DETAIL_LINE_CHARS = 300;

/** Cuts a line of a failure report to a readable length, saying how much was cut. */
function clipLine(line: string, max = DETAIL_LINE_CHARS): string {
  return line.length <= max ? line : `${line.slice(0, max)} ... (${line.length - max} more characters)`;
}

/** Cuts a message (e.g. an error's `evalue`) to one short line. */
function clipMessage(text: string): string {
  const [first, ...rest] = text.split('\n');
  return clipLine(first) + (rest.length > 0 ? ` (+${rest.length} lines)` : '');
}

/** The failing cell's output, indented: it is in no notebook on disk, since a failed run is never written. */
function failureDetails(result: RunResult): string {
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

async function main(): Promise<number> {
  const program = new Command()
    .name('npm run notebooks --')
    .description(
      'Execute Jupyter notebooks in tslab kernels and record their outputs as Jupyter does.\n' +
        'Default: every notebooks/*.ipynb. Cell numbers count every cell from 1, markdown included.\n' +
        "The recorded outputs are tslab's; --kernel deno checks that Deno's kernel gives the same (--check), or\n" +
        'writes its own run elsewhere (--out).',
    )
    .argument('[paths...]', 'notebooks or folders of notebooks to run')
    .option(
      '--kernel <names>',
      `kernels to run on, comma-separated: ${KERNEL_NAMES.join(', ')} (Deno is fetched from npm when first needed)`,
      kernelList,
      ['tslab'] as KernelName[],
    )
    .option('--check', 'run into memory and compare with the recorded outputs; never writes', false)
    .option(
      '--out <dir>',
      'write the executed notebooks into this folder (same file names) instead of over the originals',
    )
    .option('--allow-errors', 'record failing cells and go on instead of stopping', false)
    .option('--timeout <seconds>', 'time allowed for one cell', positiveNumber('--timeout', false), 60)
    .option(
      '--notebook-timeout <seconds>',
      'time allowed for a whole notebook',
      positiveNumber('--notebook-timeout', false),
      600,
    )
    .option(
      '--startup-timeout <seconds>',
      'time allowed for a kernel to start',
      positiveNumber('--startup-timeout', false),
      120,
    )
    .option(
      '--jobs <n>',
      'notebooks run at the same time',
      positiveNumber('--jobs', true),
      availableParallelism(),
    )
    .showHelpAfterError();
  program.parse();
  const options = program.opts<{
    kernel: KernelName[];
    check: boolean;
    out?: string;
    allowErrors: boolean;
    timeout: number;
    notebookTimeout: number;
    startupTimeout: number;
    jobs: number;
  }>();

  if (!options.check && options.kernel.length > 1) {
    program.error(
      'error: --kernel with more than one kernel needs --check (one run is written per notebook)',
    );
  }
  if (!options.check && !options.out && options.kernel[0] !== 'tslab') {
    program.error(
      `error: the recorded outputs are tslab's; run ${options.kernel[0]} with --check to compare, or --out DIR ` +
        'to write its run elsewhere',
    );
  }

  let paths: string[];
  try {
    if (program.args.length > 0) {
      paths = await resolvePaths(program.args);
    } else {
      const dir = join(ROOT, 'notebooks');
      paths = await notebooksIn(dir).catch(() => []);
      if (paths.length === 0) {
        console.log(`no notebooks found in ${relative(process.cwd(), dir) || '.'}`);
        return 0;
      }
    }
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
  if (paths.length === 0) {
    console.error('error: no .ipynb files in the given folders');
    return 1;
  }

  const names = paths.map((path) => basename(path, '.ipynb'));
  const notebookLabels = names.map((name, i) =>
    names.indexOf(name) === names.lastIndexOf(name) ? name : relative(process.cwd(), paths[i]),
  );
  // One run per notebook and kernel; a kernel other than tslab is named wherever a run is.
  const runs = options.kernel.flatMap((kernel) =>
    paths.map((path, i) => {
      const named = kernel !== 'tslab' || options.kernel.length > 1;
      const suffix = named ? ` [${kernel}]` : '';
      return {
        path,
        kernel,
        label: notebookLabels[i] + suffix,
        shown: (relative(process.cwd(), path) || path) + suffix,
      };
    }),
  );
  const progress = new Progress(
    process.stdout,
    runs.map((run) => run.label),
  );
  const limit = pLimit(options.jobs);
  let failed = 0;
  const reports: string[] = [];

  await Promise.all(
    runs.map(({ path, kernel, label, shown }) =>
      limit(async () => {
        progress.update(label, 'started');
        const result = await runNotebook(path, {
          kernel,
          cellTimeoutMs: options.timeout * 1000,
          notebookTimeoutMs: options.notebookTimeout * 1000,
          startupTimeoutMs: options.startupTimeout * 1000,
          allowErrors: options.allowErrors,
          onCell: (cell, total) => progress.update(label, `cell ${cell}/${total} ...`),
        });
        const seconds = `${(result.durationMs / 1000).toFixed(1)}s`;
        if (result.failure) {
          failed++;
          progress.update(label, `FAILED ${describe(result.failure)}`, true);
          reports.push(
            `${shown}: ${describe(result.failure)}\n${failureDetails(result)}(the notebook was not written)\n`,
          );
          return;
        }
        if (!result.notebook || !result.original) throw new Error('a finished run has a notebook');
        if (options.check) {
          const drifts = compareNotebooks(result.original, result.notebook, result.normalisers, shown, {
            acrossKernels: kernel !== 'tslab',
          });
          const neverRun = result.original.cells.every(
            (cell) => cell.cell_type !== 'code' || cell.execution_count === null,
          );
          if (drifts.length > 0 && neverRun) {
            failed++;
            progress.update(
              label,
              `NOT RECORDED: run \`npm run notebooks -- ${shown}\` first  ${seconds}`,
              true,
            );
            return;
          }
          if (drifts.length > 0) {
            failed++;
            progress.update(
              label,
              `DRIFT in cell ${drifts.map((d) => d.cellNumber).join(', ')}  ${seconds}`,
              true,
            );
            reports.push(
              `${shown}: recorded outputs differ from this run\n${drifts.map((d) => d.diff).join('\n')}`,
            );
            return;
          }
          progress.update(label, `ok (matches)  ${seconds}`, true);
          return;
        }
        const target = options.out ? join(options.out, basename(path)) : path;
        if (options.out) await mkdir(options.out, { recursive: true });
        if (!options.out && (await readFile(path, 'utf8').catch(() => null)) !== result.originalText) {
          // Someone saved the notebook while it ran: keep their file, and this run's next to it.
          const beside = path.replace(/(\.ipynb)?$/, '.executed.ipynb');
          await writeNotebook(beside, result.notebook);
          failed++;
          progress.update(label, `CHANGED ON DISK while it ran  ${seconds}`, true);
          reports.push(
            `${shown}: the file changed on disk while it ran, so it was not overwritten; ` +
              `this run's outputs are in ${relative(process.cwd(), beside) || beside}\n`,
          );
          return;
        }
        await writeNotebook(target, result.notebook);
        const allowed = result.allowedErrors.length;
        progress.update(
          label,
          `ok  ${seconds}${allowed ? `  (${allowed} expected error${allowed > 1 ? 's' : ''})` : ''}`,
          true,
        );
      }),
    ),
  );

  if (reports.length > 0) process.stdout.write(`\n${reports.join('\n')}`);
  const verb = options.check ? 'checked' : 'ran';
  const on =
    options.kernel.length > 1 || options.kernel[0] !== 'tslab' ? ` on ${options.kernel.join(' and ')}` : '';
  const count = runs.length;
  console.log(
    `\n${verb} ${paths.length} notebook${paths.length > 1 ? 's' : ''}${on}: ${count - failed} ok, ${failed} failed`,
  );
  return failed > 0 ? 1 : 0;
}

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/** Ends the runner after a signal or a fault: no half-written notebook, no kernel left (see also kernel-preload.cjs). */
function stop(code: number): void {
  removeUnfinishedWrites();
  void killAllKernels().finally(() => process.exit(code));
}

for (const signal of Object.keys(SIGNAL_EXIT) as (keyof typeof SIGNAL_EXIT)[]) {
  process.once(signal, () => stop(SIGNAL_EXIT[signal]));
}
// Whatever escapes (a bug in the runner, a library's stray rejection) is reported and still ends every kernel.
for (const event of ['unhandledRejection', 'uncaughtException'] as const) {
  process.on(event, (error: unknown) => {
    console.error(
      `runner: ${event === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'}:`,
      error,
    );
    stop(1);
  });
}
process.on('exit', removeUnfinishedWrites);

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    stop(1);
  },
);
