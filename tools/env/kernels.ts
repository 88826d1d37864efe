/**
 * How each of the two kernels the notebooks run on is started: the command on a connection file, the name Jupyter's
 * kernel picker shows, its environment, and the two small programs that keep a kernel from outliving whoever started
 * it (`kernel-preload.cjs` for tslab, `kernel-supervisor.cjs` for Deno). The runner (`tools/runner/kernels.ts`) adds
 * what it does differently while talking to each; the kernelspecs Jupyter uses (`jupyter.ts`) come from here.
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

/** How one kernel process is started. */
export interface KernelLaunch {
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
}

/** How every kernel is started, by name. */
export const KERNEL_LAUNCH: Readonly<Record<KernelName, KernelLaunch>> = {
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
  },
};

/**
 * Checks a kernel's name.
 * @throws {RangeError} naming the unknown kernel and the known ones.
 */
export function kernelName(name: string): KernelName {
  if (!(KERNEL_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `Unknown kernel ${JSON.stringify(name)}; expected one of ${KERNEL_NAMES.join(', ')}`,
    );
  }
  return name as KernelName;
}
