// The committed notebooks carry the metadata Jupyter writes when it opens them on the recorded kernel (tslab), so
// opening one changes nothing, and a notebook saved after switching to Deno cannot be committed as it is.
// test/integration/tools/jupyter-open-save.test.ts checks the same against Jupyter's own server.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNotebook } from '../../tools/nbformat/index.ts';
import { KERNELS, kernelspecMetadata } from '../../tools/runner/kernels.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const NOTEBOOKS = readdirSync(join(ROOT, 'notebooks')).filter((name) => name.endsWith('.ipynb'));

/** The TypeScript tslab compiles with, which the kernel reports (see tools/env/kernel-preload.cjs). */
function tslabTypeScript(): string {
  const require = createRequire(import.meta.url);
  const tslab = dirname(require.resolve('tslab/package.json'));
  return require(require.resolve('@tslab/typescript-for-tslab/package.json', { paths: [tslab] })).version;
}

describe('committed notebook metadata', () => {
  it.each(NOTEBOOKS)('%s names the tslab kernelspec as registered and the language tslab reports', (name) => {
    const notebook = parseNotebook(readFileSync(join(ROOT, 'notebooks', name), 'utf8'), name);
    expect(notebook.metadata.kernelspec).toEqual(kernelspecMetadata(KERNELS.tslab));
    expect(notebook.metadata.language_info).toEqual({
      codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
      file_extension: '.ts',
      mimetype: 'text/typescript',
      name: 'typescript',
      version: tslabTypeScript(),
    });
  });
});
