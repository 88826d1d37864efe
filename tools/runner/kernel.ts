/**
 * A minimal Jupyter client for one kernel (tslab or Deno's, see `kernels.ts`): the process (`kernel-process.ts`), the
 * signed messages (`protocol.ts`), and here the conversation: the shell, iopub and control channels over ZeroMQ,
 * the start-up handshake, executing code and collecting its outputs, and shutting down however the session ends.
 */
import { randomUUID } from 'node:crypto';
import { Dealer, Subscriber } from 'zeromq';
import { KernelProcess } from './kernel-process.ts';
import { KERNELS, type KernelKind, type KernelName } from './kernels.ts';
import { type ConnectionInfo, type KernelMessage, KernelProtocolError, MessageCodec } from './protocol.ts';

export { type KernelMessage, KernelProtocolError, type MessageHeader } from './protocol.ts';

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

/** What a request in progress does with the replies and iopub messages that name it as their parent. */
interface Pending {
  onShell?: (message: KernelMessage) => void;
  onIopub?: (message: KernelMessage) => void;
}

const live = new Set<Kernel>();

/** Kills every kernel this process started and has not ended yet (for a runner that is interrupted). */
export async function killAllKernels(): Promise<void> {
  await Promise.all([...live].map((kernel) => kernel.kill()));
}

/**
 * One running kernel. Create it with {@link Kernel.start}; always end it with {@link Kernel.shutdown}
 * (or {@link Kernel.kill}), which never leaves the process behind.
 */
export class Kernel {
  readonly #process: KernelProcess;
  readonly #kind: KernelKind;
  readonly #connection: ConnectionInfo;
  readonly #codec: MessageCodec;
  readonly #shell = new Dealer({ linger: 0 });
  readonly #control = new Dealer({ linger: 0 });
  readonly #iopub = new Subscriber({ linger: 0, receiveHighWaterMark: 0 });
  readonly #pending = new Map<string, Pending>();
  #closed = false;
  #fault: Error | null = null;
  #onFault: () => void = () => {};
  readonly #faulted = new Promise<void>((resolve) => {
    this.#onFault = resolve;
  });
  #languageInfo: Record<string, unknown> | null = null;

  private constructor(kind: KernelKind, kernelProcess: KernelProcess, connection: ConnectionInfo) {
    this.#kind = kind;
    this.#process = kernelProcess;
    this.#connection = connection;
    this.#codec = new MessageCodec(connection.key);
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
    const kind = KERNELS[options.kernel ?? 'tslab'];
    // Ports are picked here and bound by the kernel; another process may take one in between, so retry then.
    for (let attempt = 1; ; attempt++) {
      const started = await KernelProcess.start(kind, options.cwd, options.env);
      const kernel = new Kernel(kind, started.process, started.connection);
      live.add(kernel);
      try {
        await kernel.#connect(startupTimeoutMs);
        return kernel;
      } catch (error) {
        await kernel.kill();
        if (!(error instanceof PortInUseError) || attempt >= 3) throw error;
      }
    }
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
    return this.#process.output;
  }

  /** Resolves when the kernel process has exited. */
  get exited(): Promise<void> {
    return this.#process.exited;
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
      if (await this.#askKernelInfo(deadline)) return;
      // tslab survives a failed bind (it only logs the rejection), so look for it instead of waiting it out.
      if (/EADDRINUSE|address already in use/i.test(this.#process.output)) {
        throw new PortInUseError(`a port picked for the kernel was taken${this.#process.outputSuffix()}`);
      }
    }
    throw new KernelTimeoutError(
      `the ${this.#kind.name} kernel did not become ready within ${timeoutMs / 1000} s${this.#process.outputSuffix()}`,
    );
  }

  /** One `kernel_info_request`: `true` once both its reply and an iopub message for it came before the wait ended. */
  async #askKernelInfo(deadline: number): Promise<boolean> {
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
    try {
      await this.#send(this.#shell, 'kernel_info_request', {}, msgId);
      const outcome = await this.#race(settled, Math.min(gotReply ? 200 : 1_000, deadline - Date.now()));
      return outcome === 'done';
    } finally {
      this.#pending.delete(msgId);
    }
  }

  /** Waits for `promise`, the kernel's exit, a protocol fault or `ms`, whichever comes first. */
  async #race(promise: Promise<void>, ms: number): Promise<'done' | 'timeout'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, ms));
    });
    const died = this.#process.exited.then((): 'died' => 'died');
    const faulted = this.#faulted.then((): 'fault' => 'fault');
    try {
      const outcome = await Promise.race([promise.then((): 'done' => 'done'), timeout, died, faulted]);
      if (outcome === 'fault') throw this.#fault ?? new KernelProtocolError('the kernel connection failed');
      if (outcome === 'died') {
        throw new KernelDiedError(
          `the ${this.#kind.name} kernel exited (${this.#process.exitReason})${this.#process.outputSuffix()}`,
          this.#process.output,
        );
      }
      return outcome;
    } finally {
      clearTimeout(timer);
    }
  }

  async #send(socket: Dealer, msgType: string, content: Record<string, unknown>, msgId = randomUUID()) {
    await socket.send(this.#codec.encode(msgType, content, msgId));
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
        const message = this.#codec.decode(frames, channel);
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
    const request = this.#track(msgId, options.onIopub);
    try {
      const content = {
        code,
        silent: false,
        store_history: true,
        user_expressions: {},
        allow_stdin: false,
        stop_on_error: true,
      };
      await this.#send(this.#shell, 'execute_request', content, msgId);
      const outcome = await this.#race(request.settled, options.timeoutMs ?? 2 ** 31 - 1);
      if (outcome === 'timeout') {
        throw new KernelTimeoutError(`no reply within ${(options.timeoutMs ?? 0) / 1000} s`);
      }
      await this.#takeLateOutput(request.lastOutputAt);
      const reply = request.reply()?.content ?? {};
      const count = reply.execution_count;
      return {
        status: String(reply.status),
        executionCount: typeof count === 'number' ? count : null,
        content: reply,
      };
    } finally {
      this.#pending.delete(msgId);
    }
  }

  /**
   * Follows the request `msgId`: `settled` once both its `execute_reply` and its iopub `idle` came; every other iopub
   * message of it goes to `onIopub`, and the time of the last one is kept.
   */
  #track(msgId: string, onIopub: ((message: KernelMessage) => void) | undefined) {
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
          onIopub?.(message);
        },
      });
    });
    return { settled, reply: () => reply, lastOutputAt: () => lastOutputAt };
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
    if (this.#process.exitReason === null && !this.#closed) {
      try {
        await this.#send(this.#control, 'shutdown_request', { restart: false });
        await this.#race(this.#process.exited, graceMs);
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
    await this.#process.end();
    live.delete(this);
    if (!this.#closed) {
      this.#closed = true;
      this.#shell.close();
      this.#control.close();
      this.#iopub.close();
    }
  }
}
