/**
 * Reading and writing notebook files the way Jupyter does: multiline strings as lists of lines, JSON with a one-space
 * indent, sorted keys, non-ASCII kept, a trailing newline, and (here) an atomic replace on disk.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseNotebook } from './parse.ts';
import { joinText, splitLines } from './text.ts';
import type { Cell, MimeBundle, Notebook, Output } from './types.ts';

/** The MIME types whose string values nbformat stores as lists of lines. */
function isSplitMime(mime: string): boolean {
  return mime.startsWith('text/') || mime === 'application/javascript' || mime === 'image/svg+xml';
}

function splitBundle(bundle: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries(bundle)) {
    out[mime] = typeof value === 'string' && isSplitMime(mime) ? splitLines(value) : value;
  }
  return out;
}

function splitOutput(output: Output): Output {
  switch (output.output_type) {
    case 'stream':
      return { ...output, text: splitLines(joinText(output.text)) };
    case 'display_data':
    case 'execute_result':
      return { ...output, data: splitBundle(output.data) };
    default:
      return output;
  }
}

/** Returns a copy of `notebook` with sources and text outputs in list-of-lines form, as nbformat writes them. */
export function splitNotebookLines(notebook: Notebook): Notebook {
  return {
    ...notebook,
    cells: notebook.cells.map((cell): Cell => {
      const source = splitLines(joinText(cell.source));
      if (cell.cell_type === 'code') return { ...cell, source, outputs: cell.outputs.map(splitOutput) };
      const copy = { ...cell, source };
      if (cell.attachments) {
        copy.attachments = Object.fromEntries(
          Object.entries(cell.attachments).map(([name, bundle]) => [name, splitBundle(bundle)]),
        );
      }
      return copy;
    }),
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

/** Serialises a notebook byte for byte as Jupyter (nbformat) does. */
export function serializeNotebook(notebook: Notebook): string {
  return `${JSON.stringify(sortKeys(splitNotebookLines(notebook)), null, 1)}\n`;
}

/** Reads and parses a notebook file. */
export async function readNotebook(path: string): Promise<Notebook> {
  return parseNotebook(await readFile(path, 'utf8'), path);
}

// Temporary files of writes in progress, so that a process ending on a signal can remove them synchronously.
const writing = new Set<string>();

/**
 * Removes the temporary files of every {@link writeNotebook} still in progress. Synchronous, for an `exit` or signal
 * handler: the interrupted write then leaves the original file as it was and nothing else.
 */
export function removeUnfinishedWrites(): void {
  for (const temp of writing) rmSync(temp, { force: true });
  writing.clear();
}

/**
 * Writes `text` to `path` atomically: a temporary file in the same folder, then a rename over the original, so a
 * crash leaves either the old file or the new one, never half of one.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  writing.add(temp);
  try {
    await writeFile(temp, text, 'utf8');
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    writing.delete(temp);
  }
}

/** Writes `notebook` to `path` as Jupyter would, atomically (see {@link writeFileAtomic}). */
export async function writeNotebook(path: string, notebook: Notebook): Promise<void> {
  await writeFileAtomic(path, serializeNotebook(notebook));
}

/** The synchronous form of {@link writeFileAtomic}, for small files written by synchronous set-up code. */
export function writeFileAtomicSync(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, text, 'utf8');
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
