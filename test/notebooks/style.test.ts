// Every notebook as a reader meets it: narrow enough for the post's column, no kernel plumbing, no tooling talk, and
// the metadata the export turns into front matter. The walkthrough proper (01-09, the retelling of the 2008 post) also
// explains its setup once and credits the original up front.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const folder = fileURLToPath(new URL('../../notebooks/', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const COLUMNS = 80;
const ORIGINAL = {
  title: 'Async Batching with Twisted: A Walkthrough',
  author: 'Duncan McGreggor (oubiwann)',
  url: 'https://oubiwann.github.io/blog/archives/2008-06/20-020808/async-batching-with-twisted-a-walkthrough.html',
  date: '2008-06-20',
};

type Text = string | string[];
interface Output {
  output_type: string;
  text?: Text;
  data?: Record<string, Text>;
}
interface Cell {
  cell_type: string;
  source: Text;
  metadata: { tags?: string[] };
  outputs?: Output[];
}
interface Notebook {
  cells: Cell[];
  metadata: {
    async_batching?: Record<string, unknown>;
    language_info?: { version?: string };
  };
}

const join_ = (text: Text | undefined) => (Array.isArray(text) ? text.join('') : (text ?? ''));
const all = readdirSync(folder)
  .filter((name) => /^\d\d-.*\.ipynb$/.test(name))
  .sort()
  .map((name) => ({
    name,
    notebook: JSON.parse(readFileSync(join(folder, name), 'utf8')) as Notebook,
  }));
const notebooks = all.filter(({ name }) => /^0[1-9]-/.test(name));
const files = notebooks.map(({ name }) => name);

/** The lines of code cells and of their text outputs that are wider than the column, as `file cell N: line`. */
function tooWide(name: string, notebook: Notebook): string[] {
  const wide: string[] = [];
  notebook.cells.forEach((cell, index) => {
    if (cell.cell_type !== 'code') return;
    const texts = [join_(cell.source)];
    for (const output of cell.outputs ?? []) {
      if (output.output_type === 'stream') texts.push(join_(output.text));
      // A chart's text/plain is its alt text (one line, shown only where the image is not), not printed output.
      else if (output.data?.['text/plain'] !== undefined && output.data['image/svg+xml'] === undefined)
        texts.push(join_(output.data['text/plain']));
    }
    for (const text of texts) {
      for (const line of text.split('\n')) {
        if ([...line].length > COLUMNS) wide.push(`${name} cell ${index + 1}: ${line}`);
      }
    }
  });
  return wide;
}

describe('the walkthrough notebooks', () => {
  it('are all here, 01 to 09', () => {
    expect(files.map((name) => name.slice(0, 2))).toEqual([
      '01',
      '02',
      '03',
      '04',
      '05',
      '06',
      '07',
      '08',
      '09',
    ]);
  });

  it.each(all)(`keep code and text outputs within ${COLUMNS} columns: $name`, ({ name, notebook }) => {
    expect(tooWide(name, notebook)).toEqual([]);
  });

  it.each(all)(
    'show no kernel plumbing (display goes through async-batching/notebook): $name',
    ({ notebook }) => {
      const sources = notebook.cells.filter((c) => c.cell_type === 'code').map((c) => join_(c.source));
      expect(sources.filter((source) => /from ['"]tslab['"]|require\(['"]tslab['"]\)/.test(source))).toEqual(
        [],
      );
    },
  );

  it.each(all)('carry the front matter the export reads, crediting the original: $name', ({ notebook }) => {
    const own = notebook.metadata.async_batching ?? {};
    expect(own).toMatchObject({
      date: '2026-11-30',
      author: 'The async-batching authors',
      original: ORIGINAL,
    });
    expect(typeof own.title).toBe('string');
    expect(typeof own.description).toBe('string');
    expect(Array.isArray(own.tags)).toBe(true);
  });

  it.each(all)('state the TypeScript version tslab compiles with: $name', ({ notebook }) => {
    const { version } = JSON.parse(
      readFileSync(join(root, 'node_modules/@tslab/typescript-for-tslab/package.json'), 'utf8'),
    ) as { version: string };
    expect(notebook.metadata.language_info?.version).toBe(version);
  });

  it('explain the demo-site setup once, in 01, folded; every other setup cell is removed and points there', () => {
    const [first, ...rest] = notebooks;
    const setup = first.notebook.cells.find((c) => join_(c.source).includes('startDemoSite('));
    expect(setup?.metadata.tags).toEqual(['hide-input']);
    for (const { name, notebook } of rest) {
      const cell = notebook.cells.find((c) => join_(c.source).includes('startDemoSite('));
      expect(cell?.metadata.tags, name).toEqual(['remove-cell']);
      expect(join_(cell?.source).split('\n')[0], name).toMatch(/^\/\/ .*explained in notebook 1/);
    }
  });

  it('open with who wrote the original, when, and a link to it', () => {
    const intro = join_(notebooks[0].notebook.cells[0].source);
    expect(intro).toContain('Duncan McGreggor');
    expect(intro).toContain('oubiwann');
    expect(intro).toContain('June 20, 2008');
    expect(intro).toContain(`(${ORIGINAL.url})`);
  });

  it('never talk about the tooling in the prose', () => {
    const prose = all.flatMap(({ name, notebook }) =>
      notebook.cells
        .filter((c) => c.cell_type === 'markdown' || c.cell_type === 'code')
        .map((c) => [name, join_(c.source)] as const),
    );
    const talk = prose.filter(([, text]) => /notebook checker|nbval|tslab|--check/i.test(text));
    expect(talk.map(([name]) => name)).toEqual([]);
  });
});
