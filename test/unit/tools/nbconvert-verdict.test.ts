// How `npm run notebooks:nbconvert` judges one nbconvert run from the reports its nbclient hook writes to stderr
// (tools/runner/nbconvert.ts). The real Jupyter runs: test/integration/tools/deno-kernel.test.ts.
import { describe, expect, it } from 'vitest';
import { verdict } from '../../../tools/runner/nbconvert.ts';

const report = (cell: number, status: string, expected = false, stderr = '') =>
  `ASYNC_BATCHING_CELL_ERROR ${JSON.stringify({ cell, status, expected, stderr })}`;

describe('nbconvert verdict', () => {
  it('passes a run whose cells all replied ok, or failed where tagged raises-exception', () => {
    const stderr = [report(1, 'ok'), report(2, 'error', true, 'Error: meant'), report(3, 'ok')].join('\n');
    expect(verdict(0, stderr, 2.345)).toEqual({ ok: true, message: 'ok  2.3s' });
  });

  it('names the first cell that failed unexpectedly, with its error line', () => {
    const stderr = [
      'some log',
      report(2, 'error', true, 'Error: meant'),
      report(5, 'error', false, 'at stack\nTypeError: x is not a function\n    at <anonymous>'),
      report(6, 'error', false, 'RangeError: later'),
    ].join('\n');
    expect(verdict(1, stderr, 1)).toEqual({ ok: false, message: 'cell 5: TypeError: x is not a function' });
  });

  it('fails a cell the kernel refused to run (an abort is no success)', () => {
    expect(verdict(0, report(4, 'aborted'), 1)).toEqual({
      ok: false,
      message: 'cell 4: the kernel answered aborted',
    });
  });

  it('fails when nbconvert itself fails, with its last lines', () => {
    const stderr = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n');
    const { ok, message } = verdict(2, stderr, 1);
    expect(ok).toBe(false);
    expect(message).toBe(
      `jupyter nbconvert exited with 2:\n${Array.from({ length: 15 }, (_, i) => `line ${i + 6}`).join('\n')}`,
    );
  });
});
