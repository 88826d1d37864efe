/**
 * Parse (nbclient's `initialize`): the runner's command line, as given after the script, into {@link RunnerOptions};
 * and the parsers of the options the notebook commands share (`npm run notebooks`, `npm run notebooks:nbconvert`).
 * Nothing here reads `process.argv` or ends the process: the CLI (`tools/run-notebooks.ts`) does both.
 */
import { availableParallelism } from 'node:os';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { KERNEL_NAMES, type KernelName, kernelKind } from './kernels.ts';

/** A parser for an option that takes a positive number (a whole one when `integer`), named `name` in its error. */
export function positiveNumber(name: string, integer: boolean) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0 || (integer && !Number.isInteger(number))) {
      throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'whole number' : 'number'}.`);
    }
    return number;
  };
}

/** Parses `--kernel tslab,deno` into kernel names, each once, in the order given. */
export function kernelList(value: string): KernelName[] {
  try {
    return [...new Set(value.split(',').map((name) => kernelKind(name.trim()).name))];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** What the runner was asked to do. */
export interface RunnerOptions {
  /** The notebooks and folders named on the command line (none: every `notebooks/*.ipynb`). */
  paths: string[];
  /** The kernels to run each notebook on, each once, in the order given. */
  kernels: KernelName[];
  /** Run into memory and compare with the recorded outputs; never write. */
  check: boolean;
  /** Write the executed notebooks into this folder instead of over the originals. */
  out?: string;
  /** Record failing cells and go on. */
  allowErrors: boolean;
  /** Per cell, per notebook and for a kernel's start-up, in seconds. */
  timeout: number;
  notebookTimeout: number;
  startupTimeout: number;
  /** Notebooks run at the same time. */
  jobs: number;
}

/** The outcome of {@link parseRunnerArgs}: options to run with, or the exit code after help or a usage error. */
export type ParsedArgs = { options: RunnerOptions } | { exitCode: number };

function program(): Command {
  return new Command()
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
    .showHelpAfterError()
    .exitOverride();
}

/** Options that are each valid but do not go together, or `null` when they do. */
function conflict(options: RunnerOptions): string | null {
  if (!options.check && options.kernels.length > 1) {
    return 'error: --kernel with more than one kernel needs --check (one run is written per notebook)';
  }
  if (!options.check && !options.out && options.kernels[0] !== 'tslab') {
    return (
      `error: the recorded outputs are tslab's; run ${options.kernels[0]} with --check to compare, or --out DIR ` +
      'to write its run elsewhere'
    );
  }
  return null;
}

/**
 * Parses the runner's arguments (`argv` without `node` and the script). `--help`, and any error, is written by
 * commander (help to stdout, errors to stderr with the usage after them); the result then carries the exit code.
 * An error names the option and the value it refused.
 */
export function parseRunnerArgs(argv: readonly string[]): ParsedArgs {
  const cli = program();
  try {
    cli.parse([...argv], { from: 'user' });
    const opts = cli.opts<Omit<RunnerOptions, 'paths' | 'kernels'> & { kernel: KernelName[] }>();
    const { kernel, ...rest } = opts;
    const options: RunnerOptions = { ...rest, paths: [...cli.args], kernels: kernel };
    const problem = conflict(options);
    if (problem) cli.error(problem);
    return { options };
  } catch (error) {
    if (error instanceof CommanderError) return { exitCode: error.exitCode };
    throw error;
  }
}
