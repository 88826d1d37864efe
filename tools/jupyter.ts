/**
 * `npm run jupyter [-- jupyter args...]`: registers the tslab kernelspec in `.jupyter/` and starts JupyterLab (or,
 * without it, Jupyter Notebook) on `notebooks/` with `JUPYTER_PATH` pointing there. Nothing is installed globally.
 * `npm run kernel:install` (`--install-only`) only registers the kernelspec, e.g. for VS Code.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  findJupyter,
  INSTALL_HINT,
  installKernelspec,
  JUPYTER_DATA,
  jupyterEnv,
  ROOT,
} from './notebooks/jupyter-env.ts';

const program = new Command()
  .name('npm run jupyter --')
  .description(
    'Register the tslab kernelspec in .jupyter/ and start JupyterLab (or Jupyter Notebook) on notebooks/.\n' +
      'Arguments it does not know are passed to Jupyter, e.g. `npm run jupyter -- --no-browser --port 8888`.',
  )
  .option('--install-only', 'only register the kernelspec (npm run kernel:install)', false)
  .argument('[jupyterArgs...]', 'passed through to jupyter lab / jupyter notebook')
  .allowUnknownOption()
  .parse();

const { installOnly } = program.opts<{ installOnly: boolean }>();

try {
  installKernelspec();
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}
if (installOnly) {
  console.log(
    `Jupyter finds it with JUPYTER_PATH=${JUPYTER_DATA}; VS Code: pick the "TypeScript" (tslab) kernel.`,
  );
  process.exit(0);
}

const app = findJupyter('lab') ? 'lab' : findJupyter('notebook') ? 'notebook' : null;
if (!app) {
  console.error(`error: neither JupyterLab nor Jupyter Notebook is installed.\n${INSTALL_HINT}`);
  process.exit(1);
}
const jupyter = findJupyter(app) ?? 'jupyter';
const args = [app, `--notebook-dir=${join(ROOT, 'notebooks')}`, ...program.args];
// Jupyter refuses to run as root (as in containers and CI) unless told; being root there is not a choice.
if (process.getuid?.() === 0 && !args.includes('--allow-root')) args.push('--allow-root');
console.log(`starting: ${jupyter} ${args.join(' ')}`);
const child = spawn(jupyter, args, { stdio: 'inherit', env: jupyterEnv() });
// Jupyter asks for confirmation on the first Ctrl-C and handles it itself; pass signals on rather than die first.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
