// `npm run bench [-- --quick] [-- --json FILE] [-- --markdown FILE] [-- --only id,id]`: async-batching side by side
// with the libraries a user would pick instead. See bench/RESULTS.md for the latest figures.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { COMPARISON_IDS, type Mode } from './comparisons.ts';
import type { Comparison } from './harness.ts';
import {
  currentLoad,
  formatConsole,
  formatMarkdown,
  machine,
  type Results,
  validateComparison,
} from './report.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, 'child.ts');

const HELP = `Usage: npm run bench -- [options]

Measures async-batching against p-limit, p-queue, async, p-map, undici, fetch, got, axios and Jupyter's nbconvert,
each comparison in a fresh process, and prints a table with the ratio of every row to ours.

Options:
  --quick            smaller counts, fewer rounds (under a minute); writes no file unless --json/--markdown say where
  --json FILE        where to write the numbers (default: bench/results.json, for a full run of every comparison)
  --markdown FILE    where to write the Markdown tables (default: bench/RESULTS.md, likewise)
  --only IDS         comma-separated subset of: ${COMPARISON_IDS.join(', ')}
  --merge            put the comparisons measured into the existing --json file (default bench/results.json) in
                     place of theirs, each noting the command and load that made it, and rewrite --markdown
                     (default bench/RESULTS.md) from the whole
  -h, --help         this text
`;

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  await writeFile(temp, text);
  await rename(temp, path);
}

/** Runs one comparison in a fresh process; a crash becomes a "not measured" comparison instead of ending the run. */
function runInChild(id: string, mode: Mode): Promise<Comparison> {
  return new Promise((resolve) => {
    let result: Comparison | undefined;
    const child = fork(CHILD, [id, mode], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('message', (m) => {
      result = m as Comparison;
    });
    child.on('exit', (code, signal) => {
      if (result !== undefined) {
        resolve(result);
        return;
      }
      const why = stderr.trim().split('\n').slice(-4).join(' | ') || `exit code ${code}, signal ${signal}`;
      resolve({
        id,
        title: id,
        workload: '',
        unit: 'ms',
        baseline: '',
        rows: [],
        targets: [{ text: 'the comparison ran', holds: null, actual: 'crashed' }],
        notMeasured: `the benchmark process failed: ${why}`,
      });
    });
  });
}

/** The results in `path` with `measured` in place of the comparisons of the same ids (appended when new). */
async function merged(path: string, measured: readonly Comparison[]): Promise<Results> {
  const results = JSON.parse(await readFile(path, 'utf8')) as Results;
  for (const c of measured) {
    const i = results.comparisons.findIndex((old) => old.id === c.id);
    if (i === -1) results.comparisons.push(c);
    else results.comparisons[i] = c;
  }
  return results;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      markdown: { type: 'string' },
      only: { type: 'string' },
      merge: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const ids = values.only === undefined ? [...COMPARISON_IDS] : values.only.split(',').map((s) => s.trim());
  for (const id of ids) {
    if (!COMPARISON_IDS.includes(id)) {
      throw new RangeError(
        `Expected \`--only\` to name comparisons among ${COMPARISON_IDS.join(', ')}, got ${id}`,
      );
    }
  }
  const mode: Mode = values.quick ? 'quick' : 'full';
  // The committed files always hold a complete full run; anything smaller goes only where it is asked to.
  const complete = mode === 'full' && values.only === undefined;
  const jsonPath = values.json ?? (complete || values.merge ? join(HERE, 'results.json') : undefined);
  const markdownPath = values.markdown ?? (complete || values.merge ? join(HERE, 'RESULTS.md') : undefined);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`;

  const started = performance.now();
  const loadBefore = currentLoad();
  const comparisons: Comparison[] = [];
  for (const id of ids) {
    process.stderr.write(`bench: ${id} (${mode})...\n`);
    const at = new Date().toISOString();
    const before = currentLoad();
    const c = await runInChild(id, mode);
    if (values.merge) c.measured = { command, at, loadBefore: before, loadAfter: currentLoad() };
    comparisons.push(c);
    process.stdout.write(formatConsole({ comparisons: [c] } as Results).replace(/^\n1\. /, '\n'));
  }
  const results: Results = {
    generatedAt: new Date().toISOString(),
    mode,
    ...machine(),
    loadBefore,
    loadAfter: currentLoad(),
    durationSeconds: (performance.now() - started) / 1000,
    comparisons,
  };
  const problems = comparisons.flatMap(validateComparison);
  for (const p of problems) process.stderr.write(`bench: malformed result: ${p}\n`);
  const written = values.merge ? await merged(jsonPath as string, comparisons) : results;
  if (jsonPath !== undefined) await writeAtomically(jsonPath, `${JSON.stringify(written, null, 2)}\n`);
  if (markdownPath !== undefined) await writeAtomically(markdownPath, formatMarkdown(written));
  const missed = comparisons.flatMap((c) =>
    c.targets.filter((t) => t.holds === false).map((t) => `${c.title}: ${t.text}`),
  );
  process.stdout.write(
    `\n${comparisons.length} comparisons in ${Math.round(results.durationSeconds)} s; load average ` +
      `${loadBefore.toFixed(2)} -> ${results.loadAfter.toFixed(2)}. Targets missed: ${missed.length === 0 ? 'none' : missed.join('; ')}\n`,
  );
  if (jsonPath !== undefined) process.stdout.write(`wrote ${jsonPath}\n`);
  if (markdownPath !== undefined) process.stdout.write(`wrote ${markdownPath}\n`);
  // A missed target is a finding to report, not a failure of the harness; a malformed result is.
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main();
