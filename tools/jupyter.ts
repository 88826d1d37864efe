/**
 * `npm run jupyter [-- jupyter args...]`: registers the kernelspecs "TypeScript (tslab)" and "TypeScript (Deno)" in
 * `.jupyter/` and starts JupyterLab (or, without it, Jupyter Notebook) on `notebooks/` with `JUPYTER_PATH` pointing
 * there. Nothing is installed globally. `npm run kernel:install` (`--install-only`) only registers them, e.g. for
 * VS Code.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { DenoUnavailableError } from './notebooks/deno.ts';
import {
  findJupyter,
  INSTALL_HINT,
  installKernelspecs,
  JUPYTER_DATA,
  jupyterEnv,
  NOTARY_ARGS,
  ROOT,
  trustNotebooks,
} from './notebooks/jupyter-env.ts';

const program = new Command()
  .name('npm run jupyter --')
  .description(
    'Register the tslab and Deno kernelspecs in .jupyter/ and start JupyterLab (or Jupyter Notebook) on\n' +
      'notebooks/. Deno is fetched from the npm registry the first time (once per machine, about 92 MB).\n' +
      'Arguments it does not know are passed to Jupyter, e.g. `npm run jupyter -- --no-browser --port 8888`.',
  )
  .option('--install-only', 'only register the kernelspecs (npm run kernel:install)', false)
  .argument('[jupyterArgs...]', 'passed through to jupyter lab / jupyter notebook')
  .allowUnknownOption()
  .parse();

const { installOnly } = program.opts<{ installOnly: boolean }>();

let python: string;
try {
  ({ python } = installKernelspecs({ kernels: ['tslab'] }));
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
}
try {
  installKernelspecs({ kernels: ['deno'] });
} catch (error) {
  // tslab is the kernel the notebooks are recorded with; without Deno the notebooks still open.
  if (!(error instanceof DenoUnavailableError)) {
    console.error(`error: ${(error as Error).message}`);
    process.exit(1);
  }
  console.error(`warning: only the tslab kernel is registered: ${error.message}`);
}
if (installOnly) {
  console.log(
    `Jupyter finds them with JUPYTER_PATH=${JUPYTER_DATA}; in VS Code, pick "TypeScript (tslab)" or ` +
      '"TypeScript (Deno)" under Select Kernel > Jupyter Kernel.',
  );
  process.exit(0);
}

const app = findJupyter('lab') ? 'lab' : findJupyter('notebook') ? 'notebook' : null;
if (!app) {
  console.error(`error: neither JupyterLab nor Jupyter Notebook is installed.\n${INSTALL_HINT}`);
  process.exit(1);
}
const jupyter = findJupyter(app) ?? 'jupyter';
const notebookDir = join(ROOT, 'notebooks');
// The project's own notebooks are trusted, so their recorded charts show (untrusted, Jupyter drops the SVG and shows
// its text fallback); a failure to sign is said, and the notebooks still open.
const ownNotebooks = readdirSync(notebookDir)
  .filter((name) => name.endsWith('.ipynb'))
  .map((name) => join(notebookDir, name));
try {
  trustNotebooks(python, ownNotebooks);
  console.log(`trusted the ${ownNotebooks.length} notebooks in ${notebookDir}`);
} catch (error) {
  console.error(
    `warning: the notebooks are not trusted (their charts show as text): ${(error as Error).message}`,
  );
}
const args = [app, `--notebook-dir=${notebookDir}`, ...NOTARY_ARGS, ...program.args];
// Jupyter refuses to run as root (as in containers and CI) unless told; being root there is not a choice.
if (process.getuid?.() === 0 && !args.includes('--allow-root')) args.push('--allow-root');
console.log(`starting: ${jupyter} ${args.join(' ')}`);

// With a terminal, Jupyter stays in the terminal's foreground process group: Ctrl-C reaches it once, from the
// terminal, and its "Shutdown this notebook server (y/[n])?" prompt reads the user's answer. Without one, it gets a
// process group of its own, so a signal sent to the whole group (a process manager, `kill -INT -<pgid>`) reaches
// it only through us, once: two SIGINTs would cut its kernel shutdown short and leave a kernel behind.
const terminal = Boolean(process.stdin.isTTY);
const child = spawn(jupyter, args, {
  stdio: ['inherit', 'inherit', 'pipe'],
  env: jupyterEnv(),
  detached: !terminal,
});

// Jupyter logs to stderr; pass it on, and say where the server is once it is up.
const URL_WITH_TOKEN = /(https?:\/\/(?:127\.0\.0\.1|localhost)[^\s]*\?token=[0-9a-f]+)/;
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

/**
 * Passes a signal on at most once per burst: the launcher may forward a copy of one we also got from the group.
 * With a terminal, SIGINT is the terminal's and Jupyter has it already.
 */
const FORWARD_WINDOW_MS = 500;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  let last = -Infinity;
  process.on(signal, () => {
    if (terminal && signal === 'SIGINT') return;
    const now = performance.now();
    if (now - last < FORWARD_WINDOW_MS) return;
    last = now;
    child.kill(signal);
  });
}
// If this process ends before Jupyter (an uncaught error), Jupyter is told to stop rather than left running.
process.on('exit', () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
