import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/export');
const NOTEBOOKS = ['01-deferreds.ipynb', '02-charts.ipynb'].map((name) => join(FIXTURES, name));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Result> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, 'tools/export.ts'), ...args],
      { cwd: ROOT },
      (error, stdout, stderr) => {
        done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'export-cli-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('npm run export', () => {
  it('writes one post in both formats and prints the paths it wrote', async () => {
    const out = join(work, 'combined', 'blog');
    const result = await cli([...NOTEBOOKS, '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const printed = result.stdout.trim().split('\n');
    expect(printed).toEqual([
      `wrote ${join(out, 'async-batching-walkthrough.md')}`,
      `wrote ${join(out, 'assets/async-batching-walkthrough-1.svg')}`,
      `wrote ${join(out, 'assets/async-batching-walkthrough-2.png')}`,
      `wrote ${join(out, 'assets/async-batching-walkthrough-3.png')}`,
      `wrote ${join(out, 'assets/async-batching-walkthrough-4.svg')}`,
      `wrote ${join(out, 'async-batching-walkthrough.html')}`,
    ]);
    expect((await readdir(out)).sort()).toEqual([
      '.async-batching-export',
      'assets',
      'async-batching-walkthrough.html',
      'async-batching-walkthrough.md',
    ]);
    // The staging folder beside the output is gone.
    expect(await readdir(join(work, 'combined'))).toEqual(['blog']);
    const md = await readFile(join(out, 'async-batching-walkthrough.md'), 'utf8');
    expect(md).toMatch(
      /^---\ntitle: 'Async batching in TypeScript: a walkthrough'\ndate: '\d{4}-\d\d-\d\d'\n/,
    );
  });

  it('writes one post per notebook with --per-notebook, Markdown only with --format md', async () => {
    const out = join(work, 'per-notebook');
    const result = await cli([...NOTEBOOKS, '--per-notebook', '--format', 'md', '--out', out]);
    expect(result.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual([
      '.async-batching-export',
      '01-deferreds.md',
      '02-charts.md',
      'assets',
      'index.md',
    ]);
    expect((await readdir(join(out, 'assets'))).sort()).toEqual([
      '02-charts-1.svg',
      '02-charts-2.png',
      '02-charts-3.png',
      '02-charts-4.svg',
    ]);
  });

  it('replaces the whole output folder, so images the post no longer has are gone', async () => {
    const out = join(work, 'rerun');
    await mkdir(join(out, 'assets'), { recursive: true });
    await writeFile(join(out, 'assets', '02-charts-9.svg'), '<svg/>');
    await writeFile(join(out, 'assets', 'other-post-1.svg'), '<svg/>');
    await writeFile(join(out, '02-charts.md'), 'old');
    const result = await cli([NOTEBOOKS[1], '--per-notebook', '--format', 'md', '--out', out]);
    expect(result.code).toBe(0);
    expect((await readdir(join(out, 'assets'))).sort()).toEqual([
      '02-charts-1.svg',
      '02-charts-2.png',
      '02-charts-3.png',
      '02-charts-4.svg',
    ]);
    expect(await readFile(join(out, '02-charts.md'), 'utf8')).not.toBe('old');
  });

  it('fails on a notebook that is not JSON, naming it, and writes nothing', async () => {
    const out = join(work, 'never');
    const result = await cli([NOTEBOOKS[0], join(FIXTURES, 'bad/truncated.ipynb'), '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^export: test\/fixtures\/export\/bad\/truncated\.ipynb: not valid JSON \(.+\)\n$/,
    );
    expect(result.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
    expect(await readdir(work)).not.toContainEqual(expect.stringMatching(/staging/));
  });

  it('fails on a notebook that is not nbformat 4 and leaves an earlier export untouched', async () => {
    const out = join(work, 'kept');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'async-batching-walkthrough.md'), 'previous export');
    for (const [bad, reason] of [
      ['no-cells.ipynb', 'missing "cells" list'],
      ['nbformat3.ipynb', 'expected nbformat 4, got number 3'],
      ['bad-output.ipynb', 'cells[1].outputs[0].text should be a string or a list of strings'],
    ]) {
      const result = await cli([...NOTEBOOKS, join(FIXTURES, 'bad', bad), '--out', out]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`export: test/fixtures/export/bad/${bad}: ${reason}`);
    }
    expect(await readdir(out)).toEqual(['async-batching-walkthrough.md']);
    expect(await readFile(join(out, 'async-batching-walkthrough.md'), 'utf8')).toBe('previous export');
  });

  it('refuses to replace a folder that holds files no export wrote', async () => {
    const out = join(work, 'site');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, '_config.yml'), 'title: my site\n');
    const result = await cli([NOTEBOOKS[0], '--target', 'jekyll', '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('holds files the exporter did not write (_config.yml');
    expect(await readdir(out)).toEqual(['_config.yml']);
  });

  it('lays posts out for Jekyll and Hugo with --target', async () => {
    const jekyll = join(work, 'jekyll');
    const hugo = join(work, 'hugo');
    expect((await cli([...NOTEBOOKS, '--per-notebook', '--target', 'jekyll', '--out', jekyll])).code).toBe(0);
    expect((await cli([...NOTEBOOKS, '--per-notebook', '--target', 'hugo', '--out', hugo])).code).toBe(0);
    expect((await readdir(join(jekyll, '_posts'))).sort()).toEqual([
      '2025-03-14-01-deferreds.md',
      expect.stringMatching(/^\d{4}-\d\d-\d\d-02-charts\.md$/),
    ]);
    expect((await readdir(join(jekyll, 'standalone'))).sort()).toEqual([
      '01-deferreds.html',
      '02-charts.html',
      'index.html',
    ]);
    expect((await readdir(join(hugo, 'content/async-batching-walkthrough'))).sort()).toEqual([
      '01-deferreds',
      '02-charts',
      '_index.md',
    ]);
    expect((await readdir(join(hugo, 'content/async-batching-walkthrough/02-charts'))).sort()).toEqual([
      '02-charts-1.svg',
      '02-charts-2.png',
      '02-charts-3.png',
      '02-charts-4.svg',
      'index.md',
    ]);
  });

  it('fails on a missing file, naming it', async () => {
    const out = join(work, 'missing');
    const result = await cli([join(FIXTURES, 'no-such-notebook.ipynb'), '--out', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('export: test/fixtures/export/no-such-notebook.ipynb: file not found\n');
    expect(existsSync(out)).toBe(false);
  });

  it('explains itself with --help and rejects an unknown format', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: export [options] [notebooks...]');
    expect(help.stdout).toMatch(
      /--format <format>[\s\S]*--target <engine>[\s\S]*--out <dir>[\s\S]*--per-notebook[\s\S]*--trust-markdown/,
    );
    const bad = await cli(['--format', 'pdf']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("argument 'pdf' is invalid");
  });
});
