/** The nbformat 4 data model that the runner and the exporter share: notebooks, cells and outputs. */

/** Text as nbformat stores it: one string, or a list of lines that joins to it. */
export type MultilineString = string | string[];

/** A MIME bundle: `text/plain`, `text/html`, `image/svg+xml`, `image/png` (base64) and so on. */
export type MimeBundle = Record<string, unknown>;

/** A `stream` output: text written to stdout or stderr. */
export interface StreamOutput {
  output_type: 'stream';
  name: 'stdout' | 'stderr';
  text: MultilineString;
}

/** A `display_data` output: an explicit display call. */
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

/** A rich output: `display_data` or `execute_result`. */
export type DataOutput = DisplayDataOutput | ExecuteResultOutput;

/** An `error` output as a kernel reports it. */
export interface ErrorOutput {
  output_type: 'error';
  ename: string;
  evalue: string;
  traceback: string[];
}

/** Any output of a code cell. */
export type Output = StreamOutput | DataOutput | ErrorOutput;

/** Cell metadata; `tags` is what the tools read (see {@link cellTags}). */
export interface CellMetadata {
  tags?: string[];
  [key: string]: unknown;
}

/** A code cell and its recorded outputs. */
export interface CodeCell {
  cell_type: 'code';
  id?: string;
  metadata: CellMetadata;
  source: MultilineString;
  outputs: Output[];
  execution_count: number | null;
}

/** A markdown cell, with optional attachments (images pasted into the cell). */
export interface MarkdownCell {
  cell_type: 'markdown';
  id?: string;
  metadata: CellMetadata;
  source: MultilineString;
  attachments?: Record<string, MimeBundle>;
}

/** A raw cell; `raw_mimetype` (or `format`) says what its text is. */
export interface RawCell {
  cell_type: 'raw';
  id?: string;
  metadata: CellMetadata & { raw_mimetype?: string; format?: string };
  source: MultilineString;
  attachments?: Record<string, MimeBundle>;
}

/** Any cell. */
export type Cell = CodeCell | MarkdownCell | RawCell;

/** Notebook metadata; the named keys are the ones the tools read, everything else is kept as it is. */
export interface NotebookMetadata {
  title?: string;
  async_batching?: {
    title?: string;
    description?: string;
    tags?: string[];
    date?: string;
    normalise?: string[];
    [key: string]: unknown;
  };
  kernelspec?: { name?: string; language?: string; display_name?: string };
  language_info?: Record<string, unknown> & { name?: string };
  [key: string]: unknown;
}

/** An nbformat 4 notebook. */
export interface Notebook {
  nbformat: 4;
  nbformat_minor: number;
  metadata: NotebookMetadata;
  cells: Cell[];
}
