/**
 * Starting Jupyter for `npm run jupyter`: the project's kernelspecs registered, its notebooks trusted, then JupyterLab
 * (or Jupyter Notebook) on `notebooks/`, with its URL announced once it listens and signals passed on exactly once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { DenoUnavailableError } from './deno.ts';
import { findJupyter, installKernelspecs, jupyterEnv, NOTARY_ARGS, ROOT, trustNotebooks } from './jupyter.ts';

/** What `npm run jupyter` was asked to do. */
export interface JupyterOptions {
  /** Only register the kernelspecs (`npm run kernel:install`). */
  installOnly: boolean;
  /** Passed through to `jupyter lab` / `jupyter notebook`. */
  jupyterArgs: string[];
}

/** Parses the arguments (without `node` and the script); unknown options are Jupyter's. */
export function parseJupyterArgs(
  argv: readonly string[],
): { options: JupyterOptions } | { exitCode: number } {
  const cli = new Command()
    .name('npm run jupyter --')
    .description(
      'Register the tslab and Deno kernelspecs in .jupyter/ and start JupyterLab (or Jupyter Notebook) on\n' +
        'notebooks/. Deno is fetched from the npm registry the first time (once per machine, about 92 MB).\n' +
        'Arguments it does not know are passed to Jupyter, e.g. `npm run jupyter -- --no-browser --port 8888`.',
    )
    .option('--install-only', 'only register the kernelspecs (npm run kernel:install)', false)
    .argument('[jupyterArgs...]', 'passed through to jupyter lab / jupyter notebook')
    .allowUnknownOption()
    .exitOverride();
  try {
    cli.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return { exitCode: error.exitCode };
    throw error;
  }
  const { installOnly } = cli.opts<{ installOnly: boolean }>();
  return { options: { installOnly, jupyterArgs: [...cli.args] } };
}

/**
 * Registers tslab's kernelspec, then Deno's. tslab is the kernel the notebooks are recorded with: without it this
 * throws. Without Deno the notebooks still open: the result then carries the warning to show.
 */
export function registerKernelspecs(): { python: string; warning: string | null } {
  const { python } = installKernelspecs({ kernels: ['tslab'] });
  try {
    installKernelspecs({ kernels: ['deno'] });
    return { python, warning: null };
  } catch (error) {
    if (!(error instanceof DenoUnavailableError)) throw error;
    return { python, warning: `only the tslab kernel is registered: ${error.message}` };
  }
}

/** JupyterLab when it is installed, else Jupyter Notebook, else `null`; with the `jupyter` command that has it. */
export function jupyterApp(): { app: 'lab' | 'notebook'; jupyter: string } | null {
  for (const app of ['lab', 'notebook'] as const) {
    const jupyter = findJupyter(app);
    if (jupyter) return { app, jupyter };
  }
  return null;
}

/**
 * Signs the project's own notebooks as trusted, so their recorded charts show (untrusted, Jupyter drops the SVG and
 * shows its text fallback).
 * @returns how many were signed.
 * @throws {Error} when signing fails (the notebooks still open, their charts as text).
 */
export function trustProjectNotebooks(python: string): number {
  const notebookDir = join(ROOT, 'notebooks');
  const own = readdirSync(notebookDir)
    .filter((name) => name.endsWith('.ipynb'))
    .map((name) => join(notebookDir, name));
  trustNotebooks(python, own);
  return own.length;
}

const URL_WITH_TOKEN = /(https?:\/\/(?:127\.0\.0\.1|localhost)[^\s]*\?token=[0-9a-f]+)/;

/**
 * Starts `jupyter <app>` on `notebooks/` and passes its log on, announcing `Jupyter is up: <url>` once it listens.
 * With a terminal, Jupyter stays in the terminal's foreground process group: Ctrl-C reaches it once, from the
 * terminal, and its "Shutdown this notebook server (y/[n])?" prompt reads the user's answer. Without one, it gets a
 * process group of its own, so a signal sent to the whole group (a process manager, `kill -INT -<pgid>`) reaches it
 * only through {@link forwardSignals}, once: two SIGINTs would cut its kernel shutdown short and leave a kernel behind.
 */
export function startJupyter(
  jupyter: string,
  app: 'lab' | 'notebook',
  extraArgs: readonly string[],
  terminal: boolean,
): ChildProcess {
  const args = [app, `--notebook-dir=${join(ROOT, 'notebooks')}`, ...NOTARY_ARGS, ...extraArgs];
  // Jupyter refuses to run as root (as in containers and CI) unless told; being root there is not a choice.
  if (process.getuid?.() === 0 && !args.includes('--allow-root')) args.push('--allow-root');
  process.stdout.write(`starting: ${jupyter} ${args.join(' ')}\n`);
  const child = spawn(jupyter, args, {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: jupyterEnv(),
    detached: !terminal,
  });
  let announced = false;
  let pendingLog = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    if (announced) return;
    pendingLog = (pendingLog + chunk.toString('utf8')).slice(-4096);
    const url = URL_WITH_TOKEN.exec(pendingLog)?.[1];
    if (url) {
      announced = true;
      process.stdout.write(`\nJupyter is up: ${url}\n\n`);
    }
  });
  return child;
}

/**
 * Passes SIGINT, SIGTERM and SIGHUP on to Jupyter at most once per burst: the launcher may forward a copy of one we
 * also got from the group. With a terminal, SIGINT is the terminal's and Jupyter has it already. If this process ends
 * before Jupyter (an uncaught error), Jupyter is told to stop rather than left running.
 */
export function forwardSignals(child: ChildProcess, terminal: boolean, windowMs = 500): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    let last = -Infinity;
    process.on(signal, () => {
      if (terminal && signal === 'SIGINT') return;
      const now = performance.now();
      if (now - last < windowMs) return;
      last = now;
      child.kill(signal);
    });
  }
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
}
