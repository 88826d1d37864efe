// The runner records the metadata Jupyter writes when it opens a notebook on the kernel it ran on: the kernelspec as
// registered and language_info as the kernel reports it, whatever the file said before (a notebook saved in Jupyter
// after switching to Deno gets tslab's back when recorded on tslab).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serializeNotebook } from '../../../tools/nbformat/index.ts';
import { runNotebook } from '../../../tools/runner/run.ts';
import { notebookOf } from '../../helpers/notebooks.ts';

const SLOW = 600_000;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runner-kernel-metadata-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it(
  "records tslab's kernelspec and the TypeScript tslab compiles with over a notebook pinned to Deno",
  async () => {
    const path = join(dir, 'pinned-to-deno.ipynb');
    const pinned = notebookOf(['console.log(1 + 1)'], {
      kernelspec: { display_name: 'TypeScript (Deno)', language: 'typescript', name: 'deno' },
      language_info: { name: 'typescript', version: '5.9.2', file_extension: '.ts' },
    });
    await writeFile(path, serializeNotebook(pinned));
    const result = await runNotebook(path, { kernel: 'tslab', startupTimeoutMs: SLOW });
    expect(result.failure).toBeNull();
    const require = createRequire(import.meta.url);
    const tslab = dirname(require.resolve('tslab/package.json'));
    const { version } = require(
      require.resolve('@tslab/typescript-for-tslab/package.json', { paths: [tslab] }),
    );
    expect(result.notebook?.metadata.kernelspec).toEqual({
      display_name: 'TypeScript (tslab)',
      language: 'typescript',
      name: 'tslab',
    });
    expect(result.notebook?.metadata.language_info).toEqual({
      codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
      file_extension: '.ts',
      mimetype: 'text/typescript',
      name: 'typescript',
      version,
    });
  },
  SLOW,
);
