/**
 * `npm run notebooks [-- paths...] [--kernel tslab,deno] [--check] [--allow-errors] [--timeout S] [--jobs N] ...`
 *
 * Executes notebooks in tslab kernels (or Deno's) and writes their outputs back as Jupyter would, or with `--check`
 * compares a fresh run against the recorded outputs without writing anything. As nbclient's CLI is: parse
 * (`runner/options.ts`), select (`runner/select.ts`), run one (`runner/batch.ts`, `runner/run.ts`), report
 * (`runner/report.ts`); this file owns the process: its arguments, output, signals and exit code.
 */
import { join, relative, resolve } from 'node:path';
import { removeUnfinishedWrites } from './nbformat/index.ts';
import { runAll } from './runner/batch.ts';
import { killAllKernels } from './runner/kernel.ts';
import { parseRunnerArgs } from './runner/options.ts';
import { Progress } from './runner/progress.ts';
import { exitCode, statusLine, summary } from './runner/report.ts';
import { planRuns, SelectionError, selectNotebooks } from './runner/select.ts';

const NOTEBOOKS = join(resolve(import.meta.dirname, '..'), 'notebooks');

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseRunnerArgs(argv);
  if ('exitCode' in parsed) return parsed.exitCode;
  const { options } = parsed;
  let paths: string[];
  try {
    paths = await selectNotebooks(options.paths, NOTEBOOKS);
  } catch (error) {
    if (!(error instanceof SelectionError)) throw error;
    console.error(`error: ${error.message}`);
    return 1;
  }
  if (paths.length === 0) {
    console.log(`no notebooks found in ${relative(process.cwd(), NOTEBOOKS) || '.'}`);
    return 0;
  }
  const runs = planRuns(paths, options.kernels, process.cwd());
  const progress = new Progress(
    process.stdout,
    runs.map((run) => run.label),
  );
  const outcomes = await runAll(runs, options, {
    started: (run) => progress.update(run.label, 'started'),
    cell: (run, cell, total) => progress.update(run.label, `cell ${cell}/${total} ...`),
    finished: (outcome) => progress.update(outcome.run.label, statusLine(outcome), true),
  });
  process.stdout.write(summary(outcomes, paths.length, options, process.cwd()));
  return exitCode(outcomes);
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    stop(1);
  },
);
