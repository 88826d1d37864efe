/**
 * Finding a Jupyter installation and registering the kernelspecs (tslab's and Deno's) in the project-local
 * `.jupyter/` folder, so nothing is installed globally. Shared by `npm run jupyter`, `npm run kernel:install` and
 * `npm run notebooks:nbconvert`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../nbformat/index.ts';
import { denoPath } from './deno.ts';
import { KERNEL_LAUNCH, KERNEL_PRELOAD, type KernelName, tslabBin } from './kernels.ts';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
/** The prefix the kernelspecs are installed under (`<prefix>/share/jupyter/kernels/tslab`, `.../deno`). */
export const JUPYTER_PREFIX = join(ROOT, '.jupyter');
/** The folder to put on `JUPYTER_PATH` so Jupyter finds the project's kernelspec. */
export const JUPYTER_DATA = join(JUPYTER_PREFIX, 'share', 'jupyter');

/**
 * Where Jupyter keeps the signatures of trusted notebooks (and the key they are made with) for the project: in
 * `.jupyter/`, like the kernelspecs, and passed to every Jupyter the project starts, so trusting the project's
 * notebooks writes nothing outside the repository.
 */
export const NOTARY_ARGS: readonly string[] = [
  `--NotebookNotary.db_file=${join(JUPYTER_PREFIX, 'nbsignatures.db')}`,
  `--NotebookNotary.secret_file=${join(JUPYTER_PREFIX, 'notebook_secret')}`,
];

/**
 * Signs `paths` as trusted (`jupyter trust`, run as `python -m nbformat.sign` since Debian ships that command in a
 * package of its own), so Jupyter shows their recorded charts: it drops SVG and sanitises HTML from outputs it did
 * not see being made. A notebook re-recorded afterwards needs signing again. `notaryArgs` picks another store.
 * @throws {Error} with nbformat's output when signing fails.
 */
export function trustNotebooks(
  python: string,
  paths: readonly string[],
  notaryArgs: readonly string[] = NOTARY_ARGS,
): void {
  if (paths.length === 0) return;
  const result = spawnSync(python, ['-m', 'nbformat.sign', ...notaryArgs, ...paths], {
    encoding: 'utf8',
    env: jupyterEnv(),
  });
  if (result.status !== 0) {
    throw new Error(`jupyter trust failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
}

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
    const spec = JSON.parse(readFileSync(file, 'utf8')) as { argv: string[]; display_name?: string };
    const kernelAt = spec.argv.indexOf('kernel');
    if (kernelAt < 0) continue;
    // The preload keeps tslab from losing output past ~500 messages in a cell (see kernel-preload.cjs).
    spec.argv = [node, '--require', KERNEL_PRELOAD, tslabBin(), ...spec.argv.slice(kernelAt)];
    // Beside Deno's, the picker must say which TypeScript kernel this is.
    if (name === 'tslab') spec.display_name = KERNEL_LAUNCH.tslab.displayName;
    writeFileAtomicSync(file, `${JSON.stringify(spec, null, 2)}\n`);
  }
}

/**
 * Registers the kernelspecs of `kernels` (default: both) under `.jupyter/`, each with its own installer, then checks
 * that Jupyter finds each one there.
 * @throws {Error} with the installer's output when Python/Jupyter is missing, Deno cannot be had, or a spec is not
 *   found afterwards.
 */
export function installKernelspecs(options: { quiet?: boolean; kernels?: readonly KernelName[] } = {}): {
  python: string;
  kernelDirs: Record<string, string>;
} {
  const python = findPython();
  if (!python) {
    throw new Error(`no Python with jupyter_client found to register the kernels.\n${INSTALL_HINT}`);
  }
  const kernelDirs: Record<string, string> = {};
  for (const kernel of options.kernels ?? ['tslab', 'deno']) {
    kernelDirs[kernel] = kernel === 'tslab' ? installTslab() : installDeno();
    expectListed(python, kernel, kernelDirs[kernel]);
    if (!options.quiet) {
      process.stdout.write(
        `registered the ${KERNEL_LAUNCH[kernel].displayName} kernelspec in ${kernelDirs[kernel]}\n`,
      );
    }
  }
  return { python, kernelDirs };
}

/**
 * tslab's kernelspec, written here rather than by `tslab install`, which always registers tslab's JavaScript kernel
 * ("jslab") beside it: the project has two kernels, and a third in the picker is one a reader could open a notebook
 * with by mistake. A "jslab" left by an earlier registration is removed. The spec is then pinned to this Node.
 */
function installTslab(): string {
  const kernelsDir = join(JUPYTER_DATA, 'kernels');
  const kernelDir = join(kernelsDir, 'tslab');
  mkdirSync(kernelDir, { recursive: true });
  rmSync(join(kernelsDir, 'jslab'), { recursive: true, force: true });
  const spec = {
    argv: ['tslab', 'kernel', '--config-path', '{connection_file}'],
    display_name: KERNEL_LAUNCH.tslab.displayName,
    language: 'typescript',
  };
  writeFileAtomicSync(join(kernelDir, 'kernel.json'), `${JSON.stringify(spec, null, 2)}\n`);
  pinNode(kernelsDir);
  return kernelDir;
}

/**
 * Deno's own installer. It ignores `JUPYTER_DATA_DIR` and writes under `$XDG_DATA_HOME/jupyter`, so that is pointed
 * into `.jupyter/share`; the spec then gets the environment the runner gives Deno (no update check, no prompts).
 */
function installDeno(): string {
  const deno = denoPath();
  const kernelDir = join(JUPYTER_DATA, 'kernels', 'deno');
  const result = spawnSync(
    deno,
    ['jupyter', '--install', '--force', '--name', 'deno', '--display', KERNEL_LAUNCH.deno.displayName],
    {
      encoding: 'utf8',
      env: { ...process.env, ...KERNEL_LAUNCH.deno.env, XDG_DATA_HOME: join(JUPYTER_PREFIX, 'share') },
    },
  );
  const file = join(kernelDir, 'kernel.json');
  if (result.status !== 0 || !existsSync(file)) {
    throw new Error(`deno jupyter --install failed:\n${result.stdout}${result.stderr}`);
  }
  const spec = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  spec.env = { ...(spec.env as Record<string, string> | undefined), ...KERNEL_LAUNCH.deno.env };
  writeFileAtomicSync(file, `${JSON.stringify(spec, null, 2)}\n`);
  return kernelDir;
}

/** Asks Jupyter itself where it finds `kernel` (Debian ships no `jupyter kernelspec` command: jupyter_client). */
function expectListed(python: string, kernel: KernelName, kernelDir: string): void {
  const listed = spawnSync(
    python,
    [
      '-c',
      `from jupyter_client.kernelspec import KernelSpecManager as M; print(M().find_kernel_specs()[${JSON.stringify(kernel)}])`,
    ],
    { encoding: 'utf8', env: jupyterEnv() },
  );
  if (listed.status !== 0 || resolve(listed.stdout.trim()) !== kernelDir) {
    throw new Error(
      `Jupyter does not see the ${kernel} kernelspec in ${kernelDir}:\n${listed.stdout}${listed.stderr}`,
    );
  }
}
