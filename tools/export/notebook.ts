/**
 * The subset of nbformat 4 the exporter reads, and a validator that turns parsed JSON into it.
 *
 * Validation is strict about structure (so a truncated or hand-edited file fails loudly, naming where) and
 * lenient about everything the exporter ignores (unknown metadata, extra fields, widget state).
 */

/** Notebook text: nbformat stores multi-line strings either whole or as a list of lines. */
export type MultilineString = string | string[];

/** A MIME bundle as stored in `display_data` / `execute_result` outputs. */
export type MimeBundle = Record<string, unknown>;

/** A stream output (`print`, `console.log`, stderr). */
export interface StreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr';
  text: MultilineString;
}

/** A rich output: the value of the last expression, or an explicit display call. */
export interface DataOutput {
  output_type: 'execute_result' | 'display_data';
  data: MimeBundle;
  execution_count?: number | null;
  metadata?: Record<string, unknown>;
}

/** An exception raised by a cell. */
export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}

/** Any nbformat 4 output. */
export type Output = StreamOutput | DataOutput | ErrorOutput;

/** Metadata common to every cell; only `tags` matters to the exporter. */
export interface CellMetadata {
  tags?: string[];
  [key: string]: unknown;
}

/** A markdown cell, with optional attachments (images pasted into the cell). */
export interface MarkdownCell {
  cell_type: 'markdown';
  source: MultilineString;
  metadata: CellMetadata;
  attachments?: Record<string, MimeBundle>;
}

/** A code cell and its recorded outputs. */
export interface CodeCell {
  cell_type: 'code';
  source: MultilineString;
  metadata: CellMetadata;
  outputs: Output[];
  execution_count: number | null;
}

/** A raw cell; exported only when its `raw_mimetype` says it is Markdown or HTML. */
export interface RawCell {
  cell_type: 'raw';
  source: MultilineString;
  metadata: CellMetadata & { raw_mimetype?: string; format?: string };
}

/** Any nbformat 4 cell. */
export type Cell = MarkdownCell | CodeCell | RawCell;

/** Notebook-level metadata the exporter reads (post title, description, tags, date). */
export interface NotebookMetadata {
  title?: string;
  async_batching?: { title?: string; description?: string; tags?: string[]; date?: string };
  kernelspec?: { name?: string; language?: string; display_name?: string };
  language_info?: { name?: string };
  [key: string]: unknown;
}

/** An nbformat 4 notebook. */
export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: NotebookMetadata;
  cells: Cell[];
}

/** A notebook file could not be used: not JSON, not nbformat 4, or structurally wrong. */
export class NotebookFormatError extends TypeError {
  override name = 'NotebookFormatError';
  /** The file (as given on the command line or to {@link parseNotebook}). */
  readonly file: string;
  /** What is wrong, without the file name. */
  readonly reason: string;
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(`${file}: ${reason}`, options);
    this.file = file;
    this.reason = reason;
  }
}

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMultiline(value: Json): value is MultilineString {
  return (
    typeof value === 'string' || (Array.isArray(value) && value.every((line) => typeof line === 'string'))
  );
}

/** Joins a stored multi-line string. */
export function joinSource(source: MultilineString): string {
  return typeof source === 'string' ? source : source.join('');
}

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function checkOutput(output: Json, where: string, fail: (reason: string) => never): Output {
  if (!isObject(output)) fail(`${where} should be an object, got ${describe(output)}`);
  switch (output.output_type) {
    case 'stream':
      if (output.name !== 'stdout' && output.name !== 'stderr') {
        fail(`${where}.name should be "stdout" or "stderr", got ${describe(output.name)}`);
      }
      if (!isMultiline(output.text)) fail(`${where}.text should be a string or a list of strings`);
      return output as unknown as StreamOutput;
    case 'execute_result':
    case 'display_data':
      if (!isObject(output.data)) fail(`${where}.data should be an object (a MIME bundle)`);
      return output as unknown as DataOutput;
    case 'error':
      if (typeof output.ename !== 'string' || typeof output.evalue !== 'string') {
        fail(`${where} (error) should have string "ename" and "evalue"`);
      }
      if (!Array.isArray(output.traceback) || !output.traceback.every((line) => typeof line === 'string')) {
        fail(`${where}.traceback should be a list of strings`);
      }
      return output as unknown as ErrorOutput;
    default:
      return fail(
        `${where}.output_type should be stream, execute_result, display_data or error, got ${describe(output.output_type)}`,
      );
  }
}

function checkCell(cell: Json, where: string, fail: (reason: string) => never): Cell {
  if (!isObject(cell)) fail(`${where} should be an object, got ${describe(cell)}`);
  if (cell.cell_type !== 'markdown' && cell.cell_type !== 'code' && cell.cell_type !== 'raw') {
    fail(`${where}.cell_type should be markdown, code or raw, got ${describe(cell.cell_type)}`);
  }
  if (!isMultiline(cell.source)) fail(`${where}.source should be a string or a list of strings`);
  const metadata = cell.metadata ?? {};
  if (!isObject(metadata)) fail(`${where}.metadata should be an object`);
  if (
    metadata.tags !== undefined &&
    !(Array.isArray(metadata.tags) && metadata.tags.every((t) => typeof t === 'string'))
  ) {
    fail(`${where}.metadata.tags should be a list of strings`);
  }
  if (cell.cell_type === 'code') {
    if (!Array.isArray(cell.outputs)) fail(`${where}.outputs should be a list (code cell)`);
    const outputs = cell.outputs.map((output, j) => checkOutput(output, `${where}.outputs[${j}]`, fail));
    const count = cell.execution_count;
    return {
      cell_type: 'code',
      source: cell.source,
      metadata,
      outputs,
      execution_count: typeof count === 'number' ? count : null,
    };
  }
  if (cell.cell_type === 'markdown') {
    const attachments = cell.attachments;
    if (attachments !== undefined && !(isObject(attachments) && Object.values(attachments).every(isObject))) {
      fail(`${where}.attachments should map names to MIME bundles`);
    }
    return {
      cell_type: 'markdown',
      source: cell.source,
      metadata,
      ...(attachments ? { attachments: attachments as Record<string, MimeBundle> } : {}),
    };
  }
  return { cell_type: 'raw', source: cell.source, metadata };
}

/**
 * Parses the text of an `.ipynb` file and checks it is an nbformat 4 notebook.
 *
 * @param text - the file's contents
 * @param file - the file's name, used in error messages
 * @throws {@link NotebookFormatError} naming `file` and what is wrong (not JSON, wrong nbformat, missing `cells`, a malformed
 *   cell or output with its index)
 */
export function parseNotebook(text: string, file: string): Notebook {
  const fail = (reason: string): never => {
    throw new NotebookFormatError(file, reason);
  };
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new NotebookFormatError(file, `not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isObject(json)) return fail(`expected a notebook object, got ${describe(json)}`);
  if (json.nbformat !== 4) {
    return fail(
      `expected nbformat 4, got ${json.nbformat === undefined ? 'no "nbformat" field' : describe(json.nbformat)}`,
    );
  }
  if (!Array.isArray(json.cells))
    return fail('missing "cells" list (nbformat 4 keeps cells at the top level)');
  const metadata = json.metadata ?? {};
  if (!isObject(metadata)) return fail('"metadata" should be an object');
  const cells = json.cells.map((cell, i) => checkCell(cell, `cells[${i}]`, fail));
  return {
    nbformat: 4,
    nbformat_minor: typeof json.nbformat_minor === 'number' ? json.nbformat_minor : 0,
    metadata: metadata as NotebookMetadata,
    cells,
  };
}

/** The cell's tags, normalised so `remove_cell` and `remove-cell` mean the same (nbconvert users write both). */
export function cellTags(cell: Cell): Set<string> {
  return new Set((cell.metadata.tags ?? []).map((tag) => tag.trim().toLowerCase().replaceAll('_', '-')));
}
