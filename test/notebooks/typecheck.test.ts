// The notebook type check: one program per notebook, errors named by notebook and cell.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { notebookProgram } from '../../tools/runner/typecheck.ts';

const run = promisify(execFile);

describe('notebookProgram', () => {
  it('joins the code cells into one module and remembers where every line came from', () => {
    const { text, origins } = notebookProgram([
      { index: 1, source: 'const a = 1;' },
      { index: 3, source: 'const b = a + 1;\nb;' },
    ]);
    const lines = text.split('\n');
    expect(lines).toContain('const b = a + 1;');
    expect(lines.at(-2)).toBe('export {};');
    expect(origins[lines.indexOf('const b = a + 1;')]).toEqual({ cell: 3, line: 1 });
    expect(origins[lines.indexOf('b;')]).toEqual({ cell: 3, line: 2 });
    expect(origins[lines.indexOf('// cell 3')]).toBeNull();
  });
});

describe('npm run typecheck: the notebooks', () => {
  it('names the notebook, the cell and the line of a type error, and exits 1', async () => {
    const failed = await run(process.execPath, [
      'tools/typecheck-notebooks.ts',
      'test/fixtures/notebooks/type-error.ipynb',
    ]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(
      /test\/fixtures\/notebooks\/type-error\.ipynb: cell 3, line 2, column \d+: TS2322: Type 'string' is not assignable to type 'number'/,
    );
  });

  it('passes the recorded notebooks', async () => {
    const { stdout } = await run(process.execPath, ['tools/typecheck-notebooks.ts']);
    expect(stdout).toMatch(/no type errors/);
  });
});
