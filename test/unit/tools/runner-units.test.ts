import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyCarriageReturns,
  type CodeCell,
  type Notebook,
  NotebookFormatError,
  parseNotebook,
  serializeNotebook,
  splitLines,
  writeNotebook,
} from '../../../tools/nbformat/index.ts';
import { compareNotebooks } from '../../../tools/runner/check.ts';
import type { KernelMessage } from '../../../tools/runner/kernel.ts';
import {
  NORMALISERS,
  normalise,
  normalisersFor,
  notebookNormalisers,
} from '../../../tools/runner/normalise.ts';
import { OutputRecorder } from '../../../tools/runner/outputs.ts';
import { describeError } from '../../../tools/runner/run.ts';

function message(msgType: string, content: Record<string, unknown>): KernelMessage {
  const header = { msg_id: 'm', msg_type: msgType, session: 's', username: 'u', date: '', version: '5.3' };
  return { header, parent_header: {}, metadata: {}, content };
}

function code(source: string, outputs: CodeCell['outputs'], tags?: string[]): CodeCell {
  return { cell_type: 'code', metadata: tags ? { tags } : {}, source, outputs, execution_count: 1 };
}

function notebook(cells: Notebook['cells'], metadata: Record<string, unknown> = {}): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata, cells };
}

describe('nbformat', () => {
  it('splits lines exactly like Python str.splitlines(True)', () => {
    expect(splitLines('')).toEqual([]);
    expect(splitLines('a\nb')).toEqual(['a\n', 'b']);
    expect(splitLines('a\r\nb\rc\n')).toEqual(['a\r\n', 'b\r', 'c\n']);
    expect(splitLines('x\u2028y')).toEqual(['x\u2028', 'y']);
  });

  it('serialises with a one-space indent, sorted keys, lists of lines, non-ASCII kept and a trailing newline', () => {
    const nb = notebook(
      [
        {
          cell_type: 'code',
          metadata: {},
          source: 'let a = 1;\nconsole.log("é")',
          execution_count: 1,
          outputs: [
            { output_type: 'stream', name: 'stdout', text: 'é\n' },
            {
              output_type: 'display_data',
              metadata: {},
              data: { 'image/png': 'iVBOR', 'text/html': '<b>\nx</b>' },
            },
          ],
        },
      ],
      { z: 1, a: { y: 2, b: 3 } },
    );
    expect(serializeNotebook(nb)).toBe(
      [
        '{',
        ' "cells": [',
        '  {',
        '   "cell_type": "code",',
        '   "execution_count": 1,',
        '   "metadata": {},',
        '   "outputs": [',
        '    {',
        '     "name": "stdout",',
        '     "output_type": "stream",',
        '     "text": [',
        '      "é\\n"',
        '     ]',
        '    },',
        '    {',
        '     "data": {',
        '      "image/png": "iVBOR",',
        '      "text/html": [',
        '       "<b>\\n",',
        '       "x</b>"',
        '      ]',
        '     },',
        '     "metadata": {},',
        '     "output_type": "display_data"',
        '    }',
        '   ],',
        '   "source": [',
        '    "let a = 1;\\n",',
        '    "console.log(\\"é\\")"',
        '   ]',
        '  }',
        ' ],',
        ' "metadata": {',
        '  "a": {',
        '   "b": 3,',
        '   "y": 2',
        '  },',
        '  "z": 1',
        ' },',
        ' "nbformat": 4,',
        ' "nbformat_minor": 5',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('rejects a file that is not an nbformat 4 notebook, naming it', () => {
    expect(() => parseNotebook('{"cells": [', 'x.ipynb')).toThrow(NotebookFormatError);
    expect(() => parseNotebook('{"cells": [', 'x.ipynb')).toThrow(/^x\.ipynb: not valid JSON/);
    expect(() => parseNotebook('{"nbformat": 3, "metadata": {}, "cells": []}', 'y.ipynb')).toThrow(
      'y.ipynb: expected nbformat 4, got number 3',
    );
    expect(() =>
      parseNotebook(
        '{"nbformat": 4, "metadata": {}, "cells": [{"cell_type": "code", "source": "", "metadata": {}}]}',
        'z',
      ),
    ).toThrow('z: cells[0].outputs should be a list (code cell)');
  });

  describe('writeNotebook', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'runner-units-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('replaces the file and leaves no temporary file behind', async () => {
      const path = join(dir, 'a.ipynb');
      await writeNotebook(path, notebook([]));
      await writeNotebook(path, notebook([], { x: 1 }));
      expect(JSON.parse(await readFile(path, 'utf8')).metadata).toEqual({ x: 1 });
      expect(await readdir(dir)).toEqual(['a.ipynb']);
    });

    it('leaves the target and the folder as they were when the rename fails', async () => {
      const target = join(dir, 'occupied.ipynb');
      await mkdir(join(target, 'inside'), { recursive: true });
      await expect(writeNotebook(target, notebook([]))).rejects.toThrow();
      expect((await readdir(dir)).sort()).toEqual(['a.ipynb', 'occupied.ipynb']);
      expect(await readdir(target)).toEqual(['inside']);
    });
  });
});

describe('normalisers', () => {
  it('ports: replaces loopback ports only', () => {
    expect(
      NORMALISERS.ports.apply('http://127.0.0.1:43121/a and localhost:8080, [::1]:9 vs example.com:80'),
    ).toBe('http://127.0.0.1:<port>/a and localhost:<port>, [::1]:<port> vs example.com:80');
  });

  it('durations: replaces a number with a unit of time, not other numbers', () => {
    expect(
      NORMALISERS.durations.apply('took 12.3 ms, then 1.2 s and 3s; 10 items, 2 sockets, 5 requests/s'),
    ).toBe('took <duration>, then <duration> and <duration>; 10 items, 2 sockets, 5 requests/s');
  });

  it('memory: replaces sizes in decimal and binary units', () => {
    expect(NORMALISERS.memory.apply('heap 12.3 MB, 512KiB, 1,024 bytes, 7 GB; 3 Mbps')).toBe(
      'heap <memory>, <memory>, <memory>, <memory>; 3 Mbps',
    );
  });

  it('rates: replaces per-second figures', () => {
    expect(NORMALISERS.rates.apply('4321 requests/s and 56.7 MB/s')).toBe('<rate> and <rate>');
  });

  it('stack-traces: removes stack frame lines and keeps the message', () => {
    expect(
      NORMALISERS['stack-traces'].apply('Error: x\n    at f (a.js:1:2)\n    at node:vm:3:4\nafter\n'),
    ).toBe('Error: x\nafter\n');
  });

  it('applies a notebook’s chosen normalisers in order and rejects unknown names', () => {
    const chosen = notebookNormalisers({ async_batching: { normalise: ['ports', 'durations'] } });
    expect(normalise('127.0.0.1:5000 in 3 ms', chosen)).toBe('127.0.0.1:<port> in <duration>');
    expect(notebookNormalisers({})).toEqual([]);
    expect(() => normalisersFor(['timings'])).toThrow(RangeError);
    expect(() => normalisersFor(['timings'])).toThrow(/Unknown normaliser "timings"; expected one of ports/);
    expect(() => notebookNormalisers({ async_batching: { normalise: 'ports' } })).toThrow(TypeError);
  });
});

describe('OutputRecorder', () => {
  it('merges consecutive stream text of one name and applies carriage returns', () => {
    const recorder = new OutputRecorder();
    recorder.beginCell();
    recorder.handle(message('stream', { name: 'stdout', text: 'a\n' }));
    recorder.handle(message('stream', { name: 'stdout', text: 'progress 1\r' }));
    recorder.handle(message('stream', { name: 'stdout', text: 'progress 2\n' }));
    recorder.handle(message('stream', { name: 'stderr', text: 'warn\n' }));
    recorder.handle(message('stream', { name: 'stdout', text: 'b\n' }));
    expect(recorder.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'a\nprogress 2\n' },
      { output_type: 'stream', name: 'stderr', text: 'warn\n' },
      { output_type: 'stream', name: 'stdout', text: 'b\n' },
    ]);
  });

  it('overwrites a line like a terminal and keeps a trailing carriage return pending', () => {
    expect(applyCarriageReturns('12345\rab\n')).toBe('ab345\n');
    expect(applyCarriageReturns('x\r\ny\r')).toBe('x\ny\r');
  });

  it('defers clear_output with wait until the next output, and clears at once without it', () => {
    const recorder = new OutputRecorder();
    recorder.beginCell();
    recorder.handle(message('stream', { name: 'stdout', text: 'old\n' }));
    recorder.handle(message('clear_output', { wait: true }));
    expect(recorder.outputs).toHaveLength(1);
    recorder.handle(message('display_data', { data: { 'text/plain': 'new' }, metadata: {} }));
    expect(recorder.outputs).toEqual([
      { output_type: 'display_data', data: { 'text/plain': 'new' }, metadata: {} },
    ]);
    recorder.handle(message('clear_output', { wait: false }));
    expect(recorder.outputs).toEqual([]);
  });

  it('updates every output shown with a display id, also in earlier cells, and keeps only known MIME types', () => {
    const recorder = new OutputRecorder();
    recorder.beginCell();
    const transient = { display_id: 'progress' };
    recorder.handle(message('display_data', { data: { 'text/plain': '0%' }, metadata: {}, transient }));
    const first = recorder.outputs;
    recorder.beginCell();
    recorder.handle(
      message('update_display_data', {
        data: { 'text/html': '<b>100%</b>', 'application/javascript': 'alert(1)' },
        metadata: {},
        transient,
      }),
    );
    expect(first).toEqual([
      { output_type: 'display_data', data: { 'text/html': '<b>100%</b>' }, metadata: {} },
    ]);
    expect(recorder.outputs).toEqual([]);
  });
});

describe('describeError', () => {
  it('names a thrown error from what tslab printed to stderr', () => {
    const text =
      'evalmachine.<anonymous>:2\nthrow x;\n^\n\nRangeError: boom\n    at evalmachine.<anonymous>:2:7\n';
    expect(describeError([{ output_type: 'stream', name: 'stderr', text }])).toEqual({
      ename: 'RangeError',
      evalue: 'boom',
    });
  });

  it('names a TypeScript diagnostic', () => {
    const text = "1:5 - Type 'string' is not assignable to type 'number'.\n";
    expect(describeError([{ output_type: 'stream', name: 'stderr', text }])).toEqual({
      ename: 'TypeScript',
      evalue: "Type 'string' is not assignable to type 'number'.",
    });
  });

  it('prefers an error output', () => {
    expect(describeError([{ output_type: 'error', ename: 'E', evalue: 'v', traceback: [] }])).toEqual({
      ename: 'E',
      evalue: 'v',
    });
  });
});

describe('compareNotebooks', () => {
  const recorded = notebook([
    { cell_type: 'markdown', metadata: {}, source: '# t' },
    code('a', [{ output_type: 'stream', name: 'stdout', text: 'took 10 ms\nsame\n' }]),
    code('b', [{ output_type: 'stream', name: 'stdout', text: '1\n' }], ['nbval-ignore-output']),
  ]);

  it('finds no drift when only normalised text differs, and ignores nbval-ignore-output cells', () => {
    const fresh = notebook([
      recorded.cells[0],
      code('a', [{ output_type: 'stream', name: 'stdout', text: 'took 99 ms\nsame\n' }]),
      code('b', [{ output_type: 'stream', name: 'stdout', text: '2\n' }], ['nbval-ignore-output']),
    ]);
    expect(compareNotebooks(recorded, fresh, normalisersFor(['durations']))).toEqual([]);
    expect(compareNotebooks(recorded, fresh, [])).toHaveLength(1);
  });

  it('reports a unified diff for a cell whose output changed', () => {
    const fresh = notebook([
      recorded.cells[0],
      code('a', [
        { output_type: 'stream', name: 'stdout', text: 'took 10 ms\nchanged\n' },
        { output_type: 'display_data', metadata: {}, data: { 'image/svg+xml': '<svg/>' } },
      ]),
      recorded.cells[2],
    ]);
    const [drift, ...rest] = compareNotebooks(recorded, fresh, [], 'nb.ipynb');
    expect(rest).toEqual([]);
    expect(drift.cellNumber).toBe(2);
    expect(drift.diff).toContain('--- nb.ipynb cell 2 (recorded)');
    expect(drift.diff).toContain('+++ nb.ipynb cell 2 (this run)');
    expect(drift.diff).toContain('\n-same\n');
    expect(drift.diff).toContain('\n+changed\n');
    expect(drift.diff).toContain('\n+[display_data image/svg+xml]\n+<svg/>\n');
  });
});
