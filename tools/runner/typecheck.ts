/**
 * Type-checks every notebook's code cells with the project's own TypeScript, one program per notebook, so that a
 * type error names the notebook and the cell (`npm run typecheck`, last step, through `tools/typecheck-notebooks.ts`).
 * tslab type-checks cells with its own TypeScript 5.0 as it runs them; Deno's kernel does not type-check at all, so
 * without this a cell with a type error would pass on Deno and fail on tslab.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { Command, CommanderError } from 'commander';
import { type CodeCell, joinText, parseNotebook } from '../nbformat/index.ts';
import { notebooksIn } from './select.ts';

/** Where a line of the generated program came from. */
interface Origin {
  cell: number;
  line: number;
}

/** One generated program: the notebook it came from and where each of its lines did. */
interface Program {
  notebook: string;
  origins: (Origin | null)[];
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

/** Parses the arguments (without `node` and the script): the notebooks, relative to the project (none: all). */
export function parseTypecheckArgs(argv: readonly string[]): { notebooks: string[] } | { exitCode: number } {
  const cli = new Command()
    .name('typecheck-notebooks')
    .description("Type-check each notebook's code cells as one program with the project's TypeScript")
    .argument('[notebooks...]', 'notebooks to check (default: notebooks/*.ipynb)')
    .exitOverride();
  try {
    cli.parse([...argv], { from: 'user' });
    return { notebooks: [...cli.args] };
  } catch (error) {
    if (error instanceof CommanderError) return { exitCode: error.exitCode };
    throw error;
  }
}

/** Writes each notebook's program into `work`, with a tsconfig that extends the project's; returns the origins. */
async function writePrograms(
  root: string,
  files: readonly string[],
  work: string,
): Promise<Map<string, Program>> {
  const programs = new Map<string, Program>();
  for (const file of files) {
    const notebook = parseNotebook(await readFile(join(root, file), 'utf8'), file);
    const cells = notebook.cells
      .map((cell, index) => ({ cell, index }))
      .filter((c): c is { cell: CodeCell; index: number } => c.cell.cell_type === 'code')
      .map(({ cell, index }) => ({ index, source: joinText(cell.source) }));
    const generated = notebookProgram(cells);
    const name = `${basename(file, '.ipynb')}.ts`;
    await writeFile(join(work, name), generated.text);
    programs.set(name, { notebook: file, origins: generated.origins });
  }
  const tsconfig = {
    extends: '../tsconfig.json',
    // Cells are read as a reader runs them, not linted: an unused variable is no error here.
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false, allowImportingTsExtensions: false },
    include: ['*.ts'],
  };
  await writeFile(join(work, 'tsconfig.json'), JSON.stringify(tsconfig));
  return programs;
}

/** tsc's diagnostics, each pointed back at its notebook, cell and line. */
export function mapDiagnostics(
  root: string,
  output: string,
  programs: ReadonlyMap<string, Program>,
): string[] {
  const errors: string[] = [];
  for (const line of output.split('\n')) {
    const m = DIAGNOSTIC.exec(line.trim());
    if (m === null) {
      if (line.trim() !== '') errors.push(line.trim());
      continue;
    }
    const [, path, row, col, code, message] = m;
    const source = programs.get(basename(path));
    const origin = source?.origins[Number(row) - 1];
    errors.push(
      source === undefined || origin == null
        ? `${relative(root, join(root, path))}(${row},${col}): ${code}: ${message}`
        : `${source.notebook}: cell ${origin.cell}, line ${origin.line}, column ${col}: ${code}: ${message}`,
    );
  }
  return errors;
}

/**
 * Type-checks `notebooks` (paths relative to `root`; none: every notebook in `root/notebooks`).
 * @returns the number of notebooks checked and the errors, each naming the notebook, cell, line and column.
 */
export async function typecheckNotebooks(
  root: string,
  notebooks: readonly string[],
): Promise<{ checked: number; errors: string[] }> {
  const files =
    notebooks.length > 0
      ? [...notebooks]
      : (await notebooksIn(join(root, 'notebooks'))).map((path) => relative(root, path));
  // Inside the project, so that `async-batching` and the other packages resolve as they do for the notebooks.
  const work = await mkdtemp(join(root, '.notebook-typecheck-'));
  try {
    const programs = await writePrograms(root, files, work);
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(
      process.execPath,
      [tsc, '-p', join(work, 'tsconfig.json'), '--pretty', 'false'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    if (result.error) throw result.error;
    const errors = mapDiagnostics(root, `${result.stdout}${result.stderr}`, programs);
    if (result.status !== 0 && errors.length === 0) errors.push(`tsc exited with ${result.status}`);
    return { checked: files.length, errors };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
