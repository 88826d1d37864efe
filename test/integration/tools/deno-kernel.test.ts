// The second kernel: the runner and the nbconvert check on Deno's kernel (fetched from npm when first needed), beside
// tslab, with real kernels and real Jupyter.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { denoPath } from '../../../tools/env/deno.ts';
import { type Notebook, serializeNotebook } from '../../../tools/nbformat/index.ts';
import { notebookOf } from '../../helpers/notebooks.ts';
import { childrenOf, isAlive } from '../../helpers/processes.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const RUNNER = join(ROOT, 'tools', 'run-notebooks.ts');
const NBCONVERT = join(ROOT, 'tools', 'nbconvert-check.ts');
// Kernel start-up took over 30 s on a loaded 2-core machine, and the first test may fetch Deno; these limits only
// bound a hang.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd: ROOT, timeout: 600_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** A notebook recorded for tslab, a markdown cell first (cell numbers count it), then a code cell per source. */
function notebook(...sources: string[]): Notebook {
  const kernelspec = { display_name: 'TypeScript', language: 'typescript', name: 'tslab' };
  const built = notebookOf(sources, { kernelspec });
  built.cells.unshift({ cell_type: 'markdown', metadata: {}, source: '# A fixture' });
  return built;
}

let dir: string;
const started: ChildProcess[] = [];
const denos = new Set<number>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deno-kernel-'));
  // Fetched here once (a no-op when cached), so that no test below pays for the download inside its own limits.
  denoPath();
});
afterAll(async () => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  for (const pid of denos) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Writes a notebook and records its outputs on tslab, as `npm run notebooks` does. */
async function recorded(name: string, ...sources: string[]): Promise<string> {
  const path = join(dir, `${name}.ipynb`);
  await writeFile(path, serializeNotebook(notebook(...sources)));
  const recording = await run(RUNNER, [path]);
  expect(recording.code, recording.stdout + recording.stderr).toBe(0);
  return path;
}

describe('npm run notebooks -- --check --kernel tslab,deno', () => {
  it("passes a notebook whose outputs differ between the kernels only in the kernels' ways", async () => {
    const path = await recorded(
      'same',
      "console.log({ title: 'Twisted', links: [1, 2] });",
      "console.table([{ title: 'Twisted', characters: 8060 }]);",
      "const parts = ['a', 'b'];\nparts.join(' and ')",
      'parts.length * 5',
    );
    const check = await run(RUNNER, ['--check', '--kernel', 'tslab,deno', path]);
    expect(check.stdout).toMatch(/same \[tslab\]\s+ok \(matches\)/);
    expect(check.stdout).toMatch(/same \[deno\]\s+ok \(matches\)/);
    expect(check.stdout).toContain('checked 1 notebook on tslab and deno: 2 ok, 0 failed');
    expect(check.code).toBe(0);
  });

  it('fails a cell that breaks on Deno only, naming the kernel and the cell', async () => {
    const path = await recorded(
      'deno-breaks',
      "console.log('fine everywhere');",
      "if ('Deno' in globalThis) throw new RangeError('this cell breaks on Deno');\nconsole.log('tslab');",
    );
    const check = await run(RUNNER, ['--check', '--kernel', 'tslab,deno', path]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/deno-breaks \[tslab\]\s+ok \(matches\)/);
    expect(check.stdout).toMatch(
      /deno-breaks \[deno\]\s+FAILED cell 3: RangeError: this cell breaks on Deno/,
    );
    expect(check.stdout).toContain('deno-breaks.ipynb [deno]: cell 3: RangeError');
  });

  it("fails an output that differs on Deno beyond the kernels' known differences", async () => {
    const path = await recorded('deno-differs', "console.log('Deno' in globalThis ? 'one' : 'two');");
    const check = await run(RUNNER, ['--check', '--kernel', 'deno', path]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/deno-differs \[deno\]\s+DRIFT in cell 2/);
    expect(check.stdout).toContain('-two');
    expect(check.stdout).toContain('+one');
  });

  it('fails a cell that breaks on tslab only (a top-level for await), naming the kernel', async () => {
    const path = join(dir, 'tslab-breaks.ipynb');
    await writeFile(path, serializeNotebook(notebook('for await (const n of [1, 2]) console.log(n);')));
    const check = await run(RUNNER, ['--kernel', 'deno', '--out', join(dir, 'out'), path]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const both = await run(RUNNER, [
      '--check',
      '--kernel',
      'tslab,deno',
      join(dir, 'out', 'tslab-breaks.ipynb'),
    ]);
    expect(both.code).toBe(1);
    expect(both.stdout).toMatch(/tslab-breaks \[tslab\]\s+FAILED cell 2/);
    expect(both.stdout).toMatch(/tslab-breaks \[deno\]\s+ok \(matches\)/);
  });

  it("writes a Deno run only elsewhere: the recorded outputs are tslab's", async () => {
    const path = await recorded('in-place', "console.log('x');");
    const before = await readFile(path, 'utf8');
    const refused = await run(RUNNER, ['--kernel', 'deno', path]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /the recorded outputs are tslab's; run deno with --check to compare, or --out DIR/,
    );
    expect(await readFile(path, 'utf8')).toBe(before);
    const unknown = await run(RUNNER, ['--check', '--kernel', 'bun', path]);
    expect(unknown.stderr).toMatch(/Unknown kernel "bun"; expected one of tslab, deno/);
  });

  it('writes a Deno run into --out with the Deno kernelspec in its metadata', async () => {
    const path = await recorded('to-out', '1 + 1');
    const out = join(dir, 'deno-out');
    const written = await run(RUNNER, ['--kernel', 'deno', '--out', out, path]);
    expect(written.code, written.stdout + written.stderr).toBe(0);
    const notebook = JSON.parse(await readFile(join(out, 'to-out.ipynb'), 'utf8')) as Notebook;
    expect(notebook.metadata.kernelspec).toEqual({
      display_name: 'TypeScript (Deno)',
      language: 'typescript',
      name: 'deno',
    });
    // Recorded as Deno sent it: an execute_result, not tslab's printed line.
    const cell = notebook.cells[1];
    expect(cell.cell_type === 'code' && cell.outputs.map((output) => output.output_type)).toEqual([
      'execute_result',
    ]);
  });
});

describe('Deno comes from the npm registry, pinned, or from where the user says', () => {
  /** Runs `denoPath()` in a fresh process with `env`, and returns what it printed or the error it threw. */
  function denoPathWith(env: NodeJS.ProcessEnv): Promise<CliResult> {
    const script = `import(${JSON.stringify(join(ROOT, 'tools', 'env', 'deno.ts'))}).then(
      (m) => console.log(m.denoPath()),
      (e) => { console.error(e.name + ': ' + e.message); process.exitCode = 1; })`;
    return new Promise((done) => {
      execFile(
        process.execPath,
        ['-e', script],
        { env: { ...process.env, ...env } },
        (error, stdout, stderr) => {
          done({ code: error ? 1 : 0, stdout, stderr });
        },
      );
    });
  }

  it('refuses a deno of another version, naming the variable and the version needed', async () => {
    const wrong = await denoPathWith({ ASYNC_BATCHING_DENO: '/bin/true' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('DenoUnavailableError: ASYNC_BATCHING_DENO=/bin/true does not run');
    expect(wrong.stderr).toContain('the checks need Deno 2.9.6');
  });

  it('does not fetch when told not to, and says how to provide Deno instead', async () => {
    const empty = await mkdtemp(join(dir, 'no-deno-'));
    const refused = await denoPathWith({
      ASYNC_BATCHING_DENO: '',
      ASYNC_BATCHING_DENO_CACHE: empty,
      ASYNC_BATCHING_NO_DENO_DOWNLOAD: '1',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /Deno 2\.9\.6 is not in .*no-deno-.* and ASYNC_BATCHING_NO_DENO_DOWNLOAD=1 forbids/,
    );
    expect(refused.stderr).toContain('set ASYNC_BATCHING_DENO to a deno 2.9.6 executable');
  });

  it('uses the cached Deno 2.9.6 when there is one', async () => {
    const cached = await denoPathWith({});
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stdout.trim()).toBe(denoPath());
  });
});

describe('the Deno kernel never outlives the runner', () => {
  it('ends the Deno kernel and removes its connection file when the runner gets SIGKILL mid-cell', async () => {
    const marker = join(dir, 'endless.started');
    const path = join(dir, 'endless.ipynb');
    await writeFile(
      path,
      serializeNotebook(
        notebook(
          `Deno.writeTextFileSync(${JSON.stringify(marker)}, '');`,
          'await new Promise(() => setInterval(() => {}, 1_000));',
        ),
      ),
    );
    const runner = spawn(
      process.execPath,
      [RUNNER, '--check', '--kernel', 'deno', '--timeout', '600', path],
      {
        stdio: 'ignore',
      },
    );
    started.push(runner);
    await vi.waitFor(() => expect(existsSync(marker)).toBe(true), { timeout: 300_000, interval: 200 });
    // The runner's child is the supervisor; its child is Deno.
    const [supervisor] = childrenOf(runner.pid as number);
    const [deno] = childrenOf(supervisor.pid);
    expect(deno.cmdline.slice(1, 4)).toEqual(['jupyter', '--kernel', '--conn']);
    denos.add(deno.pid);
    const connectionDir = resolve(deno.cmdline[4], '..');
    expect(existsSync(connectionDir)).toBe(true);
    runner.kill('SIGKILL');
    await vi.waitFor(() => expect(isAlive(deno.pid)).toBe(false), { timeout: 30_000, interval: 100 });
    await vi.waitFor(() => expect(existsSync(connectionDir)).toBe(false), { timeout: 10_000, interval: 100 });
  });
});

describe('npm run notebooks:nbconvert on both kernels', () => {
  it('runs a notebook in real Jupyter on tslab and Deno, and names the kernel and cell that fail', async () => {
    const path = join(dir, 'nbconvert.ipynb');
    await writeFile(
      path,
      serializeNotebook(
        notebook("console.log('both');", "if ('Deno' in globalThis) throw new RangeError('breaks on Deno');"),
      ),
    );
    const check = await run(NBCONVERT, ['--kernel', 'tslab,deno', path]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/nbconvert\.ipynb \[tslab\]\s+ok/);
    expect(check.stdout).toMatch(/nbconvert\.ipynb \[deno\]\s+FAILED cell 3: RangeError: breaks on Deno/);
    expect(check.stdout).toMatch(/nbconvert on tslab: 1 of 1 notebooks ran/);
    expect(check.stdout).toMatch(/nbconvert on deno: 0 of 1 notebooks ran/);
  });
});
