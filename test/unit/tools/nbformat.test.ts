import { describe, expect, it } from 'vitest';
import { terminalText } from '../../../tools/export/text.ts';
import {
  applyCarriageReturns,
  type Cell,
  cellTags,
  NotebookFormatError,
  parseNotebook,
  serializeNotebook,
  streamText,
} from '../../../tools/nbformat/index.ts';
import { OutputRecorder } from '../../../tools/runner/outputs.ts';

const header = { msg_id: 'm', msg_type: 'stream', session: 's', username: 'u', date: '', version: '5.3' };

describe('one notebook model for the runner and the exporter', () => {
  it('overwrites the start of a line after a carriage return, the same way in the runner and the export', () => {
    const recorder = new OutputRecorder();
    recorder.beginCell();
    recorder.handle({ header, parent_header: {}, metadata: {}, content: { name: 'stdout', text: 'abc\rX' } });
    expect(recorder.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'Xbc' }]);
    expect(applyCarriageReturns('abc\rX')).toBe('Xbc');
    expect(streamText('abc\rX')).toBe('Xbc');
    expect(terminalText('abc\rX')).toBe('Xbc');
  });

  it('shows a line whose carriage return is still pending when the stream ends', () => {
    expect(applyCarriageReturns('50%\r')).toBe('50%\r');
    expect(streamText('50%\r')).toBe('50%');
    expect(terminalText('\u001b[32m50%\u001b[0m\r')).toBe('50%');
  });

  it('normalises tags so remove_cell, Remove-Cell and remove-cell are one tag', () => {
    const cell: Cell = {
      cell_type: 'markdown',
      metadata: { tags: ['remove_cell', ' Hide-Input '] },
      source: '',
    };
    expect(cellTags(cell)).toEqual(new Set(['remove-cell', 'hide-input']));
    expect(cellTags({ cell_type: 'raw', metadata: {}, source: '' })).toEqual(new Set());
  });

  it('raises one error class, a TypeError naming the file, for every malformed notebook', () => {
    for (const text of ['{', '[]', '{"nbformat": 3}', '{"nbformat": 4, "cells": [{"cell_type": "x"}]}']) {
      let caught: unknown;
      try {
        parseNotebook(text, 'n.ipynb');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(NotebookFormatError);
      expect(caught).toBeInstanceOf(TypeError);
      expect((caught as NotebookFormatError).file).toBe('n.ipynb');
      expect((caught as Error).message).toMatch(/^n\.ipynb: /);
    }
  });

  it('keeps fields it does not know and fills in nbformat defaults, so a notebook written back loses nothing', () => {
    const text = JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { widgets: { state: 1 } },
      cells: [
        { cell_type: 'code', id: 'abc', source: ['1'], metadata: {}, outputs: [], extra: true },
        { cell_type: 'markdown', id: 'def', source: 'x' },
      ],
    });
    const notebook = parseNotebook(text, 'n.ipynb');
    expect(notebook.metadata).toEqual({ widgets: { state: 1 } });
    expect(notebook.cells[0]).toMatchObject({ id: 'abc', extra: true, execution_count: null });
    expect(notebook.cells[1]).toEqual({ cell_type: 'markdown', id: 'def', source: 'x', metadata: {} });
    const written = serializeNotebook(notebook);
    expect(serializeNotebook(parseNotebook(written, 'again.ipynb'))).toBe(written);
    expect(JSON.parse(written).cells[0].extra).toBe(true);
  });
});
