/**
 * A minimal Jupyter client for one kernel (tslab or Deno's, see `kernels.ts`): starts the kernel process, speaks
 * the Jupyter messaging protocol (v5.3, HMAC-SHA256 signed multipart messages over ZeroMQ) on its shell, iopub and
 * control channels, and cleans the process up however the session ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Subscriber } from 'zeromq';
import { KERNELS, type KernelKind, type KernelName } from './kernels.ts';

const DELIMITER = Buffer.from('<IDS|MSG>');
const PROTOCOL_VERSION = '5.3';

/** The header of a Jupyter message. */
export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

/** A decoded Jupyter message as it arrives from the kernel. */
export interface KernelMessage {
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

/** The content of an `execute_reply`, plus the iopub messages that belong to the request. */
export interface ExecuteReply {
  /** `ok`, `error`, or `abort`/`aborted` when the kernel refused to run the request. */
  status: string;
  /** The kernel's execution counter for this request, or `null` when it gave none. */
  executionCount: number | null;
  /** The full reply content (for `ename`/`evalue` when a kernel sends them). */
  content: Record<string, unknown>;
}

/** Raised when the kernel process exits while a request is outstanding or before it became ready. */
export class KernelDiedError extends Error {
  override name = 'KernelDiedError';
  /** What the kernel process wrote to stdout/stderr before it died. */
  readonly stderr: string;
  constructor(message: string, stderr: string) {
    super(message);
    this.stderr = stderr;
  }
}

/** Raised when the kernel does not answer within the allowed time (start-up or a request). */
export class KernelTimeoutError extends Error {
  override name = 'KernelTimeoutError';
}

/**
 * Raised when the conversation with the kernel breaks: a message that is not valid Jupyter JSON, or a handler of
 * the caller's that threw while taking a message. The request in progress fails with it; the kernel is then killed.
 */
export class KernelProtocolError extends Error {
  override name = 'KernelProtocolError';
}

class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/** Options for {@link Kernel.start}. */
export interface KernelStartOptions {
  /** The kernel's working directory: module resolution in cells starts here. */
  cwd: string;
  /** Which kernel to start (default `tslab`). */
  kernel?: KernelName;
  /** How long to wait for the kernel to answer `kernel_info_request`, in ms (default 30 000). */
  startupTimeoutMs?: number;
  /** Extra environment variables for the kernel process. */
  env?: NodeJS.ProcessEnv;
}

/** Options for {@link Kernel.execute}. */
export interface ExecuteOptions {
  /** Give up (and leave the kernel to be killed by the caller) after this many ms; default: no limit. */
  timeoutMs?: number;
  /** Called with every iopub message that is a child of this request, in arrival order. */
  onIopub?: (message: KernelMessage) => void;
}

interface Pending {
  onShell?: (message: KernelMessage) => void;
  onIopub?: (message: KernelMessage) => void;
}

interface ConnectionInfo {
  transport: 'tcp';
  ip: string;
  key: string;
  signature_scheme: 'hmac-sha256';
  kernel_name: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
}

const STDERR_LIMIT = 16_384;

const live = new Set<Kernel>();

/** Kills every kernel this process started and has not ended yet (for a runner that is interrupted). */
export async function killAllKernels(): Promise<void> {
  await Promise.all([...live].map((kernel) => kernel.kill()));
}

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

function sign(key: string, parts: readonly (string | Buffer)[]): string {
  const hmac = createHmac('sha256', key);
  for (const part of parts) hmac.update(part);
  return hmac.digest('hex');
}

/**
 * One running kernel. Create it with {@link Kernel.start}; always end it with {@link Kernel.shutdown}
 * (or {@link Kernel.kill}), which never leaves the process behind.
 */
export class Kernel {
  readonly #process: ChildProcess;
  readonly #kind: KernelKind;
  readonly #connection: ConnectionInfo;
  readonly #connectionDir: string;
  readonly #session = randomUUID();
  readonly #shell = new Dealer({ linger: 0 });
  readonly #control = new Dealer({ linger: 0 });
  readonly #iopub = new Subscriber({ linger: 0, receiveHighWaterMark: 0 });
  readonly #pending = new Map<string, Pending>();
  readonly #exited: Promise<void>;
  #stderr = '';
  #exitReason: string | null = null;
  #closed = false;
  #fault: Error | null = null;
  #onFault: () => void = () => {};
  readonly #faulted = new Promise<void>((resolve) => {
    this.#onFault = resolve;
  });
  #languageInfo: Record<string, unknown> | null = null;

  private constructor(
    kind: KernelKind,
    child: ChildProcess,
    connection: ConnectionInfo,
    connectionDir: string,
  ) {
    this.#kind = kind;
    this.#process = child;
    this.#connection = connection;
    this.#connectionDir = connectionDir;
    const keep = (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-STDERR_LIMIT);
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
   * Starts a kernel (tslab unless `options.kernel` says otherwise) in `options.cwd` and resolves once it answers on
   * shell and publishes on iopub.
   * @throws {KernelDiedError} when the process exits during start-up.
   * @throws {KernelTimeoutError} when it is not ready within `startupTimeoutMs`; the process is killed.
   */
  static async start(options: KernelStartOptions): Promise<Kernel> {
    const startupTimeoutMs = options.startupTimeoutMs ?? 30_000;
    if (!Number.isFinite(startupTimeoutMs) || startupTimeoutMs <= 0) {
      throw new RangeError(`Expected \`startupTimeoutMs\` to be a positive number, got ${startupTimeoutMs}`);
    }
    // Ports are picked here and bound by the kernel; another process may take one in between, so retry then.
    for (let attempt = 1; ; attempt++) {
      try {
        return await Kernel.#startOnce(
          KERNELS[options.kernel ?? 'tslab'],
          options.cwd,
          options.env,
          startupTimeoutMs,
        );
      } catch (error) {
        if (!(error instanceof PortInUseError) || attempt >= 3) throw error;
      }
    }
  }

  static async #startOnce(
    kind: KernelKind,
    cwd: string,
    env: NodeJS.ProcessEnv | undefined,
    startupTimeoutMs: number,
  ) {
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
      // fd 3 is the kernel's lifeline: see kernel-preload.cjs and kernel-supervisor.cjs.
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: kind.ownProcessGroup,
    });
    const kernel = new Kernel(kind, child, connection, connectionDir);
    live.add(kernel);
    try {
      await kernel.#connect(startupTimeoutMs);
    } catch (error) {
      await kernel.kill();
      throw error;
    }
    return kernel;
  }

  /** Which kernel this is. */
  get kind(): KernelKind {
    return this.#kind;
  }

  /** The kernel process id. */
  get pid(): number | undefined {
    return this.#process.pid;
  }

  /** `language_info` from the kernel's `kernel_info_reply`, as Jupyter stores it in notebook metadata. */
  get languageInfo(): Record<string, unknown> | null {
    return this.#languageInfo;
  }

  /** Whatever the kernel process wrote to its own stdout/stderr (the last 16 KiB), for diagnostics. */
  get processOutput(): string {
    return this.#stderr;
  }

  /** Resolves when the kernel process has exited. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  async #connect(timeoutMs: number): Promise<void> {
    const base = `tcp://${this.#connection.ip}:`;
    this.#shell.connect(base + this.#connection.shell_port);
    this.#control.connect(base + this.#connection.control_port);
    this.#iopub.connect(base + this.#connection.iopub_port);
    this.#iopub.subscribe();
    void this.#readLoop(this.#shell, 'shell');
    void this.#readLoop(this.#control, 'shell');
    void this.#readLoop(this.#iopub, 'iopub');

    const deadline = Date.now() + timeoutMs;
    // A SUB socket misses whatever is published before its subscription reaches the publisher, so keep asking
    // for kernel_info until the iopub status for one of the requests arrives too (as jupyter_client does).
    while (Date.now() < deadline) {
      let gotReply = false;
      let gotIopub = false;
      const msgId = randomUUID();
      const settled = new Promise<void>((resolve) => {
        const check = () => {
          if (gotReply && gotIopub) resolve();
        };
        this.#pending.set(msgId, {
          onShell: (message) => {
            if (message.header.msg_type !== 'kernel_info_reply') return;
            this.#languageInfo = (message.content.language_info as Record<string, unknown>) ?? null;
            gotReply = true;
            check();
          },
          onIopub: () => {
            gotIopub = true;
            check();
          },
        });
      });
      await this.#send(this.#shell, 'kernel_info_request', {}, msgId);
      const outcome = await this.#race(settled, Math.min(gotReply ? 200 : 1_000, deadline - Date.now()));
      this.#pending.delete(msgId);
      if (outcome === 'done') return;
      // tslab survives a failed bind (it only logs the rejection), so look for it instead of waiting it out.
      if (/EADDRINUSE|address already in use/i.test(this.#stderr)) {
        throw new PortInUseError(`a port picked for the kernel was taken${this.#stderrSuffix()}`);
      }
    }
    throw new KernelTimeoutError(
      `the ${this.#kind.name} kernel did not become ready within ${timeoutMs / 1000} s${this.#stderrSuffix()}`,
    );
  }

  /** Waits for `promise`, the kernel's exit, a protocol fault or `ms`, whichever comes first. */
  async #race(promise: Promise<void>, ms: number): Promise<'done' | 'timeout'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, ms));
    });
    const died = this.#exited.then((): 'died' => 'died');
    const faulted = this.#faulted.then((): 'fault' => 'fault');
    try {
      const outcome = await Promise.race([promise.then((): 'done' => 'done'), timeout, died, faulted]);
      if (outcome === 'fault') throw this.#fault ?? new KernelProtocolError('the kernel connection failed');
      if (outcome === 'died') {
        throw new KernelDiedError(
          `the ${this.#kind.name} kernel exited (${this.#exitReason})${this.#stderrSuffix()}`,
          this.#stderr,
        );
      }
      return outcome;
    } finally {
      clearTimeout(timer);
    }
  }

  #stderrSuffix(): string {
    const text = this.#stderr.trim();
    return text ? `; its output:\n${text}` : '';
  }

  async #send(socket: Dealer, msgType: string, content: Record<string, unknown>, msgId = randomUUID()) {
    const header: MessageHeader = {
      msg_id: msgId,
      msg_type: msgType,
      session: this.#session,
      username: 'async-batching',
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    };
    const parts = [JSON.stringify(header), '{}', '{}', JSON.stringify(content)];
    await socket.send([DELIMITER, sign(this.#connection.key, parts), ...parts]);
    return msgId;
  }

  /**
   * Delivers each message of one channel to the request it answers. Never rejects: a fault (a malformed message, a
   * handler that throws, a socket error) is kept and fails the request in progress, so it cannot become an
   * unhandled rejection that ends the runner before it kills its kernels.
   */
  async #readLoop(socket: Dealer | Subscriber, channel: 'shell' | 'iopub'): Promise<void> {
    try {
      for await (const frames of socket) {
        const message = this.#decode(frames, channel);
        if (!message) continue;
        const pending = this.#pending.get(message.parent_header.msg_id ?? '');
        try {
          if (channel === 'shell') pending?.onShell?.(message);
          else pending?.onIopub?.(message);
        } catch (error) {
          throw new KernelProtocolError(
            `handling a ${message.header.msg_type} message on ${channel} failed: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
    } catch (error) {
      // Closing a socket ends its iterator with an error; anything else is a real fault.
      if (this.#closed || this.#fault) return;
      this.#fault =
        error instanceof KernelProtocolError
          ? error
          : new KernelProtocolError(`the ${channel} channel failed: ${(error as Error).message}`, {
              cause: error,
            });
      this.#onFault();
    }
  }

  #decode(frames: Buffer[], channel: string): KernelMessage | null {
    const at = frames.findIndex((frame) => frame.equals(DELIMITER));
    if (at < 0 || frames.length < at + 6) return null;
    const parts = frames.slice(at + 2, at + 6);
    // Unsigned or forged messages are dropped, as Jupyter clients do; compared in constant time, as jupyter_client
    // does, so the time taken says nothing about how much of a forged signature was right.
    const expected = Buffer.from(sign(this.#connection.key, parts), 'ascii');
    const signature = frames[at + 1];
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return null;
    let header: MessageHeader;
    let parent_header: Partial<MessageHeader>;
    let metadata: Record<string, unknown>;
    let content: Record<string, unknown>;
    try {
      [header, parent_header, metadata, content] = parts.map((part) => JSON.parse(part.toString('utf8')));
    } catch (error) {
      throw new KernelProtocolError(
        `a signed message on ${channel} is not valid JSON: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (typeof header?.msg_type !== 'string' || typeof content !== 'object' || content === null) {
      throw new KernelProtocolError(`a signed message on ${channel} has no msg_type or content`);
    }
    return { header, parent_header: parent_header ?? {}, metadata: metadata ?? {}, content };
  }

  /**
   * Runs `code` and resolves with the `execute_reply` once the kernel has also reported itself idle on iopub, so
   * every output of the request has been delivered to `onIopub`. For a kernel whose outputs may trail its `idle`
   * (Deno's), outputs are taken until none has come for the kind's `lateOutput.quietMs`, at most `maxMs`.
   * @throws {KernelTimeoutError} after `timeoutMs` (the kernel is left running: the caller decides to kill it).
   * @throws {KernelDiedError} when the kernel exits first.
   */
  async execute(code: string, options: ExecuteOptions = {}): Promise<ExecuteReply> {
    if (typeof code !== 'string') throw new TypeError(`Expected \`code\` to be a string, got ${typeof code}`);
    const msgId = randomUUID();
    let reply: KernelMessage | null = null;
    let idle = false;
    let lastOutputAt = 0;
    const settled = new Promise<void>((resolve) => {
      this.#pending.set(msgId, {
        onShell: (message) => {
          if (message.header.msg_type !== 'execute_reply') return;
          reply = message;
          if (idle) resolve();
        },
        onIopub: (message) => {
          if (message.header.msg_type === 'status') {
            if (message.content.execution_state === 'idle') {
              idle = true;
              if (reply) resolve();
            }
            return;
          }
          lastOutputAt = performance.now();
          options.onIopub?.(message);
        },
      });
    });
    try {
      await this.#send(
        this.#shell,
        'execute_request',
        {
          code,
          silent: false,
          store_history: true,
          user_expressions: {},
          allow_stdin: false,
          stop_on_error: true,
        },
        msgId,
      );
      const outcome = await this.#race(settled, options.timeoutMs ?? 2 ** 31 - 1);
      if (outcome === 'timeout') {
        throw new KernelTimeoutError(`no reply within ${(options.timeoutMs ?? 0) / 1000} s`);
      }
      await this.#takeLateOutput(() => lastOutputAt);
      const content = (reply as KernelMessage | null)?.content ?? {};
      const count = content.execution_count;
      return {
        status: String(content.status),
        executionCount: typeof count === 'number' ? count : null,
        content,
      };
    } finally {
      this.#pending.delete(msgId);
    }
  }

  /** Waits while outputs of a finished request may still come (see {@link KernelKind.lateOutput}). */
  async #takeLateOutput(lastOutputAt: () => number): Promise<void> {
    const { quietMs, maxMs } = this.#kind.lateOutput;
    if (maxMs <= 0) return;
    const idleAt = performance.now();
    for (;;) {
      const now = performance.now();
      const quietUntil = Math.max(idleAt, lastOutputAt()) + quietMs;
      const wait = Math.min(quietUntil, idleAt + maxMs) - now;
      if (wait <= 0) return;
      if ((await this.#race(new Promise<void>(() => {}), wait)) === 'done') return;
    }
  }

  /**
   * Asks the kernel to shut down on the control channel and waits briefly; a kernel that lingers (a server a
   * notebook left open keeps Node alive) is then terminated and, if need be, killed.
   */
  async shutdown(graceMs = 2_000): Promise<void> {
    if (this.#exitReason === null && !this.#closed) {
      try {
        await this.#send(this.#control, 'shutdown_request', { restart: false });
        await this.#race(this.#exited, graceMs);
      } catch {
        // The kernel is ending one way or another; kill() below makes sure.
      }
    }
    await this.kill();
  }

  /**
   * Terminates the kernel process (SIGTERM, then SIGKILL) and what is left of its process group, and releases
   * sockets and the connection file.
   */
  async kill(): Promise<void> {
    if (this.#exitReason === null) {
      this.#signal('SIGTERM');
      const timer = setTimeout(() => this.#signal('SIGKILL'), 1_000);
      await this.#exited;
      clearTimeout(timer);
    }
    await this.#endProcessGroup();
    live.delete(this);
    if (!this.#closed) {
      this.#closed = true;
      this.#shell.close();
      this.#control.close();
      this.#iopub.close();
      await rm(this.#connectionDir, { recursive: true, force: true });
    }
  }

  /**
   * Ends what is left of the kernel's process group once the kernel itself has exited: processes a cell started and
   * did not end (a `spawn('sleep', ...)`, a server) get SIGTERM, and SIGKILL if they are still there 1 s later.
   * Processes started `detached` have a group of their own and are the notebook's to end.
   */
  async #endProcessGroup(): Promise<void> {
    const pid = this.#process.pid;
    if (!this.#kind.ownProcessGroup || pid === undefined) return;
    const signalGroup = (signal: NodeJS.Signals | 0) => {
      try {
        process.kill(-pid, signal);
        return true;
      } catch {
        return false; // ESRCH: no process is left in the group.
      }
    };
    if (!signalGroup('SIGTERM')) return;
    const deadline = performance.now() + 1_000;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      if (!signalGroup(0)) return;
    }
    signalGroup('SIGKILL');
  }

  /** Signals the kernel process, or its whole process group when it leads one (a supervisor and its kernel). */
  #signal(signal: NodeJS.Signals): void {
    const pid = this.#process.pid;
    if (this.#kind.ownProcessGroup && pid !== undefined) {
      try {
        process.kill(-pid, signal);
        return;
      } catch {
        // The group is gone already; signal the process itself below (a no-op if it has exited).
      }
    }
    this.#process.kill(signal);
  }
}
