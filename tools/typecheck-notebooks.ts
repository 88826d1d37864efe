// `npm run typecheck` (last step): type-checks every notebook's code cells with the project's own TypeScript, one
// program per notebook, so a type error names the notebook and the cell. tslab type-checks cells with its own
// TypeScript 5.0 as it runs them; Deno's kernel does not type-check at all, so without this a cell with a type error
// would pass on Deno and fail on tslab.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { type CodeCell, joinText, parseNotebook } from './nbformat/index.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where a line of the generated program came from. */
interface Origin {
  cell: number;
  line: number;
}

/** One notebook's code cells as one TypeScript module, with the origin of every line. */
export function notebookProgram(cells: readonly { index: number; source: string }[]): {
  text: string;
  origins: (Origin | null)[];
} {
  const lines: string[] = [];
  const origins: (Origin | null)[] = [];
  for (const { index, source } of cells) {
    lines.push(`// cell ${index}`);
    origins.push(null);
    source.split('\n').forEach((line, i) => {
      lines.push(line);
      origins.push({ cell: index, line: i + 1 });
    });
  }
  // A module, so that top-level `await` and the cells' imports are allowed.
  lines.push('export {};');
  origins.push(null);
  return { text: `${lines.join('\n')}\n`, origins };
}

/** `file(line,col): error TSnnnn: message` as tsc prints it without --pretty. */
const DIAGNOSTIC = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/;

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('typecheck-notebooks')
    .description("Type-check each notebook's code cells as one program with the project's TypeScript")
    .argument('[notebooks...]', 'notebooks to check (default: notebooks/*.ipynb)')
    .parse(argv);
  let files = program.args;
  if (files.length === 0) {
    files = (await readdir(join(ROOT, 'notebooks')))
      .filter((f) => f.endsWith('.ipynb'))
      .sort()
      .map((f) => join('notebooks', f));
  }
  // Inside the project, so that `async-batching` and the other packages resolve as they do for the notebooks.
  const work = await mkdtemp(join(ROOT, '.notebook-typecheck-'));
  try {
    const origins = new Map<string, { notebook: string; origins: (Origin | null)[] }>();
    for (const file of files) {
      const notebook = parseNotebook(await readFile(join(ROOT, file), 'utf8'), file);
      const cells = notebook.cells
        .map((cell, index) => ({ cell, index }))
        .filter((c): c is { cell: CodeCell; index: number } => c.cell.cell_type === 'code')
        .map(({ cell, index }) => ({ index, source: joinText(cell.source) }));
      const generated = notebookProgram(cells);
      const name = `${basename(file, '.ipynb')}.ts`;
      await writeFile(join(work, name), generated.text);
      origins.set(name, { notebook: file, origins: generated.origins });
    }
    await writeFile(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        extends: '../tsconfig.json',
        // Cells are read as a reader runs them, not linted: an unused variable is no error here.
        compilerOptions: {
          noUnusedLocals: false,
          noUnusedParameters: false,
          allowImportingTsExtensions: false,
        },
        include: ['*.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(
      process.execPath,
      [tsc, '-p', join(work, 'tsconfig.json'), '--pretty', 'false'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    if (result.error) throw result.error;
    const errors: string[] = [];
    for (const line of `${result.stdout}${result.stderr}`.split('\n')) {
      const m = DIAGNOSTIC.exec(line.trim());
      if (m === null) {
        if (line.trim() !== '') errors.push(line.trim());
        continue;
      }
      const [, path, row, col, code, message] = m;
      const source = origins.get(basename(path));
      const origin = source?.origins[Number(row) - 1];
      if (source === undefined || origin == null) {
        errors.push(`${relative(ROOT, join(ROOT, path))}(${row},${col}): ${code}: ${message}`);
      } else {
        errors.push(
          `${source.notebook}: cell ${origin.cell}, line ${origin.line}, column ${col}: ${code}: ${message}`,
        );
      }
    }
    if (result.status !== 0 || errors.length > 0) {
      for (const e of errors) console.error(e);
      console.error(`typecheck-notebooks: ${errors.length} error(s) in ${files.length} notebook(s)`);
      return 1;
    }
    console.log(`typecheck-notebooks: ${files.length} notebooks, no type errors`);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv);
}
