import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkMs, checkNonEmptyString, checkOptionalBoolean, describe } from '../../core/args.js';
import { RedisServerError } from './errors.js';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Append-only file with `appendfsync everysec`, so a server killed with SIGKILL comes back with its data. Default `false`. */
  aof?: boolean;
  /** The folder for the socket and the data files. Default: a new temporary folder, removed by `stop()`. */
  dir?: string;
  /** The `redis-server` binary. Default: `redis-server` on PATH (Debian's package). */
  binary?: string;
  /** How long to wait for the server to accept connections, in ms. Default 10,000. */
  startTimeout?: number;
}

/** A running `redis-server`, listening only on a Unix socket (no TCP port, so no clash with anything else). */
export interface RedisServer {
  /** The Unix socket path: pass `{ path: server.socket }` as the ioredis/BullMQ connection. */
  readonly socket: string;
  /** The folder holding the socket and the data files. */
  readonly dir: string;
  /** The server process id (it changes after {@link restart}). */
  readonly pid: number;
  /** Kills the server with SIGKILL, as a crash would, and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts the server again in the same folder (with AOF, the data comes back). */
  restart(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes the folder if this helper created it. */
  stop(): Promise<void>;
}

/**
 * The server runs under a small shell that holds a pipe from this process: when this process ends, however it ends
 * (SIGKILL included, which no handler sees), the pipe closes and the shell kills the server. So no test, notebook
 * or benchmark leaves a `redis-server` behind. The shell prints the server's PID first, so `kill()` hits the server
 * itself, as a crash would.
 */
const WRAPPER = [
  // A background job's stdin is /dev/null in a non-interactive shell, so the pipe is kept on fd 3 for the watcher.
  'exec 3<&0',
  '"$0" "$@" </dev/null >/dev/null 3<&- &',
  'pid=$!',
  'echo "$pid"',
  '( cat <&3 >/dev/null; kill -KILL "$pid" 2>/dev/null ) &',
  'wait "$pid"',
].join('\n');

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(socket);
    let answer = '';
    c.setTimeout(500);
    c.on('connect', () => c.write('PING\r\n'));
    c.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) {
        c.destroy();
        resolve(answer.startsWith('+PONG'));
      }
    });
    c.on('timeout', () => {
      c.destroy();
      resolve(false);
    });
    c.on('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts Debian's `redis-server` on a Unix socket in a temporary folder, for tests, notebooks and benchmarks: no
 * port, no config file, no persistence unless `aof` is set. Resolves once the server answers PING.
 * @throws {RedisServerError} when the binary is missing or the server does not come up in time.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
  }
  const { aof = false, binary = 'redis-server', startTimeout = 10_000 } = options;
  checkOptionalBoolean(aof, 'options.aof');
  checkNonEmptyString(binary, 'options.binary');
  if (checkMs(startTimeout, 'options.startTimeout') === 0) {
    throw new RangeError('Expected `options.startTimeout` to be a number of milliseconds > 0, got 0');
  }
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'async-batching-redis-')));
  const socket = join(dir, 'redis.sock');
  const args = [
    '--port', '0',
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--dir', dir,
    '--save', '',
    '--appendonly', aof ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    // BullMQ requires that Redis never evicts its keys.
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
  ]; // biome-ignore format: one flag and its value per line pair reads best
  let child: ChildProcess;
  let serverPid = -1;

  async function launch(): Promise<void> {
    serverPid = -1;
    const started = spawn('/bin/sh', ['-c', WRAPPER, binary, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    started.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-2000);
    });
    let firstLine = '';
    started.stdout?.on('data', (c: Buffer) => {
      firstLine += c.toString('utf8');
      const pid = Number.parseInt(firstLine, 10);
      if (firstLine.includes('\n') && Number.isInteger(pid)) serverPid = pid;
    });
    const failed = new Promise<Error>((resolve) => {
      started.once('error', (e) => resolve(e));
      started.once('exit', (code, signal) =>
        resolve(new Error(`exited with ${signal ?? code}: ${stderr.trim()}`)),
      );
    });
    child = started;
    const deadline = Date.now() + startTimeout;
    let early: Error | undefined;
    void failed.then((e) => {
      early = e;
    });
    while (Date.now() < deadline) {
      if (early !== undefined) {
        throw new RedisServerError(`redis-server (${binary}) could not start: ${early.message}`, {
          cause: early,
        });
      }
      if (serverPid > 0 && (await ping(socket))) return;
      await sleep(25);
    }
    started.stdin?.end();
    started.kill('SIGKILL');
    throw new RedisServerError(`redis-server did not answer on ${socket} within ${startTimeout} ms`);
  }

  function running(): boolean {
    return child.exitCode === null && child.signalCode === null;
  }
  function signalServer(signal: NodeJS.Signals): void {
    try {
      if (serverPid > 0) process.kill(serverPid, signal);
    } catch {
      // Already gone.
    }
  }

  await launch();
  return {
    socket,
    dir,
    get pid() {
      return serverPid;
    },
    async kill() {
      signalServer('SIGKILL');
      await exited(child);
      child.stdin?.end();
    },
    async restart() {
      if (running()) {
        signalServer('SIGTERM');
        await exited(child);
      }
      child.stdin?.end();
      await launch();
    },
    async stop() {
      const c = child;
      if (running()) {
        signalServer('SIGTERM');
        const timer = setTimeout(() => signalServer('SIGKILL'), 5_000);
        await exited(c);
        clearTimeout(timer);
      }
      c.stdin?.end();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
