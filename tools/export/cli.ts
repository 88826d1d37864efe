/**
 * The exporter's command line (`tools/export.ts` runs it): reads recorded notebooks and writes them as a blog post:
 * Markdown with front matter (and its images), laid out for plain CommonMark, Jekyll or Hugo, and a self-contained
 * HTML page. All I/O lives here; the conversion itself is `exportNotebooks` (`index.ts`). The output folder is
 * replaced whole, all or nothing (`replaceFolder`), so a bad notebook or a failed write leaves the previous export
 * untouched.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Command, CommanderError, Option } from 'commander';
import type { Format, NotebookInput, Target } from './index.ts';
import { createHighlight, exportNotebooks, NotebookFormatError, parseNotebook } from './index.ts';
import { OutputFolderError, replaceFolder } from './write.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DEFAULT_NOTEBOOKS = join(ROOT, 'notebooks');
const DEFAULT_OUT = join(ROOT, 'dist', 'blog');
const run = promisify(execFile);

/** A problem the user can fix (bad file, bad option); printed without a stack trace. */
class ExportError extends Error {
  override name = 'ExportError';
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

async function defaultNotebooks(): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(DEFAULT_NOTEBOOKS);
  } catch (error) {
    throw new ExportError(`${shown(DEFAULT_NOTEBOOKS)}: cannot list notebooks (${(error as Error).message})`);
  }
  const notebooks = names.filter((name) => name.endsWith('.ipynb')).sort((a, b) => a.localeCompare(b, 'en'));
  if (notebooks.length === 0) {
    throw new ExportError(
      `${shown(DEFAULT_NOTEBOOKS)}: no .ipynb files to export (or name notebooks as arguments)`,
    );
  }
  return notebooks.map((name) => join(DEFAULT_NOTEBOOKS, name));
}

/**
 * When the notebook last changed: its last commit if git tracks it unmodified (stable across checkouts), otherwise the
 * file's modification time.
 */
async function lastChange(path: string, mtime: Date): Promise<Date> {
  const cwd = dirname(path);
  try {
    const status = await run('git', ['status', '--porcelain', '--', basename(path)], { cwd });
    if (status.stdout.trim() !== '') return mtime;
    const log = await run('git', ['log', '-1', '--format=%ct', '--', basename(path)], { cwd });
    const seconds = Number.parseInt(log.stdout.trim(), 10);
    return Number.isFinite(seconds) ? new Date(seconds * 1000) : mtime;
  } catch {
    return mtime;
  }
}

async function readNotebook(path: string): Promise<NotebookInput> {
  const file = shown(path);
  let text: string;
  let mtime: Date;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ExportError(`${file}: not a file`);
    mtime = info.mtime;
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof ExportError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new ExportError(
      code === 'ENOENT' ? `${file}: file not found` : `${file}: ${(error as Error).message}`,
    );
  }
  const notebook = parseNotebook(text, file);
  return { file, notebook, modified: await lastChange(path, mtime) };
}

interface CliOptions {
  format: 'md' | 'html' | 'both';
  target: Target;
  out: string;
  baseUrl?: string;
  perNotebook?: boolean;
  singlePage?: boolean;
  trustMarkdown?: boolean;
}

/** The repository the project names (lib/package.json `repository`), as a web URL; undefined when it names none. */
async function projectRepository(): Promise<string | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(ROOT, 'lib', 'package.json'), 'utf8'));
    const field = manifest.repository;
    const url = typeof field === 'string' ? field : field?.url;
    if (typeof url !== 'string') return undefined;
    const web = url.replace(/^git\+/, '').replace(/\.git$/, '');
    return /^https?:\/\//.test(web) ? web : undefined;
  } catch {
    return undefined;
  }
}

function program(): Command {
  return new Command('export')
    .description(
      'Export recorded notebooks as a blog post: Markdown with YAML front matter (images in an assets folder) and a ' +
        'self-contained HTML page (inline CSS and images, highlighted code, no script, no network requests).',
    )
    .argument('[notebooks...]', 'notebook files, in post order (default: notebooks/*.ipynb in name order)')
    .addOption(
      new Option('--format <format>', 'what to write').choices(['md', 'html', 'both']).default('both'),
    )
    .addOption(
      new Option(
        '--target <engine>',
        'lay the Markdown out for a blog engine: plain (<slug>.md, assets/), jekyll (_posts/DATE-<slug>.md, assets/, ' +
          'standalone/<slug>.html) or hugo (content/<section>/<slug>/index.md page bundles, static/standalone/)',
      )
        .choices(['plain', 'jekyll', 'hugo'])
        .default('plain'),
    )
    .option(
      '--out <dir>',
      'output folder, replaced whole (all or nothing); for jekyll and hugo it mirrors the site root, to copy in',
      shown(DEFAULT_OUT),
    )
    .option('--base-url <url>', "jekyll: the site's baseurl (or full URL) for image and post links", '/')
    .option(
      '--per-notebook',
      'one post per notebook (slug from its file name), linked as a series with an index page, instead of one post ' +
        '(the default for jekyll and hugo)',
    )
    .option('--single-page', 'one long post for all notebooks (the default for plain)')
    .option(
      '--trust-markdown',
      "keep raw HTML in the notebooks' own Markdown cells as written in the .md (default: sanitised like outputs)",
    )
    .addHelpText(
      'after',
      '\nCell tags: remove-cell, remove-input, remove-output drop content; hide-input, hide-output, hide-cell fold it\n' +
        'into a <details> in HTML (Markdown keeps it visible).',
    )
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
}

/** Runs the exporter with command-line arguments (without `node` and the script); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const cli = program();
  try {
    cli.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  const options = cli.opts<CliOptions>();
  const formats: Format[] = options.format === 'both' ? ['md', 'html'] : [options.format];
  if (options.perNotebook && options.singlePage) {
    process.stderr.write('export: --per-notebook and --single-page exclude each other; give one\n');
    return 1;
  }
  try {
    const paths = cli.args.length > 0 ? cli.args.map((arg) => resolve(arg)) : await defaultNotebooks();
    // Every notebook is read and converted before anything is written.
    const inputs = await Promise.all(paths.map(readNotebook));
    const highlight = formats.includes('html') ? await createHighlight() : undefined;
    const files = exportNotebooks(inputs, {
      formats,
      perNotebook: options.singlePage ? false : options.perNotebook ? true : undefined,
      repository: await projectRepository(),
      highlight,
      target: options.target,
      baseUrl: options.baseUrl,
      trustMarkdown: options.trustMarkdown,
    });
    const outDir = resolve(options.out);
    await replaceFolder(outDir, files);
    for (const file of files) process.stdout.write(`wrote ${shown(join(outDir, file.path))}\n`);
    return 0;
  } catch (error) {
    const systemError =
      typeof (error as NodeJS.ErrnoException).code === 'string' && 'syscall' in (error as object);
    if (
      error instanceof ExportError ||
      error instanceof OutputFolderError ||
      error instanceof NotebookFormatError ||
      error instanceof RangeError ||
      systemError
    ) {
      process.stderr.write(`export: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}
