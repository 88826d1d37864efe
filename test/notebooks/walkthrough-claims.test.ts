// What the walkthrough's prose (notebooks 01-11) says about its own results is what the recorded outputs show. Each
// claim is a piece of a Markdown cell and the recorded output that bears it out: rewording the claim, or a
// re-recording that changes the figure, fails here until both agree again.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { joinText, type Notebook, parseNotebook } from '../../tools/nbformat/index.ts';

const folder = fileURLToPath(new URL('../../notebooks/', import.meta.url));
const files = readdirSync(folder)
  .filter((file) => /^\d\d-.*\.ipynb$/.test(file))
  .sort();

function read(prefix: string): Notebook {
  const file = files.find((f) => f.startsWith(prefix));
  if (file === undefined) throw new Error(`no notebook ${prefix}`);
  return parseNotebook(readFileSync(join(folder, file), 'utf8'), file);
}

/** The notebook's Markdown, with line breaks as spaces. */
function prose(prefix: string): string {
  return read(prefix)
    .cells.filter((c) => c.cell_type === 'markdown')
    .map((c) => joinText(c.source).replace(/\s+/g, ' '))
    .join('\n');
}

/** What the code cells printed or returned as text: all of them, or the one whose source contains `needle`. */
function outputs(prefix: string, needle?: string): string {
  return read(prefix)
    .cells.flatMap((c) =>
      c.cell_type === 'code' && (needle === undefined || joinText(c.source).includes(needle))
        ? c.outputs
        : [],
    )
    .map((o) => {
      if (o.output_type === 'stream') return joinText(o.text);
      if (o.output_type === 'error') return '';
      const text = o.data['text/plain'];
      return text === undefined ? '' : joinText(text);
    })
    .join('\n');
}

const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/** [notebook, what its prose says, the notebook that shows it, what its recorded output shows]. */
const CLAIMS: [string, RegExp, string, RegExp][] = [
  ['01', /Four requests reached the site/, '01', /requests: 4\n/],
  [
    '06',
    /two pairs hold a Failure/,
    '06',
    /true 8060 characters\nfalse 404 Not Found\ntrue 4550 characters\nfalse DNS/,
  ],
  ['03', /after 100, 400, then 700 ms/, '03', /arrived: Deferred.*\narrived: Callbacks.*\narrived: Twisted/],
  ['06', /The list's own flags are all `true` now/, '06', /the list's flags: true, true, true, true/],
  ['06', /`ok` column is a field of those records/, '06', /│ 1 +│ '\/no\/such\/page' +│ false/],
  ['07', /never more than two are started/, '07', /the server saw at most 2 at a time/],
  ['07', /all ten Deferreds existed from the first instant/, '07', /just after the loop +2 +10 +8/],
  [
    '08',
    /all ten jobs had been made and five of them were waiting for a token/,
    '07',
    /when the 5th started +5 +10 +5\n/,
  ],
  [
    '08',
    /here only five jobs had been made, and none waited: the other five URLs/,
    '08',
    /when the 5th started +5 +5\n/,
  ],
  ['08', /The first row says 0 started here/, '08', /just after coiterate +0 +10\n/],
  ['08', /three items were never run/, '08', /for\.\.\.of, generator: A0, A2\n/],
  [
    '08',
    /only the failed item is missing/,
    '08',
    /for\.\.\.of, array: +A0, A2, A3, A4, A5\nnext\(\), generator: +A0, A2, A3, A4, A5/,
  ],
  ['08', /Eleven requests reached the server/, '08', /11 requests reached the server/],
  ['09', /the server never saw more than fifty/, '09', /at most 50 in flight\nover at most 50 sockets/],
  ['10', /The first five are answered/, '10', /answered: 5, refused: 7/],
  [
    '10',
    /Five start at once; three more when the first second is over.*the last four when the first five leave it/,
    '10',
    /0, 0, 0, 0, 0, 1000, 1000, 1000, 5000, 5000, 5000, 5000/,
  ],
  ['11', /Forty items, forty requests/, '11', /40 items in 40 requests/],
  [
    '11',
    /the batches leave full, fifty ids each, two at a time/,
    '11',
    /500 items in 10 bulk calls, at most 2 in flight/,
  ],
  ['11', /it sends all ten at once/, '11', /DataLoader: 500 items in 10 bulk calls, at most 10 in flight/],
];

describe("the walkthrough's prose agrees with its recorded outputs", () => {
  it.each(CLAIMS)('%s: %s (shown in %s)', (prefix, claim, shownIn, output) => {
    expect(prose(prefix)).toMatch(claim);
    expect(outputs(shownIn)).toMatch(output);
  });

  it('01 counts the notebooks that go past the original: those after the eighth', () => {
    const beyond = files.filter((f) => Number(f.slice(0, 2)) > 8).length;
    const word = WORDS[beyond];
    expect(prose('01')).toContain(
      `${word[0].toUpperCase()}${word.slice(1)} more notebooks go past the original`,
    );
  });

  it('10 points at the notebook that started four requests at once: 06', () => {
    expect(prose('10')).toMatch(/the way notebook 6 started its four/);
    expect(outputs('06', 'targets.length').trim()).toBe('4');
  });
});
