// What a run starts ends with it: the processes a cell starts the ordinary way (not detached) and, when the launcher
// itself is killed, the runner and its kernel.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serializeNotebook } from '../../../tools/nbformat/index.ts';
import { notebookOf } from '../../helpers/notebooks.ts';
import { childrenOf, isAlive } from '../../helpers/processes.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const LAUNCH = join(ROOT, 'tools', 'launch.mjs');
const CLI = join(ROOT, 'tools', 'run-notebooks.ts');
// Kernel start-up takes long on a loaded machine; these limits only bound a hang.
const SLOW = 600_000;

let dir: string;
const started: ChildProcess[] = [];
const pids = new Set<number>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-leaves-no-process-'));
});
afterAll(async () => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A cell that starts `sleep 1000` the ordinary way and writes its pid to `file`. */
function sleeperCell(file: string): string {
  return `const sleeper = require('node:child_process').spawn('sleep', ['1000'], { stdio: 'ignore' });
require('node:fs').writeFileSync(${JSON.stringify(file)}, String(sleeper.pid));`;
}

/** The pid the cell wrote to `file`: once the file exists and holds a whole number (it exists, empty, between the
 * cell's open and its write, and `Number('')` is 0, which no process has). */
async function waitForPid(file: string): Promise<number> {
  const pid = await vi.waitFor(
    () => {
      expect(existsSync(file)).toBe(true);
      const read = Number(readFileSync(file, 'utf8'));
      expect(Number.isInteger(read) && read > 0, `a pid in ${file}`).toBe(true);
      return read;
    },
    { timeout: SLOW, interval: 200 },
  );
  pids.add(pid);
  return pid;
}

describe('a run leaves no process behind', () => {
  it(
    'ends a process a cell started (not detached) when npm run notebooks finishes',
    async () => {
      const pidFile = join(dir, 'sleeper.pid');
      const path = join(dir, 'starts-a-process.ipynb');
      await writeFile(path, serializeNotebook(notebookOf([sleeperCell(pidFile), 'console.log("done")'])));
      const runner = spawn(process.execPath, [CLI, '--startup-timeout', '600', '--out', dir, path], {
        stdio: 'ignore',
      });
      started.push(runner);
      const sleeper = await waitForPid(pidFile);
      const code = await new Promise((resolve) => runner.once('exit', resolve));
      expect(code).toBe(0);
      // The runner waits for the kernel's process group before it exits; the grace only covers the last SIGKILL.
      await vi.waitFor(() => expect(isAlive(sleeper)).toBe(false), { timeout: 5_000, interval: 50 });
    },
    SLOW,
  );

  it(
    'ends the runner, its kernel and what a cell started when the launcher gets SIGKILL mid-run',
    async () => {
      const pidFile = join(dir, 'launcher-sleeper.pid');
      const path = join(dir, 'endless.ipynb');
      await writeFile(
        path,
        serializeNotebook(notebookOf([sleeperCell(pidFile), 'await new Promise(() => {});'])),
      );
      const launcher = spawn(
        process.execPath,
        [LAUNCH, '--no-ready', CLI, '--startup-timeout', '600', '--timeout', '600', '--out', dir, path],
        { stdio: 'ignore' },
      );
      started.push(launcher);
      const sleeper = await waitForPid(pidFile);
      const [runner] = childrenOf(launcher.pid as number);
      if (!runner) throw new Error('the launcher has no child process');
      const [kernel] = childrenOf(runner.pid);
      if (!kernel) throw new Error('the runner has no kernel process');
      for (const pid of [runner.pid, kernel.pid]) pids.add(pid);
      expect([isAlive(runner.pid), isAlive(kernel.pid), isAlive(sleeper)]).toEqual([true, true, true]);

      launcher.kill('SIGKILL');
      await vi.waitFor(
        () =>
          expect([isAlive(runner.pid), isAlive(kernel.pid), isAlive(sleeper)]).toEqual([false, false, false]),
        { timeout: 30_000, interval: 100 },
      );
    },
    SLOW,
  );
});
