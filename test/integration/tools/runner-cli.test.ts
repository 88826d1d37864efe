import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CodeCell, joinText, type Notebook, serializeNotebook } from '../../../tools/nbformat/index.ts';
import { Kernel } from '../../../tools/runner/kernel.ts';
import { runNotebook } from '../../../tools/runner/run.ts';
import { isAlive } from '../../helpers/processes.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
// Each test starts real tslab kernels, whose start-up alone took over 30 s on a loaded 2-core machine; these limits
// only bound a hang.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
const FIXTURES = join(ROOT, 'test', 'fixtures', 'notebooks');
const CLI = join(ROOT, 'tools', 'run-notebooks.ts');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 300_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** A fresh copy of the fixtures in its own folder, with node_modules linked so `import 'tslab'` resolves. */
async function workspace(base: string, name: string): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir);
  await cp(FIXTURES, dir, { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** Pids of tslab kernels whose working directory is `dir` (Linux /proc). */
async function kernelsIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (!cmdline.some((arg) => arg.endsWith('tslab')) || !cmdline.includes('kernel')) continue;
      if ((await readlink(`/proc/${entry}/cwd`)) === dir) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function codeCells(notebook: Notebook): CodeCell[] {
  return notebook.cells.filter((cell): cell is CodeCell => cell.cell_type === 'code');
}

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'runner-cli-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('npm run notebooks: a successful run', () => {
  let dir: string;
  let run: CliResult;
  let written: string;

  beforeAll(async () => {
    dir = await workspace(base, 'ok');
    run = await runCli([join(dir, 'outputs.ipynb'), join(dir, 'raises.ipynb'), '--jobs', '2']);
    written = await readFile(join(dir, 'outputs.ipynb'), 'utf8');
  });

  it('exits 0 and reports each notebook', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/outputs\s+ok/);
    expect(run.stdout).toMatch(/raises\s+ok .*\(1 expected error\)/);
  });

  it('writes the notebook in Jupyter’s format: one-space indent, sorted keys, lists of lines, trailing newline', () => {
    const notebook = JSON.parse(written) as Notebook;
    expect(written).toBe(serializeNotebook(notebook));
    expect(written.startsWith('{\n "cells": [\n  {\n   "cell_type": "markdown",')).toBe(true);
    expect(written.endsWith('\n "nbformat": 4,\n "nbformat_minor": 5\n}\n')).toBe(true);
    expect(written).toContain('"naïve – ✓\\n"');
    expect(notebook.metadata.language_info).toMatchObject({ name: 'typescript' });
  });

  it('records prints, values, rich displays, awaited values and display updates', () => {
    const [prints, display, awaited, updated, returns, random, timing, skipped] = codeCells(
      JSON.parse(written),
    );
    expect(prints.execution_count).toBe(1);
    expect(prints.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: ['hello\n'] },
      { output_type: 'stream', name: 'stderr', text: ['a warning\n'] },
      { output_type: 'stream', name: 'stdout', text: ['naïve – ✓\n', '2\n'] },
    ]);
    expect(
      display.outputs.map((output) => output.output_type === 'display_data' && Object.keys(output.data)),
    ).toEqual([['text/html'], ['image/svg+xml']]);
    expect(awaited.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: ['awaited\n'] }]);
    expect(updated.outputs).toEqual([
      { output_type: 'display_data', data: { 'text/plain': ['step 3 of 3'] }, metadata: {} },
    ]);
    expect(returns.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: ['done     \n', 'lines\n', 'continue\n'] },
    ]);
    expect(joinText((random.outputs[0] as { text: string[] }).text)).toMatch(/^took \d+\.\d ms\n$/);
    expect(timing.execution_count).toBe(7);
    expect(skipped.execution_count).toBeNull();
    expect(skipped.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: ['kept from before\n'] },
    ]);
  });

  it('records the error of a raises-exception cell and runs the cells after it', async () => {
    const [failing, after] = codeCells(JSON.parse(await readFile(join(dir, 'raises.ipynb'), 'utf8')));
    expect(joinText((failing.outputs[0] as { text: string[] }).text)).toContain('QuotaError: over the limit');
    expect(after.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: ['after the expected error\n'] },
    ]);
  });

  it('--check passes on the fresh notebooks and fails with a diff on a tampered output, writing nothing', async () => {
    const tampered = join(dir, 'tampered.ipynb');
    await writeFile(tampered, written.replace('"step 3 of 3"', '"step 2 of 3"'));
    const before = await readFile(tampered, 'utf8');
    const [clean, drift] = await Promise.all([
      runCli(['--check', join(dir, 'outputs.ipynb'), join(dir, 'raises.ipynb')]),
      runCli(['--check', tampered]),
    ]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/outputs\s+ok \(matches\)/);
    expect(await readFile(join(dir, 'outputs.ipynb'), 'utf8')).toBe(written);

    expect(drift.code).toBe(1);
    expect(drift.stdout).toMatch(/tampered\s+DRIFT in cell 5/);
    expect(drift.stdout).toContain('tampered.ipynb cell 5 (recorded)');
    expect(drift.stdout).toContain('\n-step 2 of 3\n+step 3 of 3\n');
    expect(await readFile(tampered, 'utf8')).toBe(before);
  });
});

// Independent runs, each in its own folder: run side by side to keep the suite quick.
describe.concurrent('npm run notebooks: failures leave the notebook untouched', () => {
  it('stops at a failing cell, names the notebook, cell and error, and exits 1', async () => {
    const dir = await workspace(base, 'failing');
    const before = await readFile(join(dir, 'failing.ipynb'), 'utf8');
    const run = await runCli([join(dir, 'failing.ipynb')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/failing\.ipynb: cell 3: RangeError: boom/);
    expect(run.stdout).not.toContain('never reached');
    expect(await readFile(join(dir, 'failing.ipynb'), 'utf8')).toBe(before);
    expect(await kernelsIn(dir)).toEqual([]);
  });

  it('kills a kernel stuck in a cell past --timeout and leaves no kernel process', async () => {
    const dir = await workspace(base, 'slow');
    const before = await readFile(join(dir, 'slow.ipynb'), 'utf8');
    const run = await runCli([join(dir, 'slow.ipynb'), '--timeout', '2']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('slow.ipynb: cell 2: Timeout: the cell did not finish within 2 s');
    expect(await readFile(join(dir, 'slow.ipynb'), 'utf8')).toBe(before);
    expect(await kernelsIn(dir)).toEqual([]);
  });

  it('rejects a malformed notebook and a missing path by name', async () => {
    const dir = await workspace(base, 'bad');
    const [malformed, missing] = await Promise.all([
      runCli([join(dir, 'malformed.ipynb')]),
      runCli([join(dir, 'missing.ipynb')]),
    ]);
    expect(malformed.code).toBe(1);
    expect(malformed.stdout).toMatch(/malformed\.ipynb: NotebookFormatError: not valid JSON/);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no such notebook or folder: ${join(dir, 'missing.ipynb')}`);
  });

  it('treats a raises-exception cell that succeeds as a failure', async () => {
    const dir = await workspace(base, 'unexpected');
    const path = join(dir, 'raises.ipynb');
    const notebook = JSON.parse(await readFile(path, 'utf8')) as Notebook;
    codeCells(notebook)[0].source = 'const fine = 1;';
    await writeFile(path, serializeNotebook(notebook));
    const result = await runNotebook(path, { cellTimeoutMs: 20_000 });
    expect(result.notebook).toBeNull();
    expect(result.failure).toMatchObject({ cellNumber: 1, kind: 'unexpected-success' });
  });

  it('reports a kernel that dies in a cell', async () => {
    const dir = await workspace(base, 'dies');
    const path = join(dir, 'dies.ipynb');
    const notebook = JSON.parse(await readFile(join(dir, 'failing.ipynb'), 'utf8')) as Notebook;
    codeCells(notebook)[1].source = 'process.exit(3);';
    await writeFile(path, serializeNotebook(notebook));
    const result = await runNotebook(path, { cellTimeoutMs: 20_000 });
    expect(result.failure).toMatchObject({ cellNumber: 3, kind: 'kernel-died' });
    expect(result.failure?.evalue).toContain('exit code 3');
  });
});

describe('Kernel', () => {
  it('ends its process on shutdown, even when a cell left a server open', async () => {
    const kernel = await Kernel.start({ cwd: base });
    const pid = kernel.pid ?? -1;
    expect(isAlive(pid)).toBe(true);
    const reply = await kernel.execute("require('node:net').createServer().listen(0, '127.0.0.1');");
    expect(reply.status).toBe('ok');
    await kernel.shutdown(500);
    expect(isAlive(pid)).toBe(false);
  });
});
