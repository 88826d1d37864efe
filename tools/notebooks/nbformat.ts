/**
 * Reading and writing nbformat 4 notebooks the way Jupyter does: multiline strings as lists of lines, JSON with a
 * one-space indent, sorted keys, non-ASCII kept, a trailing newline, and (here) an atomic replace on disk.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Text as nbformat stores it: one string, or a list of lines that joins to it. */
export type MultilineString = string | string[];

/** A MIME bundle: `text/plain`, `text/html`, `image/svg+xml`, `image/png` (base64) and so on. */
export type MimeBundle = Record<string, MultilineString | unknown>;

/** A `stream` output: text written to stdout or stderr. */
export interface StreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr';
  text: MultilineString;
}

/** A `display_data` output. */
export interface DisplayDataOutput {
  output_type: 'display_data';
  data: MimeBundle;
  metadata: Record<string, unknown>;
}

/** An `execute_result` output: the value of a cell, numbered like the cell. */
export interface ExecuteResultOutput {
  output_type: 'execute_result';
  data: MimeBundle;
  metadata: Record<string, unknown>;
  execution_count: number | null;
}

/** An `error` output as a kernel reports it. */
export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}

/** Any output of a code cell. */
export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

/** Cell metadata; `tags` is the part the runner reads. */
export interface CellMetadata {
  tags?: string[];
  [key: string]: unknown;
}

/** A code cell. */
export interface CodeCell {
  cell_type: 'code';
  id?: string;
  metadata: CellMetadata;
  source: MultilineString;
  outputs: Output[];
  execution_count: number | null;
}

/** A markdown or raw cell. */
export interface TextCell {
  cell_type: 'markdown' | 'raw';
  id?: string;
  metadata: CellMetadata;
  source: MultilineString;
  attachments?: Record<string, MimeBundle>;
}

/** Any cell. */
export type Cell = CodeCell | TextCell;

/** An nbformat 4 notebook. */
export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

/** Raised for a file that is not an nbformat 4 notebook; the message names the file and what is wrong. */
export class NotebookFormatError extends Error {
  override name = 'NotebookFormatError';
}

/** Joins nbformat's list-of-lines form back into one string. */
export function joinText(text: MultilineString | unknown): string {
  if (Array.isArray(text)) return text.join('');
  return typeof text === 'string' ? text : '';
}

// Python's str.splitlines line boundaries, which nbformat uses when it writes a notebook.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these control characters are line breaks to Python.
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** Splits text into lines keeping their endings, exactly like Python's `str.splitlines(True)`. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (const match of text.matchAll(LINE_BREAK)) {
    const end = match.index + match[0].length;
    lines.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

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
      const copy: TextCell = { ...cell, source };
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Parses and checks the shape of an nbformat 4 notebook.
 * @throws {NotebookFormatError} naming `name` and the first problem found.
 */
export function parseNotebook(text: string, name: string): Notebook {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new NotebookFormatError(`${name}: not valid JSON (${(error as Error).message})`);
  }
  const fail = (what: string): never => {
    throw new NotebookFormatError(`${name}: not an nbformat 4 notebook: ${what}`);
  };
  if (!isRecord(data)) return fail('the top level is not an object');
  if (data.nbformat !== 4) return fail(`nbformat is ${JSON.stringify(data.nbformat)}, expected 4`);
  if (!isRecord(data.metadata)) return fail('metadata is missing');
  if (!Array.isArray(data.cells)) return fail('cells is not a list');
  for (const [index, cell] of data.cells.entries()) {
    const where = `cell ${index + 1}`;
    if (!isRecord(cell)) fail(`${where} is not an object`);
    if (!['code', 'markdown', 'raw'].includes(cell.cell_type as string)) {
      fail(`${where} has cell_type ${JSON.stringify(cell.cell_type)}`);
    }
    if (typeof cell.source !== 'string' && !Array.isArray(cell.source)) fail(`${where} has no source`);
    if (!isRecord(cell.metadata)) fail(`${where} has no metadata`);
    if (cell.cell_type === 'code' && !Array.isArray(cell.outputs)) fail(`${where} has no outputs list`);
  }
  return data as unknown as Notebook;
}

/** Reads and parses a notebook file. */
export async function readNotebook(path: string): Promise<Notebook> {
  return parseNotebook(await readFile(path, 'utf8'), path);
}

/**
 * Writes `notebook` to `path` atomically: a temporary file in the same folder, then a rename over the original,
 * so a crash leaves either the old file or the new one, never half of one.
 */
export async function writeNotebook(path: string, notebook: Notebook): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, serializeNotebook(notebook), 'utf8');
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** The tags of a cell (an empty list when it has none). */
export function cellTags(cell: Cell): string[] {
  const tags = cell.metadata.tags;
  return Array.isArray(tags) ? tags.filter((tag): tag is string => typeof tag === 'string') : [];
}
