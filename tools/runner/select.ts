/**
 * Select (nbclient's "get notebooks"): which notebooks run, on which kernels, and how each run is named in progress
 * lines and reports.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { KernelName } from './kernels.ts';

/** A path that names no notebook, or folders that hold none: the message says which. */
export class SelectionError extends Error {
  override name = 'SelectionError';
}

/** One notebook on one kernel. */
export interface PlannedRun {
  path: string;
  kernel: KernelName;
  /** The name in progress lines: the file's base name, or its relative path when two notebooks share one. */
  label: string;
  /** The name in reports: the path relative to the working directory. */
  shown: string;
}

/** The `.ipynb` files directly in `dir`, sorted by name. */
export async function notebooksIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ipynb'))
    .map((entry) => join(dir, entry.name))
    .sort();
}

/**
 * The notebooks to run: the given paths (a folder stands for the notebooks in it), or, with none given, every
 * notebook in `defaultDir` (possibly none).
 * @throws {SelectionError} naming a path that does not exist, or saying that the given folders hold no notebook.
 */
export async function selectNotebooks(paths: readonly string[], defaultDir: string): Promise<string[]> {
  if (paths.length === 0) return notebooksIn(defaultDir).catch(() => []);
  const found: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (!info) throw new SelectionError(`no such notebook or folder: ${path}`);
    found.push(...(info.isDirectory() ? await notebooksIn(path) : [path]));
  }
  if (found.length === 0) throw new SelectionError('no .ipynb files in the given folders');
  return found;
}

/**
 * One run per notebook and kernel, kernel by kernel. A kernel other than tslab is named wherever a run is (and every
 * kernel is, when there are several), so the two runs of one notebook can be told apart.
 */
export function planRuns(
  paths: readonly string[],
  kernels: readonly KernelName[],
  cwd: string,
): PlannedRun[] {
  const names = paths.map((path) => basename(path, '.ipynb'));
  const labels = names.map((name, i) =>
    names.indexOf(name) === names.lastIndexOf(name) ? name : relative(cwd, paths[i]),
  );
  return kernels.flatMap((kernel) =>
    paths.map((path, i) => {
      const suffix = kernel !== 'tslab' || kernels.length > 1 ? ` [${kernel}]` : '';
      return { path, kernel, label: labels[i] + suffix, shown: (relative(cwd, path) || path) + suffix };
    }),
  );
}
