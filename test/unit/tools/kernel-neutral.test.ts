// Comparing a run on Deno's kernel with outputs recorded on tslab: only the kernels' known differences are ignored.
import { describe, expect, it } from 'vitest';
import type { Notebook, Output } from '../../../tools/nbformat/index.ts';
import { compareNotebooks } from '../../../tools/runner/check.ts';
import { kernelNeutral, neutralText } from '../../../tools/runner/kernel-neutral.ts';

const stdout = (text: string): Output => ({ output_type: 'stream', name: 'stdout', text });
const result = (data: Record<string, string>): Output => ({
  output_type: 'execute_result',
  data,
  metadata: {},
  execution_count: 1,
});

function notebookWith(outputs: Output[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: 'code', source: 'x', metadata: {}, outputs, execution_count: 1 }],
  } as Notebook;
}

describe('the kernel-neutral view', () => {
  it("reads Deno's coloured execute_result as the line tslab prints", () => {
    const tslab = [stdout('total\n'), stdout('[ false, 10 ]\n')];
    const deno = [
      stdout('total\n'),
      result({ 'text/plain': '[ \x1b[33mfalse\x1b[39m, \x1b[33m10\x1b[39m ]' }),
    ];
    expect(kernelNeutral(deno)).toEqual(kernelNeutral(tslab));
    expect(kernelNeutral(deno)).toEqual([stdout('total\n[ false, 10 ]\n')]);
  });

  it('prints a lone string result without its quotes, as tslab does', () => {
    const deno = [result({ 'text/plain': '\x1b[32m"handled: 404 Not Found"\x1b[39m' })];
    expect(kernelNeutral(deno)).toEqual([stdout('handled: 404 Not Found\n')]);
    const escaped = [result({ 'text/plain': '"say \\"hi\\""' })];
    expect(kernelNeutral(escaped)).toEqual(kernelNeutral([stdout('say "hi"\n')]));
  });

  it("quotes strings inside values the way Node's inspector does", () => {
    expect(neutralText('{ title: "Twisted", n: 3 }')).toBe("{ title: 'Twisted', n: 3 }");
    // Node keeps double quotes around a string that holds a single quote.
    expect(neutralText(`[ "it's" ]`)).toBe(`[ "it's" ]`);
  });

  it('compares console.table output cell by cell, whatever the borders and alignment', () => {
    const node = [
      '┌─────────┬───────────┬───────┐',
      '│ (index) │ title     │ links │',
      '├─────────┼───────────┼───────┤',
      "│ 0       │ 'Twisted' │ 3     │",
      '└─────────┴───────────┴───────┘',
    ].join('\n');
    const deno = [
      '┌───────┬───────────┬───────┐',
      '│ (idx) │ title     │ links │',
      '├───────┼───────────┼───────┤',
      '│     0 │ "Twisted" │     3 │',
      '└───────┴───────────┴───────┘',
    ].join('\n');
    expect(neutralText(deno)).toBe(neutralText(node));
    expect(neutralText(node)).toBe("| (index) | title | links |\n| 0 | 'Twisted' | 3 |");
  });

  it('keeps rich outputs and every other difference in text', () => {
    const svg = result({ 'image/svg+xml': '<svg/>', 'text/plain': 'chart' });
    expect(kernelNeutral([svg])).toEqual([svg]);
    expect(neutralText('12 items')).not.toBe(neutralText('13 items'));
  });
});

describe('compareNotebooks across kernels', () => {
  const recorded = notebookWith([stdout('[ 1, 2 ]\n')]);

  it('finds no drift where only the kernels differ', () => {
    const fresh = notebookWith([result({ 'text/plain': '[ \x1b[33m1\x1b[39m, \x1b[33m2\x1b[39m ]' })]);
    expect(compareNotebooks(recorded, fresh, [], 'nb', { acrossKernels: true })).toEqual([]);
    // Without the option the same outputs differ: recorded files are compared as they are.
    expect(compareNotebooks(recorded, fresh, [], 'nb')).toHaveLength(1);
  });

  it('still reports a value that changed', () => {
    const fresh = notebookWith([result({ 'text/plain': '[ \x1b[33m1\x1b[39m, \x1b[33m3\x1b[39m ]' })]);
    const [drift] = compareNotebooks(recorded, fresh, [], 'nb', { acrossKernels: true });
    expect(drift.cellNumber).toBe(1);
    expect(drift.diff).toContain('+[ 1, 3 ]');
  });
});
