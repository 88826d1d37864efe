/**
 * Parsing nbformat 4 notebooks: strict about structure (a truncated or hand-edited file fails loudly, naming where),
 * lenient about what the tools ignore (unknown metadata, extra fields, widget state), which is kept untouched so a
 * notebook written back loses nothing.
 */
import type { Cell, MultilineString, Notebook, NotebookMetadata } from './types.ts';

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
type Fail = (reason: string) => never;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMultiline(value: Json): value is MultilineString {
  return (
    typeof value === 'string' || (Array.isArray(value) && value.every((line) => typeof line === 'string'))
  );
}

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function checkOutput(output: Json, where: string, fail: Fail): void {
  if (!isObject(output)) fail(`${where} should be an object, got ${describe(output)}`);
  switch (output.output_type) {
    case 'stream':
      if (output.name !== 'stdout' && output.name !== 'stderr') {
        fail(`${where}.name should be "stdout" or "stderr", got ${describe(output.name)}`);
      }
      if (!isMultiline(output.text)) fail(`${where}.text should be a string or a list of strings`);
      return;
    case 'execute_result':
    case 'display_data':
      if (!isObject(output.data)) fail(`${where}.data should be an object (a MIME bundle)`);
      output.metadata ??= {};
      if (!isObject(output.metadata)) fail(`${where}.metadata should be an object`);
      if (output.output_type === 'execute_result' && typeof output.execution_count !== 'number') {
        output.execution_count = null;
      }
      return;
    case 'error':
      if (typeof output.ename !== 'string' || typeof output.evalue !== 'string') {
        fail(`${where} (error) should have string "ename" and "evalue"`);
      }
      if (!Array.isArray(output.traceback) || !output.traceback.every((line) => typeof line === 'string')) {
        fail(`${where}.traceback should be a list of strings`);
      }
      return;
    default:
      fail(
        `${where}.output_type should be stream, execute_result, display_data or error, got ${describe(output.output_type)}`,
      );
  }
}

function checkCell(cell: Json, where: string, fail: Fail): void {
  if (!isObject(cell)) fail(`${where} should be an object, got ${describe(cell)}`);
  if (cell.cell_type !== 'markdown' && cell.cell_type !== 'code' && cell.cell_type !== 'raw') {
    fail(`${where}.cell_type should be markdown, code or raw, got ${describe(cell.cell_type)}`);
  }
  if (!isMultiline(cell.source)) fail(`${where}.source should be a string or a list of strings`);
  cell.metadata ??= {};
  const metadata = cell.metadata;
  if (!isObject(metadata)) fail(`${where}.metadata should be an object`);
  if (
    metadata.tags !== undefined &&
    !(Array.isArray(metadata.tags) && metadata.tags.every((t) => typeof t === 'string'))
  ) {
    fail(`${where}.metadata.tags should be a list of strings`);
  }
  if (cell.cell_type === 'code') {
    if (!Array.isArray(cell.outputs)) fail(`${where}.outputs should be a list (code cell)`);
    cell.outputs.forEach((output, j) => {
      checkOutput(output, `${where}.outputs[${j}]`, fail);
    });
    if (typeof cell.execution_count !== 'number') cell.execution_count = null;
    return;
  }
  const attachments = cell.attachments;
  if (attachments !== undefined && !(isObject(attachments) && Object.values(attachments).every(isObject))) {
    fail(`${where}.attachments should map names to MIME bundles`);
  }
}

/**
 * Parses the text of an `.ipynb` file and checks it is an nbformat 4 notebook. Missing optional parts get their
 * nbformat defaults (`metadata: {}`, `execution_count: null`, `nbformat_minor: 0`); everything else is kept as read.
 *
 * @param text - the file's contents
 * @param file - the file's name, used in error messages
 * @throws {@link NotebookFormatError} naming `file` and what is wrong (not JSON, wrong nbformat, missing `cells`, a
 *   malformed cell or output with its index)
 */
export function parseNotebook(text: string, file: string): Notebook {
  const fail: Fail = (reason) => {
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
  json.metadata ??= {};
  if (!isObject(json.metadata)) return fail('"metadata" should be an object');
  if (typeof json.nbformat_minor !== 'number') json.nbformat_minor = 0;
  json.cells.forEach((cell, i) => {
    checkCell(cell, `cells[${i}]`, fail);
  });
  return json as unknown as Notebook & { metadata: NotebookMetadata; cells: Cell[] };
}

/**
 * The cell's tags, normalised so `remove_cell`, `Remove-Cell` and `remove-cell` mean the same (nbconvert users write
 * all of them).
 */
export function cellTags(cell: Cell): Set<string> {
  return new Set((cell.metadata.tags ?? []).map((tag) => tag.trim().toLowerCase().replaceAll('_', '-')));
}
