/**
 * The one notebook model of the tools: nbformat 4 types, parsing with one error class, tags, stream text, and
 * reading/writing files as Jupyter does. The runner (`tools/runner/`) and the exporter (`tools/export/`) both use it.
 */
export * from './file.ts';
export * from './parse.ts';
export * from './text.ts';
export type * from './types.ts';
