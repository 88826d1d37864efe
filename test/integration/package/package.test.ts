// The package as a user installs it: the entry points it names exist, and its published types show the public API only.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const lib = fileURLToPath(new URL('../../../lib/', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const pkg = JSON.parse(readFileSync(join(lib, 'package.json'), 'utf8')) as {
  main: string;
  types: string;
  exports: Record<string, string | { types: string; default: string }>;
  typesVersions: Record<string, Record<string, string[]>>;
};

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('the async-batching package', () => {
  it('points main, types and every export at files the build wrote', () => {
    const targets = [pkg.main, pkg.types];
    for (const entry of Object.values(pkg.exports)) {
      if (typeof entry === 'string') targets.push(entry);
      else targets.push(entry.types, entry.default);
    }
    for (const target of targets) expect(existsSync(join(lib, target)), target).toBe(true);
  });

  it('maps every subpath export in typesVersions too, for Node10 resolution (tslab compiles that way)', () => {
    const subpaths = Object.entries(pkg.exports).filter(
      (entry): entry is [string, { types: string; default: string }] =>
        entry[0] !== '.' && typeof entry[1] !== 'string',
    );
    expect(subpaths.map(([name]) => name)).toContain('./notebook');
    for (const [name, entry] of subpaths) {
      expect(pkg.typesVersions['*'][name.slice(2)], name).toEqual([entry.types]);
    }
  });

  it('publishes no internal member in its type declarations', () => {
    const files = declarationFiles(join(lib, 'dist'));
    expect(files.length).toBeGreaterThan(5);
    const leaks: string[] = [];
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        // A member whose name starts with an underscore, or anything still tagged @internal.
        if (/^\s+(?:(?:readonly|static|protected)\s+)*_\w*[?(:<]/.test(line) || line.includes('@internal')) {
          leaks.push(`${file}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    expect(leaks).toEqual([]);
  });

  it('packs only the build, the sources, the README, the licence and package.json', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: lib,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [report] = JSON.parse(out) as { files: { path: string }[] }[];
    const paths = report.files.map((f) => f.path);
    const stray = paths.filter(
      (p) => !/^(dist|src)\//.test(p) && !['LICENSE', 'README.md', 'package.json'].includes(p),
    );
    expect(stray).toEqual([]);
    expect(paths).toContain('LICENSE');
    expect(paths.filter((p) => /\.(test|spec)\.|(^|\/)(test|tests|__tests__|fixtures)\//.test(p))).toEqual(
      [],
    );
  });

  it('passes publint', () => {
    // publint exits 1 on an error; warnings and suggestions are printed and fail the test too.
    const out = execFileSync(bin('publint'), ['run', lib, '--strict'], { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(/All good!/);
  });

  it('resolves every subpath export with its types under node16 ESM and bundlers (are the types wrong)', () => {
    // esm-only: the package is ESM only, so CommonJS require() of it is out of scope by design.
    const out = execFileSync(bin('attw'), ['--pack', lib, '--profile', 'esm-only', '--format', 'json'], {
      cwd: root,
      encoding: 'utf8',
    });
    // attw exits non-zero on a problem its profile does not ignore; the JSON also lists the ignored ones.
    const report = JSON.parse(out) as { analysis: { problems: { kind: string; resolutionKind?: string }[] } };
    const ignored = new Set(['node10', 'node16-cjs']);
    const problems = report.analysis.problems.filter((p) => !ignored.has(p.resolutionKind ?? ''));
    expect(problems).toEqual([]);
    expect(Object.keys(pkg.exports).length).toBeGreaterThan(1);
    // attw packs and type-checks every entry point: 19 s on a loaded 2-core machine, past the default 30 s when busier.
  }, 120_000);
});
