// lib/src's import rules (.dependency-cruiser.cjs): layers import only downwards and nothing imports in a circle. The
// rules run on the real tree, and on copies of it with one deliberate violation, to show that they fail and name it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');
const config = join(root, '.dependency-cruiser.cjs');

function cruise(cwd: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [depcruise, 'lib/src', '--config', config, '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A copy of lib/src in a fresh folder, with `edit` applied to it. */
function patchedCopy(edit: (src: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'layers-'));
  copies.push(dir);
  cpSync(join(root, 'lib/src'), join(dir, 'lib/src'), { recursive: true });
  edit(join(dir, 'lib/src'));
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
