/**
 * All-or-nothing output: every file is written into a staging folder beside the output folder, and only then is the
 * staging folder swapped in for the old output by two renames. A failure at any step, I/O included, leaves the
 * previous output as it was and removes the staging folder.
 */
import * as fsPromises from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { OutputFile } from './markdown.ts';

/** The file operations {@link replaceFolder} uses; tests hand in a copy that fails on purpose. */
export type FolderFs = Pick<
  typeof fsPromises,
  'mkdir' | 'mkdtemp' | 'readdir' | 'rename' | 'rm' | 'stat' | 'writeFile'
>;

/** Written into every export so a later export knows the folder is its own to replace. */
export const EXPORT_MARKER = '.async-batching-export';

/** The output folder holds something the exporter did not write; it is left alone. */
export class OutputFolderError extends Error {
  override name = 'OutputFolderError';
}

// An export from before the marker existed: posts, pages, their assets and the site trees of the targets.
const EXPORT_ENTRY =
  /^(?:[\w.-]+\.(?:md|html)|assets|_posts|content|static|standalone|async-batching-walkthrough)$/;

async function checkReplaceable(outDir: string, fs: FolderFs): Promise<boolean> {
  let info: Awaited<ReturnType<FolderFs['stat']>>;
  try {
    info = await fs.stat(outDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (!info.isDirectory()) throw new OutputFolderError(`${outDir} exists and is not a folder`);
  const names = await fs.readdir(outDir);
  if (names.length > 0 && !names.includes(EXPORT_MARKER) && !names.every((name) => EXPORT_ENTRY.test(name))) {
    throw new OutputFolderError(
      `${outDir} holds files the exporter did not write (${names.slice(0, 3).join(', ')}…); it replaces its output ` +
        'folder whole, so give it a folder of its own (--out) and copy the result into your site',
    );
  }
  return true;
}

/**
 * Makes `outDir` hold exactly `files` (paths relative to it), or, on any failure, leaves it as it was.
 *
 * @throws OutputFolderError when `outDir` is not a folder or holds files that no export wrote; the first I/O error
 *   otherwise, after undoing every step
 */
export async function replaceFolder(
  outDir: string,
  files: readonly OutputFile[],
  fs: FolderFs = fsPromises,
): Promise<void> {
  const parent = dirname(outDir);
  await fs.mkdir(parent, { recursive: true });
  const existed = await checkReplaceable(outDir, fs);
  const staging = await fs.mkdtemp(join(parent, `.${basename(outDir)}-staging-`));
  const previous = `${staging}-previous`;
  try {
    for (const file of files) {
      const target = join(staging, file.path);
      await fs.mkdir(dirname(target), { recursive: true });
      await fs.writeFile(target, file.content);
    }
    await fs.writeFile(join(staging, EXPORT_MARKER), `${files.map((file) => file.path).join('\n')}\n`);
    if (existed) await fs.rename(outDir, previous);
    try {
      await fs.rename(staging, outDir);
    } catch (error) {
      if (existed) await fs.rename(previous, outDir);
      throw error;
    }
    if (existed) await fs.rm(previous, { recursive: true, force: true });
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}
