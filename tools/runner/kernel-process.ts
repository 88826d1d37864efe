/**
 * A kernel's process: its connection file on five free ports, the process started on it (in a process group of its
 * own when its kind says so, with its lifeline on fd 3), what it printed, how it ended, and its end: SIGTERM, then
 * SIGKILL, then whatever is left of its group, and the connection folder (the file in it holds the HMAC key).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KernelKind } from './kernels.ts';
import type { ConnectionInfo } from './protocol.ts';

/** What the process printed is kept up to this many characters (the last ones). */
const OUTPUT_LIMIT = 16_384;

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('could not read a free port');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Sends `signal` to every process of the group `pid` leads; `false` when none is left (ESRCH). */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** One kernel process and its connection file. Start it with {@link KernelProcess.start}; end it with `end()`. */
export class KernelProcess {
  readonly #child: ChildProcess;
  readonly #kind: KernelKind;
  readonly #connectionDir: string;
  readonly #exited: Promise<void>;
  #output = '';
  #exitReason: string | null = null;
  #removed = false;

  private constructor(kind: KernelKind, child: ChildProcess, connectionDir: string) {
    this.#kind = kind;
    this.#child = child;
    this.#connectionDir = connectionDir;
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitReason = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
      child.once('error', (error) => {
        this.#exitReason = `could not start: ${error.message}`;
        resolve();
      });
    });
  }

  /**
   * Writes a connection file on five ports free right now (another process may take one before the kernel binds
   * it: the caller then tries again) and starts `kind`'s kernel on it in `cwd`.
   */
  static async start(
    kind: KernelKind,
    cwd: string,
    env: NodeJS.ProcessEnv | undefined,
  ): Promise<{ process: KernelProcess; connection: ConnectionInfo }> {
    const [shell_port, iopub_port, stdin_port, control_port, hb_port] = await freePorts(5);
    const connection: ConnectionInfo = {
      transport: 'tcp',
      ip: '127.0.0.1',
      key: randomUUID(),
      signature_scheme: 'hmac-sha256',
      kernel_name: kind.name,
      shell_port,
      iopub_port,
      stdin_port,
      control_port,
      hb_port,
    };
    const connectionDir = await mkdtemp(join(tmpdir(), `${kind.name}-kernel-`));
    const connectionFile = join(connectionDir, 'connection.json');
    await writeFile(connectionFile, JSON.stringify(connection), { mode: 0o600 });
    let command: [string, ...string[]];
    try {
      command = kind.command(connectionFile);
    } catch (error) {
      await rm(connectionDir, { recursive: true, force: true });
      throw error;
    }
    const [program, ...args] = command;
    const child = spawn(program, args, {
      cwd,
      env: {
        ...process.env,
        ...kind.env,
        ...env,
        ASYNC_BATCHING_KERNEL_DIR: connectionDir,
        ASYNC_BATCHING_KERNEL_LIFELINE: '3',
      },
      // fd 3 is the kernel's lifeline: see tools/env/kernel-preload.cjs and kernel-supervisor.cjs.
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: kind.ownProcessGroup,
    });
    return { process: new KernelProcess(kind, child, connectionDir), connection };
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Whatever the process wrote to its stdout/stderr (the last 16 KiB). */
  get output(): string {
    return this.#output;
  }

  /** Resolves when the process has exited. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /** How it ended (`exit code 1`, `signal SIGKILL`, `could not start: ...`), or `null` while it runs. */
  get exitReason(): string | null {
    return this.#exitReason;
  }

  /** `; its output:` and what it printed, for an error message; empty when it printed nothing. */
  outputSuffix(): string {
    const text = this.#output.trim();
    return text ? `; its output:\n${text}` : '';
  }

  /**
   * Ends the process (SIGTERM, then SIGKILL after 1 s) and what is left of its process group, and removes the
   * connection folder. Safe to call more than once.
   */
  async end(): Promise<void> {
    if (this.#exitReason === null) {
      this.#signal('SIGTERM');
      const timer = setTimeout(() => this.#signal('SIGKILL'), 1_000);
      await this.#exited;
      clearTimeout(timer);
    }
    await this.#endProcessGroup();
    if (!this.#removed) {
      this.#removed = true;
      await rm(this.#connectionDir, { recursive: true, force: true });
    }
  }

  /**
   * Ends what is left of the kernel's process group once the kernel itself has exited: processes a cell started and
   * did not end (a `spawn('sleep', ...)`, a server) get SIGTERM, and SIGKILL if they are still there 1 s later.
   * Processes started `detached` have a group of their own and are the notebook's to end.
   */
  async #endProcessGroup(): Promise<void> {
    const pid = this.#child.pid;
    if (!this.#kind.ownProcessGroup || pid === undefined) return;
    if (!signalGroup(pid, 'SIGTERM')) return;
    const deadline = performance.now() + 1_000;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      if (!signalGroup(pid, 0)) return;
    }
    signalGroup(pid, 'SIGKILL');
  }

  /** Signals the kernel process, or its whole process group when it leads one (a supervisor and its kernel). */
  #signal(signal: NodeJS.Signals): void {
    const pid = this.#child.pid;
    // When the group is gone already, signal the process itself (a no-op if it has exited).
    if (this.#kind.ownProcessGroup && pid !== undefined && signalGroup(pid, signal)) return;
    this.#child.kill(signal);
  }
}
