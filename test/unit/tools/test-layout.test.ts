/**
 * The test folders mirror the code: every test file sits where one of vitest's three projects (unit, integration,
 * notebooks) finds it, under an area named after a layer of lib/src or a part of the repository. A file anywhere
 * else would be run by no npm script.
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const TEST = resolve(import.meta.dirname, '../..');
const UNIT_AREAS = ['core', 'blocks', 'compositions', 'io', 'notebook', 'tools', 'bench'];
const INTEGRATION_AREAS = [...UNIT_AREAS, 'package'];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : testFiles(path);
    return /\.test\.[cm]?[jt]s$/.test(entry.name) ? [relative(TEST, path)] : [];
  });
}

/** Where a test file belongs, or a sentence saying why it is misplaced. */
function placeOf(path: string): string {
  const [top, area, ...rest] = path.split('/');
  if (top === 'notebooks') return 'notebooks';
  if (top === 'unit' && rest.length > 0 && UNIT_AREAS.includes(area)) return 'unit';
  if (top === 'integration' && rest.length > 0 && INTEGRATION_AREAS.includes(area)) return 'integration';
  return `${path} is in no project: put it in unit/<${UNIT_AREAS.join('|')}>/, integration/<area>/ or notebooks/`;
}

describe('the test layout', () => {
  it('places a file by its folder and names the folders a misplaced one may go to', () => {
    expect(placeOf('unit/core/deferred.test.ts')).toBe('unit');
    expect(placeOf('integration/io/chaos/sockets.test.ts')).toBe('integration');
    expect(placeOf('notebooks/style.test.ts')).toBe('notebooks');
    expect(placeOf('semaphore.test.ts')).toMatch(
      /^semaphore\.test\.ts is in no project: put it in unit\/<core\|/,
    );
    expect(placeOf('unit/semaphore.test.ts')).toMatch(/is in no project/);
    expect(placeOf('unit/errors/codes.test.ts')).toMatch(/is in no project/);
  });

  it('has every test file in unit/<area>/, integration/<area>/ or notebooks/', () => {
    const files = testFiles(TEST);
    expect(files.length).toBeGreaterThan(40);
    expect(
      files.map(placeOf).filter((place) => !['unit', 'integration', 'notebooks'].includes(place)),
    ).toEqual([]);
  });
});
