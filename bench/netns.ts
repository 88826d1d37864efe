// Network namespaces for the benchmarks and tests that put processes "on other machines": a hub namespace joined to
// N spoke namespaces, each by a veth pair of its own with a /30 of private addresses. Nothing is added to the
// namespace this process runs in, so the addresses never meet the machine's own network. Everything made is removed
// by remove(), and, should the process end without calling it (an uncaught error, process.exit on a signal), by an
// exit hook. Needs root and iproute2's `ip`.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One spoke: a namespace and its link to the hub. */
export interface Spoke {
  /** The spoke's namespace. */
  readonly ns: string;
  /** The spoke's own address on its link. */
  readonly address: string;
  /** The hub's address on this spoke's link: what a process in the spoke connects to. */
  readonly hubAddress: string;
  /** The hub end of the veth pair (an interface in the hub namespace). */
  readonly hubEnd: string;
  /** The spoke end of the veth pair (an interface in the spoke namespace). */
  readonly end: string;
}

/** Options of {@link NamespaceStar.create} and {@link checkNamespaceSupport}. */
export interface NamespaceOptions {
  /**
   * The first three octets of the addresses, e.g. `'10.231.0'` (the default): spoke i's link is the /30 at
   * `.4i`, the hub's end `.4i+1`, the spoke's `.4i+2`. The addresses exist only inside the namespaces made here.
   */
  subnet?: string;
  /** A short prefix of the namespace names, to tell whose they are in `ip netns list`. Default `'ab'`. */
  prefix?: string;
  /** The `ip` command. Default `'ip'` on PATH. */
  ip?: string;
  /** The user id to check for root. Default this process's. */
  uid?: number;
}

const SUBNET = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const MAX_SPOKES = 63;

async function ip(command: string, args: string[]): Promise<void> {
  try {
    await run(command, args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${(err.stderr || err.message).trim()}`, {
      cause: e,
    });
  }
}

/**
 * Resolves when this process can make network namespaces: it runs as root and `ip` is there.
 * @throws {Error} naming what is missing.
 */
export async function checkNamespaceSupport(what: string, options: NamespaceOptions = {}): Promise<void> {
  const { ip: command = 'ip', uid = process.getuid?.() } = options;
  if (uid !== 0) {
    throw new Error(
      `${what} needs root to make network namespaces and veth pairs; this process runs as uid ${uid ?? 'unknown'}`,
    );
  }
  try {
    await run(command, ['-V']);
  } catch (e) {
    const missing = (e as { code?: string }).code === 'ENOENT';
    throw new Error(
      missing
        ? `${what} needs iproute2's \`${command}\` to make network namespaces, and it is not on PATH`
        : `${what} could not run \`${command} -V\`: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** Namespaces of stars not yet removed, deleted by the exit hook. */
const live = new Map<string, string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const [name, command] of live) {
      try {
        execFileSync(command, ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        // Already gone, or ip is; nothing more can be done while exiting.
      }
    }
  });
}

/** A hub namespace and spoke namespaces joined to it by veth pairs: see the file's comment. */
export class NamespaceStar {
  /** The hub's namespace. */
  readonly hub: string;
  /** The spokes, in the order they were made. */
  readonly spokes: readonly Spoke[];
  readonly #ip: string;
  readonly #made: string[] = [];

  private constructor(hub: string, spokes: Spoke[], command: string) {
    this.hub = hub;
    this.spokes = spokes;
    this.#ip = command;
  }

  /**
   * Makes the hub and `count` spokes, with loopback up in each and each link up and addressed.
   * @throws {RangeError} for a bad count or subnet. @throws {Error} when a namespace or a link cannot be made (not
   * root, no `ip`, no namespace support in the kernel); what was made by then is removed first.
   */
  static async create(count: number, options: NamespaceOptions = {}): Promise<NamespaceStar> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_SPOKES) {
      throw new RangeError(`Expected \`count\` to be a whole number from 1 to ${MAX_SPOKES}, got ${count}`);
    }
    const { subnet = '10.231.0', prefix = 'ab', ip: command = 'ip' } = options;
    const octets = SUBNET.exec(subnet);
    if (octets === null || octets.slice(1).some((o) => Number(o) > 255)) {
      throw new RangeError(
        `Expected \`options.subnet\` to be three octets such as '10.231.0', got ${subnet}`,
      );
    }
    if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix)) {
      throw new RangeError(
        `Expected \`options.prefix\` to be 1 to 6 lowercase letters or digits, starting with a letter, got ${prefix}`,
      );
    }
    await checkNamespaceSupport('NamespaceStar', options);
    // Unique per process and call: interface names are limited to 15 characters, so the tag is kept short.
    const tag = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`.slice(-6);
    const spokes = Array.from(
      { length: count },
      (_, i): Spoke => ({
        ns: `${prefix}-${tag}-${i + 1}`,
        address: `${subnet}.${4 * i + 2}`,
        hubAddress: `${subnet}.${4 * i + 1}`,
        hubEnd: `v${tag}h${i + 1}`,
        end: `v${tag}s${i + 1}`,
      }),
    );
    const star = new NamespaceStar(`${prefix}-${tag}-hub`, spokes, command);
    try {
      await star.#make();
    } catch (e) {
      await star.remove().catch(() => {});
      throw e;
    }
    return star;
  }

  async #make(): Promise<void> {
    hookExit();
    for (const name of [this.hub, ...this.spokes.map((s) => s.ns)]) {
      await ip(this.#ip, ['netns', 'add', name]);
      this.#made.push(name);
      live.set(name, this.#ip);
      await ip(this.#ip, ['-n', name, 'link', 'set', 'lo', 'up']);
    }
    for (const s of this.spokes) {
      // Made inside the hub, then one end moved: nothing appears in this process's namespace, even for a moment.
      await ip(this.#ip, ['-n', this.hub, 'link', 'add', s.hubEnd, 'type', 'veth', 'peer', 'name', s.end]);
      await ip(this.#ip, ['-n', this.hub, 'link', 'set', s.end, 'netns', s.ns]);
      await ip(this.#ip, ['-n', this.hub, 'addr', 'add', `${s.hubAddress}/30`, 'dev', s.hubEnd]);
      await ip(this.#ip, ['-n', s.ns, 'addr', 'add', `${s.address}/30`, 'dev', s.end]);
      await ip(this.#ip, ['-n', this.hub, 'link', 'set', s.hubEnd, 'up']);
      await ip(this.#ip, ['-n', s.ns, 'link', 'set', s.end, 'up']);
    }
  }

  /** The command prefix that runs a program in namespace `ns`: `['ip', 'netns', 'exec', ns]`. */
  exec(ns: string): string[] {
    return [this.#ip, 'netns', 'exec', ns];
  }

  /** Takes the hub's end of spoke `index`'s link down (the spoke loses its carrier; its packets go nowhere), or up. */
  link(index: number, up: boolean): Promise<void> {
    const spoke = this.spokes[index];
    if (spoke === undefined) {
      throw new RangeError(
        `Expected \`index\` to be a spoke from 0 to ${this.spokes.length - 1}, got ${index}`,
      );
    }
    return ip(this.#ip, ['-n', this.hub, 'link', 'set', spoke.hubEnd, up ? 'up' : 'down']);
  }

  /**
   * Deletes the namespaces, which deletes the veth pairs in them once no process is left inside (stop those first).
   * Safe to call twice. @throws {Error} listing every deletion that failed, after trying them all.
   */
  async remove(): Promise<void> {
    const errors: string[] = [];
    for (const name of this.#made.splice(0)) {
      await ip(this.#ip, ['netns', 'del', name]).then(
        () => live.delete(name),
        (e: Error) => errors.push(e.message),
      );
    }
    if (errors.length > 0) throw new Error(errors.join('; '));
  }
}
