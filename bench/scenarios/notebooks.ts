import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Comparison, median, type Row, ratio, times } from '../harness.ts';

export interface NotebooksParams {
  /** Measured runs of each side, alternating. */
  rounds: number;
  /** Only the first `limit` notebooks (by name); all of them when undefined. */
  limit?: number;
}

export const NOTEBOOKS_FULL: NotebooksParams = { rounds: 3 };
export const NOTEBOOKS_QUICK: NotebooksParams = { rounds: 1, limit: 1 };

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NOTEBOOKS = join(ROOT, 'notebooks');
const TSLAB = join(ROOT, 'node_modules', '.bin', 'tslab');
const PYTHON = '/usr/bin/python3';
const JUPYTER = 'jupyter';

interface Outcome {
  ms: number;
  code: number;
  output: string;
  tail: string;
}

/** Runs a command to its end and times it; a non-zero exit is returned, not thrown. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  const start = performance.now();
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const ms = performance.now() - start;
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      const output = `${stdout}\n${stderr}`;
      const tail = output
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('npm warn'))
        .slice(-3)
        .join(' | ');
      resolve({ ms, code, output, tail });
    });
  });
}

/** Why the comparison cannot run yet, or `undefined` when it can. */
export function notebooksMissing(): string | undefined {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  if (pkg.scripts?.notebooks === undefined) return 'there is no `npm run notebooks` script yet';
  if (!existsSync(NOTEBOOKS) || notebookFiles().length === 0) return 'there are no notebooks/*.ipynb yet';
  if (!existsSync(TSLAB)) return 'tslab is not installed';
  return undefined;
}

function notebookFiles(): string[] {
  return readdirSync(NOTEBOOKS)
    .filter((f) => f.endsWith('.ipynb'))
    .sort()
    .map((f) => join('notebooks', f));
}

function notMeasured(reason: string): Comparison {
  return {
    id: 'notebooks',
    title: 'Notebooks',
    workload: 'every notebook executed once',
    unit: 'ms',
    baseline: 'npm run notebooks',
    rows: [],
    targets: [{ text: 'faster than jupyter nbconvert --execute', holds: null, actual: 'not measured' }],
    notMeasured: reason,
  };
}

/**
 * Comparison 6: executing the notebooks with our runner (`--check`: executes and compares, writes nothing) against
 * Jupyter's nbconvert writing its executed copies to a temporary folder. Neither side rewrites notebooks/.
 */
export async function notebooksComparison(p: NotebooksParams): Promise<Comparison> {
  const missing = notebooksMissing();
  if (missing !== undefined) return notMeasured(missing);
  const files = notebookFiles().slice(0, p.limit);
  const scratch = await mkdtemp(join(tmpdir(), 'bench-notebooks-'));
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // tslab's launcher is `#!/usr/bin/env node`: the kernel must find the same Node as the runner.
      PATH: `${join(process.execPath, '..')}${delimiter}${process.env.PATH ?? ''}`,
      JUPYTER_PATH: join(scratch, 'share', 'jupyter'),
    };
    const install = await timed(
      TSLAB,
      ['install', `--python=${PYTHON}`, `--binary=${TSLAB}`, `--prefix=${scratch}`],
      env,
    );
    if (install.code !== 0) return notMeasured(`tslab install failed: ${install.tail}`);
    const ours = ['run', 'notebooks', '--', '--check', ...(p.limit === undefined ? [] : files)];
    const theirs = [
      'nbconvert',
      '--to',
      'notebook',
      '--execute',
      '--ExecutePreprocessor.timeout=600',
      '--output-dir',
      join(scratch, 'out'),
      ...files,
    ];
    const sides = [
      {
        name: 'npm run notebooks',
        ours: true,
        how: `npm ${ours.join(' ')} (its default: 2 notebooks at a time)`,
        command: 'npm',
        args: ours,
        // Exit 1 with every notebook run to its end means the recorded outputs drifted: the timing still counts.
        ranThrough: (o: Outcome) => o.code === 0 || (o.code === 1 && !/\bFAILED\b/.test(o.output)),
      },
      {
        name: 'jupyter nbconvert',
        ours: false,
        how: 'jupyter nbconvert --to notebook --execute (tslab kernel, one notebook after another)',
        command: JUPYTER,
        args: theirs,
        ranThrough: (o: Outcome) => o.code === 0,
      },
    ];
    let drifted = false;
    const samples = sides.map(() => [] as number[]);
    for (let r = 0; r < p.rounds; r++) {
      for (let k = 0; k < sides.length; k++) {
        const i = (r + k) % sides.length;
        const side = sides[i];
        const outcome = await timed(side.command, side.args, env);
        if (!side.ranThrough(outcome)) {
          return notMeasured(
            `\`${side.command} ${side.args.join(' ')}\` exited with ${outcome.code}: ${outcome.tail}`,
          );
        }
        if (outcome.code !== 0) drifted = true;
        samples[i].push(outcome.ms);
      }
    }
    const rows: Row[] = sides.map((s, i) => ({
      name: s.name,
      ours: s.ours,
      how: s.how,
      value: median(samples[i]),
      samples: samples[i],
      perSecond: files.length / (median(samples[i]) / 1000),
    }));
    const vs = ratio(rows, 'jupyter nbconvert', 'npm run notebooks');
    return {
      id: 'notebooks',
      title: 'Notebooks',
      workload: `${files.length} notebook${files.length === 1 ? '' : 's'} executed once, wall time`,
      unit: 'ms',
      baseline: 'npm run notebooks',
      rows,
      targets: [{ text: 'faster than jupyter nbconvert --execute', holds: vs > 1, actual: times(vs) }],
      notes: drifted
        ? [
            '`--check` exited with 1 (outputs not recorded yet, or not as recorded); every notebook still ran to its end.',
          ]
        : [],
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
