// The package as a user installs it: the entry points it names exist, and its published types show the public API only.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const lib = fileURLToPath(new URL('../lib/', import.meta.url));
const pkg = JSON.parse(readFileSync(join(lib, 'package.json'), 'utf8')) as {
  main: string;
  types: string;
  exports: Record<string, string | { types: string; default: string }>;
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
});
