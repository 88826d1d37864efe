// The runner's command line without a kernel: parse (argv → options, errors naming the option and the value),
// select (notebooks × kernels), report (status lines, the summary and the exit code). Running one notebook needs a
// kernel: test/integration/tools/runner-cli.test.ts.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunOutcome } from '../../../tools/runner/batch.ts';
import { parseRunnerArgs } from '../../../tools/runner/options.ts';
import { exitCode, statusLine, summary } from '../../../tools/runner/report.ts';
import type { RunResult } from '../../../tools/runner/run.ts';
import { type PlannedRun, planRuns, SelectionError, selectNotebooks } from '../../../tools/runner/select.ts';

/** Runs `parseRunnerArgs` with what commander writes captured. */
function parse(...argv: string[]) {
  let written = '';
  const capture = (chunk: string | Uint8Array) => {
    written += String(chunk);
    return true;
  };
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  try {
    return { parsed: parseRunnerArgs(argv), written };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('parse: the runner’s arguments', () => {
  it('gives the documented defaults and keeps the paths in order', () => {
    const { parsed } = parse('b.ipynb', 'a.ipynb');
    expect(parsed).toEqual({
      options: expect.objectContaining({
        paths: ['b.ipynb', 'a.ipynb'],
        kernels: ['tslab'],
        check: false,
        allowErrors: false,
        timeout: 60,
        notebookTimeout: 600,
        startupTimeout: 120,
      }),
    });
    expect('options' in parsed && parsed.options.jobs).toBeGreaterThan(0);
  });

  it('reads every option', () => {
    const { parsed } = parse(
      '--check',
      '--kernel',
      'deno, tslab,deno',
      '--timeout',
      '1.5',
      '--notebook-timeout',
      '30',
      '--startup-timeout',
      '9',
      '--jobs',
      '3',
      '--allow-errors',
      '--out',
      'dist/x',
    );
    expect(parsed).toEqual({
      options: {
        paths: [],
        kernels: ['deno', 'tslab'],
        check: true,
        allowErrors: true,
        out: 'dist/x',
        timeout: 1.5,
        notebookTimeout: 30,
        startupTimeout: 9,
        jobs: 3,
      },
    });
  });

  it.each([
    [
      ['--timeout', 'abc'],
      /option '--timeout <seconds>' argument 'abc' is invalid\. --timeout must be a positive number/,
    ],
    [
      ['--jobs', '1.5'],
      /option '--jobs <n>' argument '1\.5' is invalid\. --jobs must be a positive whole number/,
    ],
    [['--startup-timeout', '0'], /argument '0' is invalid\. --startup-timeout must be a positive number/],
    [
      ['--kernel', 'jslab'],
      /argument 'jslab' is invalid\. Unknown kernel "jslab"; expected one of tslab, deno/,
    ],
    [['--frobnicate'], /unknown option '--frobnicate'/],
  ])('refuses %j with exit code 1, naming the option and the value', (argv, message) => {
    const { parsed, written } = parse(...argv);
    expect(parsed).toEqual({ exitCode: 1 });
    expect(written).toMatch(message);
  });

  it('refuses options that do not go together, saying why', () => {
    expect(parse('--kernel', 'tslab,deno')).toEqual({
      parsed: { exitCode: 1 },
      written: expect.stringContaining('--kernel with more than one kernel needs --check'),
    });
    expect(parse('--kernel', 'deno')).toEqual({
      parsed: { exitCode: 1 },
      written: expect.stringContaining("the recorded outputs are tslab's; run deno with --check"),
    });
    expect(parse('--kernel', 'deno', '--out', 'dist/deno')).toMatchObject({
      parsed: { options: { kernels: ['deno'], out: 'dist/deno' } },
    });
  });

  it('prints the help and exits 0 on --help', () => {
    const { parsed, written } = parse('--help');
    expect(parsed).toEqual({ exitCode: 0 });
    expect(written).toMatch(/^Usage: npm run notebooks -- \[options\] \[paths\.\.\.\]/);
  });
});

describe('select: which notebooks, on which kernels', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runner-select-'));
    await mkdir(join(dir, 'nb'));
    await mkdir(join(dir, 'other'));
    await mkdir(join(dir, 'empty'));
    for (const file of ['nb/b.ipynb', 'nb/a.ipynb', 'nb/notes.md', 'other/a.ipynb']) {
      await writeFile(join(dir, file), '{}');
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('takes the default folder’s notebooks by name when none is given, and none from a missing folder', async () => {
    expect(await selectNotebooks([], join(dir, 'nb'))).toEqual([
      join(dir, 'nb/a.ipynb'),
      join(dir, 'nb/b.ipynb'),
    ]);
    expect(await selectNotebooks([], join(dir, 'missing'))).toEqual([]);
  });

  it('expands folders and keeps files as given', async () => {
    expect(await selectNotebooks([join(dir, 'other/a.ipynb'), join(dir, 'nb')], dir)).toEqual([
      join(dir, 'other/a.ipynb'),
      join(dir, 'nb/a.ipynb'),
      join(dir, 'nb/b.ipynb'),
    ]);
  });

  it('names a path that does not exist, and says when the given folders hold no notebook', async () => {
    await expect(selectNotebooks([join(dir, 'nope.ipynb')], dir)).rejects.toThrow(
      new SelectionError(`no such notebook or folder: ${join(dir, 'nope.ipynb')}`),
    );
    await expect(selectNotebooks([join(dir, 'empty')], dir)).rejects.toThrow(
      'no .ipynb files in the given folders',
    );
  });

  it('plans one run per notebook and kernel, naming the kernel unless it is tslab alone', () => {
    const paths = [join(dir, 'nb/a.ipynb'), join(dir, 'nb/b.ipynb')];
    expect(planRuns(paths, ['tslab'], dir).map((run) => [run.label, run.shown])).toEqual([
      ['a', 'nb/a.ipynb'],
      ['b', 'nb/b.ipynb'],
    ]);
    expect(planRuns(paths.slice(0, 1), ['tslab', 'deno'], dir).map((run) => [run.kernel, run.label])).toEqual(
      [
        ['tslab', 'a [tslab]'],
        ['deno', 'a [deno]'],
      ],
    );
    expect(planRuns(paths.slice(0, 1), ['deno'], dir)[0].shown).toBe('nb/a.ipynb [deno]');
  });

  it('labels two notebooks of one name by their paths', () => {
    const runs = planRuns([join(dir, 'nb/a.ipynb'), join(dir, 'other/a.ipynb')], ['tslab'], dir);
    expect(runs.map((run) => run.label)).toEqual(['nb/a.ipynb', 'other/a.ipynb']);
  });
});

describe('report: status lines, summary and exit code', () => {
  const run: PlannedRun = { path: '/x/n.ipynb', kernel: 'tslab', label: 'n', shown: 'notebooks/n.ipynb' };
  const result = (more: Partial<RunResult> = {}): RunResult => ({
    path: run.path,
    kernel: 'tslab',
    original: null,
    originalText: null,
    notebook: null,
    normalisers: [],
    failure: null,
    allowedErrors: [],
    failedCellOutputs: [],
    durationMs: 3_210,
    ...more,
  });
  const written: RunOutcome = { run, result: result(), kind: 'written', target: run.path };
  const failedRun: RunOutcome = {
    run,
    kind: 'failed',
    result: result({
      failure: {
        cellNumber: 4,
        kind: 'error',
        ename: 'TypeError',
        evalue: `${'x'.repeat(400)}\nsecond line`,
      },
      failedCellOutputs: [{ output_type: 'stream', name: 'stdout', text: 'printed before\n' }],
    }),
  };
  const drift: RunOutcome = {
    run,
    result: result(),
    kind: 'drift',
    drifts: [
      { cellNumber: 2, diff: '--- a\n+++ b\n' },
      { cellNumber: 7, diff: '--- c\n+++ d\n' },
    ],
  };

  it('says what became of each run, with its time', () => {
    expect(statusLine(written)).toBe('ok  3.2s');
    const twoAllowed = result({
      allowedErrors: [1, 2].map((n) => ({ cellNumber: n, kind: 'error' as const, ename: 'E', evalue: '' })),
    });
    expect(statusLine({ ...written, result: twoAllowed })).toBe('ok  3.2s  (2 expected errors)');
    expect(statusLine({ run, result: result(), kind: 'matches' })).toBe('ok (matches)  3.2s');
    expect(statusLine(drift)).toBe('DRIFT in cell 2, 7  3.2s');
    expect(statusLine({ run, result: result(), kind: 'not-recorded' })).toBe(
      'NOT RECORDED: run `npm run notebooks -- notebooks/n.ipynb` first  3.2s',
    );
    expect(statusLine(failedRun)).toBe(
      `FAILED cell 4: TypeError: ${'x'.repeat(300)} ... (100 more characters) (+1 lines)`,
    );
  });

  it('reports a failure with what the cell printed, and a drift with its diffs, then counts', () => {
    const text = summary([written, failedRun, drift], 2, { check: false, kernels: ['tslab'] }, '/x');
    expect(text).toContain('notebooks/n.ipynb: cell 4: TypeError: ');
    expect(text).toContain('  | printed before\n(the notebook was not written)\n');
    expect(text).toContain(
      'notebooks/n.ipynb: recorded outputs differ from this run\n--- a\n+++ b\n\n--- c\n+++ d\n',
    );
    expect(text.endsWith('\nran 2 notebooks: 1 ok, 2 failed\n')).toBe(true);
    expect(summary([written], 1, { check: true, kernels: ['tslab', 'deno'] }, '/x')).toBe(
      '\nchecked 1 notebook on tslab and deno: 1 ok, 0 failed\n',
    );
  });

  it('exits 0 only when every run ran (and matched)', () => {
    expect(exitCode([written, { run, result: result(), kind: 'matches' }])).toBe(0);
    expect(exitCode([written, drift])).toBe(1);
    expect(
      exitCode([{ run, result: result(), kind: 'changed-on-disk', beside: '/x/n.executed.ipynb' }]),
    ).toBe(1);
    expect(exitCode([])).toBe(0);
  });
});
