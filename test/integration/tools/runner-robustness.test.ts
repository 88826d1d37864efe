import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CodeCell, joinText, serializeNotebook } from '../../../tools/nbformat/index.ts';
import { OutputRecorder } from '../../../tools/runner/outputs.ts';
import { runNotebook } from '../../../tools/runner/run.ts';
import { notebookOf } from '../../helpers/notebooks.ts';
import { childrenOf, isAlive } from '../../helpers/processes.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const CLI = join(ROOT, 'tools', 'run-notebooks.ts');
// Kernel start-up and a 100,000-line cell take long on a loaded machine; these limits only bound a hang.
const SLOW = 600_000;

const notebook = (...sources: string[]) => notebookOf(sources);

let dir: string;
const started: ChildProcess[] = [];
const kernels = new Set<number>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-robustness-'));
});
afterAll(async () => {
  // Whatever happened in a test, nothing it started outlives the file.
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  for (const pid of kernels) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('stream output', () => {
  it('keeps the head and the tail of a long stream and says how much was dropped', () => {
    const recorder = new OutputRecorder({ maxStreamChars: 40 });
    recorder.beginCell();
    const header = { msg_id: 'm', msg_type: 'stream', session: 's', username: 'u', date: '', version: '5.3' };
    for (let i = 0; i < 1000; i++) {
      recorder.handle({
        header,
        parent_header: {},
        metadata: {},
        content: { name: 'stdout', text: `line ${i}\n` },
      });
    }
    const text = joinText(recorder.outputs[0].output_type === 'stream' ? recorder.outputs[0].text : '');
    expect(text.startsWith('line 0\nline 1\n')).toBe(true);
    expect(text.endsWith('line 998\nline 999\n')).toBe(true);
    expect(text).toMatch(
      /\n\[\.\.\. [\d,]+ lines \([\d,]+ characters\) of output dropped by the runner: one output keeps at most 40 characters/,
    );
    expect(text.length).toBeLessThan(300);
  });

  it(
    'completes a cell that prints 100,000 lines (no output message is lost past the 512th)',
    async () => {
      const path = join(dir, 'many-lines.ipynb');
      await writeFile(
        path,
        serializeNotebook(
          notebook("for (let i = 0; i < 100_000; i++) console.log('line ' + i);\nconsole.log('done');"),
        ),
      );
      const result = await runNotebook(path, {
        startupTimeoutMs: SLOW,
        cellTimeoutMs: SLOW,
        notebookTimeoutMs: SLOW,
      });
      expect(result.failure).toBeNull();
      const cell = result.notebook?.cells[0] as CodeCell;
      const text = cell.outputs
        .map((output) => (output.output_type === 'stream' ? joinText(output.text) : ''))
        .join('');
      expect(text.startsWith('line 0\nline 1\n')).toBe(true);
      expect(text.endsWith('line 99998\nline 99999\ndone\n')).toBe(true);
      expect(text).toMatch(/lines \([\d,]+ characters\) of output dropped by the runner/);
    },
    SLOW,
  );
});

/** Starts the runner on a notebook whose second cell never ends, and resolves once that cell runs. */
async function runnerInEndlessCell(
  name: string,
  endless: string,
): Promise<{ runner: ChildProcess; kernel: number; connectionDir: string }> {
  const marker = join(dir, `${name}.started`);
  const path = join(dir, `${name}.ipynb`);
  await writeFile(
    path,
    serializeNotebook(notebook(`require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')`, endless)),
  );
  const runner = spawn(process.execPath, [CLI, '--startup-timeout', '600', '--timeout', '600', path], {
    stdio: 'ignore',
  });
  started.push(runner);
  await vi.waitFor(() => expect(existsSync(marker)).toBe(true), { timeout: SLOW, interval: 200 });
  const [kernel] = childrenOf(runner.pid as number);
  if (!kernel) throw new Error('the runner has no kernel process');
  const config = kernel.cmdline[kernel.cmdline.indexOf('--config-path') + 1];
  kernels.add(kernel.pid);
  return { runner, kernel: kernel.pid, connectionDir: resolve(config, '..') };
}

describe("what the kernel starts is not the runner's", () => {
  it(
    'a process forked by a cell gets neither the lifeline nor the preload, and its IPC channel works',
    async () => {
      const child = join(dir, 'forked-child.cjs');
      await writeFile(
        child,
        `process.on('message', (m) => process.send({
        echo: m,
        lifeline: process.env.ASYNC_BATCHING_KERNEL_LIFELINE ?? null,
        folder: process.env.ASYNC_BATCHING_KERNEL_DIR ?? null,
        preload: process.execArgv.some((arg) => arg.includes('kernel-preload')),
      }, () => process.exit(0)));`,
      );
      const path = join(dir, 'forks.ipynb');
      await writeFile(
        path,
        serializeNotebook(
          notebook(
            `const { fork } = require('node:child_process');
const forked = fork(${JSON.stringify(child)});
const answer = new Promise((resolve) => forked.once('message', resolve));
for (let i = 0; i < 50; i++) forked.send('x'.repeat(1000));
console.log(JSON.stringify(await answer));`,
          ),
        ),
      );
      const result = await runNotebook(path, { cellTimeoutMs: 60_000 });
      expect(result.failure).toBeNull();
      const cell = result.notebook?.cells[0] as CodeCell;
      const printed = joinText((cell.outputs[0] as { text: string[] }).text);
      expect(JSON.parse(printed)).toEqual({
        echo: 'x'.repeat(1000),
        lifeline: null,
        folder: null,
        preload: false,
      });
    },
    SLOW,
  );
});

describe('the kernel never outlives the runner', () => {
  for (const [signal, endless] of [
    ['SIGKILL', 'while (true) {}'],
    ['SIGHUP', 'await new Promise(() => {});'],
    ['SIGTERM', 'while (true) {}'],
  ] as const) {
    it(
      `ends the kernel and removes its connection file when the runner gets ${signal} mid-cell`,
      async () => {
        const { runner, kernel, connectionDir } = await runnerInEndlessCell(signal, endless);
        expect(isAlive(kernel)).toBe(true);
        expect(existsSync(join(connectionDir, 'connection.json'))).toBe(true);
        runner.kill(signal);
        await vi.waitFor(() => expect(isAlive(kernel)).toBe(false), { timeout: 30_000, interval: 100 });
        await vi.waitFor(() => expect(existsSync(connectionDir)).toBe(false), {
          timeout: 10_000,
          interval: 100,
        });
      },
      SLOW,
    );
  }
});
