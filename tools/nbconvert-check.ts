/**
 * `npm run notebooks:nbconvert [-- paths...] [--kernel tslab,deno]`: runs each notebook through real Jupyter
 * (`jupyter nbconvert --to notebook --execute`, i.e. nbclient) with the project's kernelspecs, tslab's and Deno's,
 * into a temporary folder, and fails naming the notebook, kernel and cell when a cell errors that is not tagged
 * `raises-exception`. The notebooks in the repository are never written.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import pLimit from 'p-limit';
import { kernelList, positiveNumber } from './notebooks/cli-options.ts';
import { findJupyter, INSTALL_HINT, installKernelspecs, jupyterEnv, ROOT } from './notebooks/jupyter-env.ts';
import { KERNEL_NAMES, type KernelName } from './notebooks/kernels.ts';

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

interface Outcome {
  path: string;
  kernel: KernelName;
  ok: boolean;
  message: string;
  seconds: number;
}

function firstErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  return lines.find((line) => /^\w*(Error|Exception)\b.*:/.test(line)) ?? lines.find(Boolean) ?? '';
}

async function check(
  jupyter: string,
  kernel: KernelName,
  path: string,
  outDir: string,
  config: string,
  timeout: number,
): Promise<Outcome> {
  const started = Date.now();
  const args = [
    'nbconvert',
    '--to',
    'notebook',
    '--execute',
    `--ExecutePreprocessor.kernel_name=${kernel}`,
    `--ExecutePreprocessor.timeout=${timeout}`,
    `--config=${config}`,
    '--output-dir',
    join(outDir, kernel),
    path,
  ];
  const child = spawn(jupyter, args, { env: jupyterEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = (Date.now() - started) / 1000;
  const reports = stderr
    .split('\n')
    .filter((line) => line.startsWith(MARKER))
    .map(
      (line) =>
        JSON.parse(line.slice(MARKER.length)) as {
          cell: number;
          status: string;
          expected: boolean;
          stderr: string;
        },
    );
  const unexpected = reports.find((report) => report.status === 'error' && !report.expected);
  if (unexpected) {
    return {
      path,
      kernel,
      ok: false,
      seconds,
      message: `cell ${unexpected.cell}: ${firstErrorLine(unexpected.stderr)}`,
    };
  }
  const refused = reports.find((report) => report.status !== 'ok' && report.status !== 'error');
  if (refused) {
    return {
      path,
      kernel,
      ok: false,
      seconds,
      message: `cell ${refused.cell}: the kernel answered ${refused.status}`,
    };
  }
  if (code !== 0) {
    const tail = stderr.trim().split('\n').slice(-15).join('\n');
    return { path, kernel, ok: false, seconds, message: `jupyter nbconvert exited with ${code}:\n${tail}` };
  }
  return { path, kernel, ok: true, seconds, message: `ok  ${seconds.toFixed(1)}s` };
}

async function main(): Promise<number> {
  const program = new Command()
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
    .parse();
  const options = program.opts<{ timeout: number; jobs: number; kernel: KernelName[] }>();

  let paths = program.args;
  if (paths.length === 0) {
    const dir = join(ROOT, 'notebooks');
    const names = await readdir(dir).catch(() => [] as string[]);
    paths = names
      .filter((name) => name.endsWith('.ipynb'))
      .sort()
      .map((name) => join(dir, name));
    if (paths.length === 0) {
      console.log('no notebooks found in notebooks/');
      return 0;
    }
  }
  for (const path of paths) {
    if (!(await stat(path).catch(() => null))?.isFile()) {
      console.error(`error: no such notebook: ${path}`);
      return 1;
    }
  }

  const jupyter = findJupyter('nbconvert');
  if (!jupyter) {
    console.error(
      `error: jupyter nbconvert is not installed, so the notebooks cannot be checked in Jupyter.\n${INSTALL_HINT}`,
    );
    return 1;
  }
  try {
    installKernelspecs({ quiet: true, kernels: options.kernel });
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }

  const outDir = await mkdtemp(join(tmpdir(), 'nbconvert-check-'));
  try {
    const config = join(outDir, 'nbconvert_config.py');
    await writeFile(config, CONFIG);
    const limit = pLimit(options.jobs);
    const outcomes = await Promise.all(
      options.kernel.flatMap((kernel) =>
        paths.map((path) =>
          limit(async () => {
            const outcome = await check(jupyter, kernel, path, outDir, config, options.timeout);
            const shown = `${relative(process.cwd(), path) || path} [${kernel}]`;
            console.log(`${shown}  ${outcome.ok ? outcome.message : `FAILED ${outcome.message}`}`);
            return outcome;
          }),
        ),
      ),
    );
    const failed = outcomes.filter((outcome) => !outcome.ok).length;
    for (const kernel of options.kernel) {
      const mine = outcomes.filter((outcome) => outcome.kernel === kernel);
      const seconds = mine.reduce((sum, outcome) => sum + outcome.seconds, 0);
      const ok = mine.filter((outcome) => outcome.ok).length;
      console.log(
        `nbconvert on ${kernel}: ${ok} of ${mine.length} notebooks ran in Jupyter without errors ` +
          `(${seconds.toFixed(1)} s of notebook time)`,
      );
    }
    return failed > 0 ? 1 : 0;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
