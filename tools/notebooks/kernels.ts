/**
 * The two kernels the notebooks run on, and everything the runner does differently for each: how to start one on a
 * connection file, how long its outputs may trail its `idle` status, and whether it refuses requests right after a
 * failed one. The protocol client (`kernel.ts`) and the runner (`run.ts`) know no kernel by name.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { denoPath } from './deno.ts';

/** The kernels, by the name of their kernelspec. `tslab` comes first: its outputs are the recorded ones. */
export const KERNEL_NAMES = ['tslab', 'deno'] as const;
/** A kernel's name: `tslab` or `deno`. */
export type KernelName = (typeof KERNEL_NAMES)[number];

/** Loaded into every tslab kernel process: no lost iopub messages, and no kernel without its runner. */
export const KERNEL_PRELOAD = join(import.meta.dirname, 'kernel-preload.cjs');
/** Runs a kernel that is not a Node process (Deno's) on the runner's lifeline; see the file. */
export const KERNEL_SUPERVISOR = join(import.meta.dirname, 'kernel-supervisor.cjs');

/** The path of tslab's own entry script, run with the same Node as this process. */
export function tslabBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('tslab/package.json')), 'bin', 'tslab');
}

/** How the runner treats one kernel. */
export interface KernelKind {
  readonly name: KernelName;
  /** The name Jupyter's kernel picker shows. */
  readonly displayName: string;
  /** The command that starts the kernel on `connectionFile`: the program, then its arguments. */
  command(connectionFile: string): [string, ...string[]];
  /**
   * Start it as the leader of a new process group, to be killed as a group: the supervisor's child with it, and
   * whatever a cell started the ordinary way (`spawn('sleep', ...)`), which would otherwise outlive the run.
   */
  readonly ownProcessGroup: boolean;
  /** Extra environment for the kernel process. */
  readonly env: NodeJS.ProcessEnv;
  /**
   * After `idle`, keep taking the request's outputs until none has come for `quietMs`, for at most `maxMs` (0: stop
   * at `idle`, as the protocol says).
   */
  readonly lateOutput: { readonly quietMs: number; readonly maxMs: number };
  /** It refuses (status `abort`) requests that arrive this soon after a failed one, in ms (0: never). */
  readonly abortsAfterErrorMs: number;
}

/** Every kernel, by name. */
export const KERNELS: Readonly<Record<KernelName, KernelKind>> = {
  tslab: {
    name: 'tslab',
    displayName: 'TypeScript (tslab)',
    command: (file) => [
      process.execPath,
      '--require',
      KERNEL_PRELOAD,
      tslabBin(),
      'kernel',
      '--config-path',
      file,
    ],
    ownProcessGroup: true,
    env: {},
    lateOutput: { quietMs: 0, maxMs: 0 },
    abortsAfterErrorMs: 200,
  },
  deno: {
    name: 'deno',
    displayName: 'TypeScript (Deno)',
    command: (file) => [
      process.execPath,
      KERNEL_SUPERVISOR,
      denoPath(),
      'jupyter',
      '--kernel',
      '--conn',
      file,
    ],
    ownProcessGroup: true,
    // No update check (there is no internet here, and a kernel should not phone home), no permission prompts.
    env: { DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' },
    // Deno 2.9.6 sometimes publishes `idle` before a cell's last lines of output. Notebook 08 on Deno, 10 runs each
    // (`node` on a one-off script, load average 9-12): stopping at `idle`, 3 runs lost lines; waiting for 20, 50 or
    // 150 ms of quiet, none did. 100 ms keeps a margin for a slower machine; 2 s bounds a cell that prints forever.
    lateOutput: { quietMs: 100, maxMs: 2_000 },
    abortsAfterErrorMs: 0,
  },
};

/**
 * A notebook's `kernelspec` metadata for `kind`, as Jupyter writes it from the registered kernelspec (`name`, and
 * the spec's `display_name` and `language`).
 */
export function kernelspecMetadata(kind: KernelKind): {
  display_name: string;
  language: string;
  name: KernelName;
} {
  return { display_name: kind.displayName, language: 'typescript', name: kind.name };
}

/**
 * Looks a kernel up by name.
 * @throws {RangeError} naming the unknown kernel and the known ones.
 */
export function kernelKind(name: string): KernelKind {
  if (!(KERNEL_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `Unknown kernel ${JSON.stringify(name)}; expected one of ${KERNEL_NAMES.join(', ')}`,
    );
  }
  return KERNELS[name as KernelName];
}
