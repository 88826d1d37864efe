import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isAlive } from '../../helpers/processes.ts';

// `npm run jupyter` end to end: npm → tools/launch.mjs → tools/jupyter.ts → Jupyter Notebook → a tslab kernel.
// Each test starts the whole chain, opens a kernel through Jupyter's REST API, sends one signal, and checks by PID
// that every process of the chain has ended. Needs Debian's jupyter-notebook (`npm test` brings it).
const ROOT = resolve(import.meta.dirname, '../../..');
const SLOW = 300_000;

/** Every descendant of `pid` (Linux /proc), found by parent links. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Ended while we looked.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const [child, parent] of parents) {
      if (parent === current) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

let session: { top: ChildProcess; pids: Set<number> } | null = null;

afterEach(() => {
  // A failing test must not leave its Jupyter or kernel behind for the next one.
  if (!session) return;
  for (const pid of [session.top.pid ?? 0, ...session.pids, ...descendants(session.top.pid ?? 0)]) {
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  session = null;
});

/** Starts `npm run jupyter` (under a pseudo-terminal with `tty`), waits for its URL, and starts a tslab kernel. */
async function startJupyter(tty: boolean) {
  const port = await freePort();
  const npm = `npm run jupyter -- --no-browser --port=${port} --port-retries=0`;
  const top = tty
    ? spawn('script', ['-qfec', npm, '/dev/null'], { cwd: ROOT, stdio: 'pipe', detached: true })
    : spawn('sh', ['-c', `exec ${npm}`], { cwd: ROOT, stdio: 'pipe', detached: true });
  const pids = new Set<number>();
  session = { top, pids };
  let output = '';
  top.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  top.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  await vi.waitFor(() => expect(output).toMatch(/Jupyter is up: http/), { timeout: SLOW, interval: 250 });
  const url = new URL(/Jupyter is up: (\S+)/.exec(output)![1]);
  const token = url.searchParams.get('token');
  expect(output.match(/Jupyter is up:/g)).toHaveLength(1);
  const response = await fetch(`http://127.0.0.1:${port}/api/kernels?token=${token}`, {
    method: 'POST',
    body: JSON.stringify({ name: 'tslab' }),
  });
  expect(response.status).toBe(201);
  await vi.waitFor(
    () => expect(descendants(top.pid!).some((pid) => commandOf(pid).includes('tslab'))).toBe(true),
    { timeout: SLOW, interval: 250 },
  );
  for (const pid of descendants(top.pid!)) pids.add(pid);
  const npmPid = [...pids].find((pid) => /(^|\/)npm( |$)|npm-cli/.test(commandOf(pid))) ?? top.pid!;
  return { top, pids, npmPid, output: () => output };
}

async function expectAllEnded(pids: Iterable<number>) {
  const all = [...pids];
  await vi.waitFor(() => expect(all.filter(isAlive).map((pid) => `${pid} ${commandOf(pid)}`)).toEqual([]), {
    timeout: 60_000,
    interval: 250,
  });
}

describe('npm run jupyter: signals end Jupyter and every kernel, once', () => {
  it(
    'SIGTERM to npm (no terminal) stops Jupyter and its kernel',
    async () => {
      const { top, pids, npmPid } = await startJupyter(false);
      process.kill(npmPid, 'SIGTERM');
      await expectAllEnded([top.pid!, ...pids]);
    },
    SLOW,
  );

  it(
    'SIGINT to npm (no terminal) stops Jupyter and its kernel',
    async () => {
      const { top, pids, npmPid } = await startJupyter(false);
      process.kill(npmPid, 'SIGINT');
      await expectAllEnded([top.pid!, ...pids]);
    },
    SLOW,
  );

  it(
    'SIGINT to the whole process group (no terminal) leaves no kernel behind',
    async () => {
      const { top, pids } = await startJupyter(false);
      process.kill(-top.pid!, 'SIGINT');
      await expectAllEnded([top.pid!, ...pids]);
    },
    SLOW,
  );

  it(
    'one Ctrl-C in a terminal reaches Jupyter once: it asks, and the answer is the user’s',
    async () => {
      const { top, pids, output } = await startJupyter(true);
      top.stdin?.write('\x03');
      await vi.waitFor(() => expect(output()).toMatch(/Shutdown this notebook server \(y\/\[n\]\)\?/), {
        timeout: 60_000,
        interval: 100,
      });
      // Not answered for the user: the server is still running while the question waits.
      expect(output()).not.toMatch(/Shutdown confirmed/);
      expect([...pids].filter(isAlive).length).toBeGreaterThan(0);
      top.stdin?.write('y\n');
      await vi.waitFor(() => expect(output()).toMatch(/Shutdown confirmed/), {
        timeout: 60_000,
        interval: 100,
      });
      await expectAllEnded([top.pid!, ...pids]);
    },
    SLOW,
  );
});
