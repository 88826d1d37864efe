/**
 * Finding a Jupyter installation and registering the tslab kernelspec in the project-local `.jupyter/` folder, so
 * nothing is installed globally. Shared by `npm run jupyter`, `npm run kernel:install` and
 * `npm run notebooks:nbconvert`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../nbformat/index.ts';
import { KERNEL_PRELOAD, tslabBin } from './kernels.ts';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
/** The prefix the kernelspec is installed under (`<prefix>/share/jupyter/kernels/tslab`). */
export const JUPYTER_PREFIX = join(ROOT, '.jupyter');
/** The folder to put on `JUPYTER_PATH` so Jupyter finds the project's kernelspec. */
export const JUPYTER_DATA = join(JUPYTER_PREFIX, 'share', 'jupyter');

/**
 * The environment for anything that starts a Jupyter process: `JUPYTER_PATH` points at the project's kernelspec,
 * and this Node comes first on `PATH`, because the kernelspec starts `node_modules/.bin/tslab` through
 * `#!/usr/bin/env node`.
 */
export function jupyterEnv(): NodeJS.ProcessEnv {
  const jupyterPath = [JUPYTER_DATA, process.env.JUPYTER_PATH].filter(Boolean).join(delimiter);
  return {
    ...process.env,
    JUPYTER_PATH: jupyterPath,
    PATH: [dirname(process.execPath), process.env.PATH].filter(Boolean).join(delimiter),
  };
}

function works(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', env: jupyterEnv(), timeout: 30_000 });
  return result.status === 0;
}

/** `jupyter` commands to try: the one on PATH first, then Debian's. */
const JUPYTER_CANDIDATES = ['jupyter', '/usr/bin/jupyter', '/usr/local/bin/jupyter'];
/** Pythons to try for the kernelspec installer, which needs jupyter_client and IPython. */
const PYTHON_CANDIDATES = ['/usr/bin/python3', 'python3', '/usr/local/bin/python3'];

/** The first `jupyter` command whose `subcommand` works (e.g. `lab`, `notebook`, `nbconvert`), or `null`. */
export function findJupyter(subcommand: string): string | null {
  return JUPYTER_CANDIDATES.find((jupyter) => works(jupyter, [subcommand, '--version'])) ?? null;
}

/** The first Python that can run tslab's kernelspec installer, or `null`. */
export function findPython(): string | null {
  return (
    PYTHON_CANDIDATES.find((python) =>
      works(python, ['-c', 'import jupyter_client, IPython.utils.tempdir']),
    ) ?? null
  );
}

/** How to get Jupyter when none is installed. */
export const INSTALL_HINT = [
  'Install one of:',
  '  pip install jupyterlab                                     (JupyterLab, in a virtualenv or with --user)',
  '  apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient   (Debian/Ubuntu packages)',
].join('\n');

/**
 * Rewrites each tslab kernelspec under `kernelsDir` to start tslab's entry script with this process's Node by absolute
 * path, instead of `node_modules/.bin/tslab` and its `#!/usr/bin/env node`: a Jupyter client started with an older
 * Node first on PATH (VS Code, a plain `jupyter nbconvert`) then still runs the kernel on the supported Node.
 */
export function pinNode(kernelsDir: string, node = process.execPath): void {
  for (const name of readdirSync(kernelsDir)) {
    const file = join(kernelsDir, name, 'kernel.json');
    if (!existsSync(file)) continue;
    const spec = JSON.parse(readFileSync(file, 'utf8')) as { argv: string[] };
    const kernelAt = spec.argv.indexOf('kernel');
    if (kernelAt < 0) continue;
    // The preload keeps tslab from losing output past ~500 messages in a cell (see kernel-preload.cjs).
    spec.argv = [node, '--require', KERNEL_PRELOAD, tslabBin(), ...spec.argv.slice(kernelAt)];
    writeFileAtomicSync(file, `${JSON.stringify(spec, null, 2)}\n`);
  }
}

/**
 * Registers the tslab kernelspec (and tslab's JavaScript one) under `.jupyter/` with tslab's own installer, then
 * checks that Jupyter lists it.
 * @throws {Error} with the installer's output when Python/Jupyter is missing or the spec is not found afterwards.
 */
export function installKernelspec(options: { quiet?: boolean } = {}): { python: string; kernelDir: string } {
  const python = findPython();
  if (!python) {
    throw new Error(`no Python with jupyter_client found to register the tslab kernel.\n${INSTALL_HINT}`);
  }
  const binary = join(ROOT, 'node_modules', '.bin', 'tslab');
  const kernelDir = join(JUPYTER_DATA, 'kernels', 'tslab');
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run npm install first`);
  const result = spawnSync(
    process.execPath,
    [tslabBin(), 'install', `--python=${python}`, `--binary=${binary}`, `--prefix=${JUPYTER_PREFIX}`],
    { encoding: 'utf8', env: jupyterEnv() },
  );
  if (result.status !== 0 || !existsSync(join(kernelDir, 'kernel.json'))) {
    throw new Error(`tslab install failed:\n${result.stdout}${result.stderr}`);
  }
  pinNode(join(JUPYTER_DATA, 'kernels'));
  // Ask Jupyter itself (Debian ships no `jupyter kernelspec` command, so through jupyter_client).
  const listed = spawnSync(
    python,
    [
      '-c',
      'from jupyter_client.kernelspec import KernelSpecManager as M; print(M().find_kernel_specs()["tslab"])',
    ],
    { encoding: 'utf8', env: jupyterEnv() },
  );
  if (listed.status !== 0 || resolve(listed.stdout.trim()) !== kernelDir) {
    throw new Error(
      `Jupyter does not see the tslab kernelspec in ${kernelDir}:\n${listed.stdout}${listed.stderr}`,
    );
  }
  if (!options.quiet) process.stdout.write(`registered the tslab kernelspec in ${kernelDir}\n`);
  return { python, kernelDir };
}
