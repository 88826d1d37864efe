/**
 * `npm run jupyter [-- jupyter args...]`: registers the kernelspecs "TypeScript (tslab)" and "TypeScript (Deno)" in
 * `.jupyter/` and starts JupyterLab (or, without it, Jupyter Notebook) on `notebooks/` with `JUPYTER_PATH` pointing
 * there (`tools/env/jupyter-server.ts`). Nothing is installed globally. `npm run kernel:install` (`--install-only`)
 * only registers them, e.g. for VS Code. Exits with Jupyter's status, or 1 when Jupyter cannot be had.
 */
import { INSTALL_HINT, JUPYTER_DATA } from './env/jupyter.ts';
import {
  forwardSignals,
  jupyterApp,
  parseJupyterArgs,
  registerKernelspecs,
  startJupyter,
  trustProjectNotebooks,
} from './env/jupyter-server.ts';

const parsed = parseJupyterArgs(process.argv.slice(2));
if ('exitCode' in parsed) process.exit(parsed.exitCode);
const { options } = parsed;

let python: string;
try {
  const registered = registerKernelspecs();
  python = registered.python;
  if (registered.warning) console.error(`warning: ${registered.warning}`);
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}
if (options.installOnly) {
  console.log(
    `Jupyter finds them with JUPYTER_PATH=${JUPYTER_DATA}; in VS Code, pick "TypeScript (tslab)" or ` +
      '"TypeScript (Deno)" under Select Kernel > Jupyter Kernel.',
  );
  process.exit(0);
}

const found = jupyterApp();
if (!found) {
  console.error(`error: neither JupyterLab nor Jupyter Notebook is installed.\n${INSTALL_HINT}`);
  process.exit(1);
}
try {
  console.log(`trusted the ${trustProjectNotebooks(python)} notebooks in notebooks/`);
} catch (error) {
  console.error(
    `warning: the notebooks are not trusted (their charts show as text): ${(error as Error).message}`,
  );
}
const terminal = Boolean(process.stdin.isTTY);
const child = startJupyter(found.jupyter, found.app, options.jupyterArgs, terminal);
forwardSignals(child, terminal);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
