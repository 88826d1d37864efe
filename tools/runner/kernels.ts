/**
 * Everything the runner does differently for each kernel: how it is started (`tools/env/kernels.ts`), how long its
 * outputs may trail its `idle` status, and whether it refuses requests right after a failed one. The protocol client
 * (`kernel.ts`) and the runner (`run.ts`) know no kernel by name.
 */
import { KERNEL_LAUNCH, type KernelLaunch, type KernelName, kernelName } from '../env/kernels.ts';

export { KERNEL_NAMES, type KernelName } from '../env/kernels.ts';

/** How the runner treats one kernel. */
export interface KernelKind extends KernelLaunch {
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
    ...KERNEL_LAUNCH.tslab,
    lateOutput: { quietMs: 0, maxMs: 0 },
    abortsAfterErrorMs: 200,
  },
  deno: {
    ...KERNEL_LAUNCH.deno,
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
  return KERNELS[kernelName(name)];
}
