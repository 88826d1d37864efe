// The import rules (.dependency-cruiser.cjs): lib/src's layers import only downwards, tools/'s folders only what
// their concern allows, and nothing imports in a circle; in tools/ only the command-line files read process.argv or
// end the process (a Biome plugin). The rules run on the real tree, and on copies of it with one deliberate
// violation, to show that they fail and name it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');
const config = join(root, '.dependency-cruiser.cjs');

const biome = join(root, 'node_modules/@biomejs/biome/bin/biome');

function cruise(cwd: string, folder = 'lib/src'): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [depcruise, folder, '--config', config, '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A copy of `folder` (lib/src or tools) in a fresh folder, with `edit` applied to it. */
function patchedCopy(edit: (src: string) => void, folder = 'lib/src'): string {
  const dir = mkdtempSync(join(tmpdir(), 'layers-'));
  copies.push(dir);
  cpSync(join(root, folder), join(dir, folder), { recursive: true });
  edit(join(dir, folder));
  return dir;
}

function append(file: string, text: string): void {
  writeFileSync(file, `${readFileSync(file, 'utf8')}\n${text}\n`);
}

describe('the import rules of lib/src', () => {
  it('hold for the tree as it is', () => {
    const { status, output } = cruise(root);
    expect(output).toContain('no dependency violations found');
    expect(status).toBe(0);
  });

  it('fail on an import from a lower layer into a higher one, naming both files', () => {
    const dir = patchedCopy((src) =>
      append(join(src, 'core/failure.ts'), "export { DeferredQueue } from '../blocks/queue.js';"),
    );
    const { status, output } = cruise(dir);
    expect(status).not.toBe(0);
    expect(output).toContain('no-upward-from-core: lib/src/core/failure.ts → lib/src/blocks/queue.ts');
  });

  it('fail on a type-only import that points upwards', () => {
    const dir = patchedCopy((src) =>
      append(
        join(src, 'blocks/fifo.ts'),
        "import type { ParallelOptions } from '../compositions/parallel/options.js';\nexport type O = ParallelOptions;",
      ),
    );
    const { status, output } = cruise(dir);
    expect(status).not.toBe(0);
    expect(output).toContain(
      'no-upward-from-blocks: lib/src/blocks/fifo.ts → lib/src/compositions/parallel/options.ts',
    );
  });

  it('fail on a cycle inside one layer, printing the whole circle', () => {
    const dir = patchedCopy((src) =>
      append(join(src, 'compositions/parallel/lanes.ts'), "export type { Pool } from './pool.js';"),
    );
    const { status, output } = cruise(dir);
    expect(status).not.toBe(0);
    expect(output).toMatch(
      /no-circular: lib\/src\/compositions\/parallel\/lanes\.ts → \n\s+lib\/src\/compositions\/parallel\/pool\.ts →\n\s+lib\/src\/compositions\/parallel\/lanes\.ts/,
    );
  });

  it('fail on a module outside the layer folders', () => {
    const dir = patchedCopy((src) =>
      writeFileSync(join(src, 'stray.ts'), "export { Deferred } from './core/deferred.js';\n"),
    );
    const { status, output } = cruise(dir);
    expect(status).not.toBe(0);
    expect(output).toContain('every-module-in-a-layer: lib/src/stray.ts → lib/src/core/deferred.ts');
  });
});

describe('the import rules of tools/', () => {
  it('hold for the tree as it is', () => {
    const { status, output } = cruise(root, 'tools');
    expect(output).toContain('no dependency violations found');
    expect(status).toBe(0);
  });

  it('fail when the notebook model imports anything else of tools/', () => {
    const dir = patchedCopy(
      (tools) => append(join(tools, 'nbformat/text.ts'), "export { Progress } from '../runner/progress.ts';"),
      'tools',
    );
    const { status, output } = cruise(dir, 'tools');
    expect(status).not.toBe(0);
    expect(output).toContain('tools-nbformat-imports: tools/nbformat/text.ts → tools/runner/progress.ts');
  });

  it('fail when env/ imports the runner, even for a type', () => {
    const dir = patchedCopy(
      (tools) =>
        append(
          join(tools, 'env/deno.ts'),
          "import type { KernelKind } from '../runner/kernels.ts';\nexport type K = KernelKind;",
        ),
      'tools',
    );
    const { status, output } = cruise(dir, 'tools');
    expect(status).not.toBe(0);
    expect(output).toContain('tools-env-imports: tools/env/deno.ts → tools/runner/kernels.ts');
  });

  it('fail when the exporter and the runner use each other, or a folder imports a command-line file', () => {
    const dir = patchedCopy((tools) => {
      append(join(tools, 'export/text.ts'), "export { normalise } from '../runner/normalise.ts';");
      append(join(tools, 'runner/report.ts'), "export type { ExportOptions } from '../export/index.ts';");
      append(join(tools, 'runner/select.ts'), "import '../run-notebooks.ts';");
    }, 'tools');
    const { status, output } = cruise(dir, 'tools');
    expect(status).not.toBe(0);
    expect(output).toContain('tools-export-imports: tools/export/text.ts → tools/runner/normalise.ts');
    expect(output).toContain('tools-runner-imports: tools/runner/report.ts → tools/export/index.ts');
    expect(output).toContain('tools-runner-imports: tools/runner/select.ts → tools/run-notebooks.ts');
  });

  it('fail on a cycle inside a folder, printing the whole circle', () => {
    const dir = patchedCopy(
      (tools) => append(join(tools, 'runner/select.ts'), "export type { RunOutcome } from './batch.ts';"),
      'tools',
    );
    const { status, output } = cruise(dir, 'tools');
    expect(status).not.toBe(0);
    expect(output).toMatch(
      /no-circular: tools\/runner\/batch\.ts → \n\s+tools\/runner\/select\.ts →\n\s+tools\/runner\/batch\.ts/,
    );
  });

  it('fail on a module in a folder of no known concern', () => {
    const dir = patchedCopy((tools) => {
      mkdirSync(join(tools, 'misc'));
      writeFileSync(join(tools, 'misc/stray.ts'), "export { joinText } from '../nbformat/text.ts';\n");
    }, 'tools');
    const { status, output } = cruise(dir, 'tools');
    expect(status).not.toBe(0);
    expect(output).toContain('tools-every-module-in-a-folder: tools/misc/stray.ts → tools/nbformat/text.ts');
  });
});

describe('only the command-line files of tools/ own the process', () => {
  /** Biome's lint of `tools` in a copy of the tree (tools/, biome.json and its plugin), with `edit` applied. */
  function lint(edit: (tools: string) => void): { status: number | null; output: string } {
    const dir = patchedCopy(edit, 'tools');
    cpSync(join(root, 'biome.json'), join(dir, 'biome.json'));
    cpSync(join(root, '.biome'), join(dir, '.biome'), { recursive: true });
    const r = spawnSync(process.execPath, [biome, 'lint', '--max-diagnostics=50', 'tools'], {
      cwd: dir,
      encoding: 'utf8',
    });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  }

  it('holds for the tree as it is', () => {
    const { status, output } = lint(() => {});
    expect(output).not.toContain('Only a CLI');
    expect(status).toBe(0);
  });

  it('fails on a module that reads process.argv, calls process.exit or sets process.exitCode, naming the line', () => {
    const { status, output } = lint((tools) => {
      append(join(tools, 'runner/report.ts'), 'export const firstArgument = () => process.argv[2];');
      append(join(tools, 'export/write.ts'), 'export const quit = () => process.exit(2);');
      append(join(tools, 'env/deno.ts'), 'export const fail = () => {\n  process.exitCode = 1;\n};');
      // A command-line file may do all three.
      append(join(tools, 'export.ts'), 'if (process.argv.length > 9) process.exit(3);');
    });
    expect(status).not.toBe(0);
    const flagged = [...output.matchAll(/^(tools\/\S+?):\d+:\d+ plugin/gm)].map((m) => m[1]).sort();
    expect(flagged).toEqual(['tools/env/deno.ts', 'tools/export/write.ts', 'tools/runner/report.ts']);
    expect(output).toContain('Only a CLI (a file directly in tools/) reads process.argv or ends the process');
  });
});
