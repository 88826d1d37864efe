// Notebooks written by tests: each source a code cell that has not run yet.
import type { CodeCell, Notebook } from '../../tools/nbformat/index.ts';

/** A code cell with `source`, never run. */
export function codeCell(source: string): CodeCell {
  return { cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null };
}

/** A notebook of code cells, one per source, with `metadata` (none by default). */
export function notebookOf(sources: readonly string[], metadata: Notebook['metadata'] = {}): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata, cells: sources.map(codeCell) };
}
