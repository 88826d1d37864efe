/**
 * Whatever a notebook holds, a real site built from its export builds, runs nothing and shows the notebook's text as
 * written. The hostile fixture (unclosed fences before live HTML and kramdown's `{::nomarkdown}`, Liquid tags, Hugo
 * shortcodes in prose, code, titles, descriptions and authors, kramdown attribute lists, math and tables) is exported
 * between two ordinary notebooks, as a series and as one page, for Jekyll and Hugo. The Jekyll blog is the one
 * `jekyll new` makes (minima), built as it comes; the Hugo site is configured as the README says (`unsafe = true`).
 * Every built page is parsed: no script (JSON-LD aside), frame, plugin, handler attribute or script URL anywhere, and
 * the hostile text is on the page, code as written.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getElementsByTagName, textContent } from 'domutils';
import { parseDocument } from 'htmlparser2';
import { Lexer } from 'marked';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activeParts,
  exportTo,
  FIXTURES,
  htmlFiles,
  hugoSite,
  jekyllBlog,
  normalise,
  preTexts,
  requireTools,
  visibleText,
} from '../../helpers/sites.ts';

const HOSTILE = join(FIXTURES, 'hostile.ipynb');
const CORPUS = [join(FIXTURES, '01-deferreds.ipynb'), HOSTILE, join(FIXTURES, '02-charts.ipynb')];

interface HostileNotebook {
  metadata: { title: string; async_batching: { description: string; author: string } };
  cells: {
    cell_type: string;
    source: string[];
    outputs?: { output_type: string; text?: string[] }[];
  }[];
}
const notebook = JSON.parse(await readFile(HOSTILE, 'utf8')) as HostileNotebook;
const TITLE = notebook.metadata.title;
const DESCRIPTION = notebook.metadata.async_batching.description;
const AUTHOR = notebook.metadata.async_batching.author;

/** The code a reader must see exactly: code cells, their stream outputs, and what CommonMark reads as code in Markdown. */
function expectedCode(): string[] {
  const code: string[] = [];
  for (const cell of notebook.cells) {
    const source = cell.source.join('');
    if (cell.cell_type === 'code') {
      code.push(source.replace(/\s+$/, ''));
      for (const output of cell.outputs ?? []) {
        if (output.output_type === 'stream') code.push((output.text ?? []).join('').replace(/\n+$/, ''));
      }
    } else if (cell.cell_type === 'markdown') {
      for (const token of new Lexer({ gfm: true }).lex(source)) {
        if (token.type === 'code') code.push(token.text.replace(/\n+$/, ''));
      }
    }
  }
  return code;
}

/** Prose of the hostile notebook that must reach the page as text (quotes may be typographic). */
const PROSE = [
  'Liquid {{ site.title }} and {% include nothing.html %}, shortcodes {{% ref "nope" %}}, {{< youtube id >}} and ' +
    '{{% gist alice 0123 %}}, and in code "{{< oops" and {{< a %}}: all text.',
  `A paragraph that kramdown would give a handler {: onmouseover="window.__pwned='kramdown ial'"}`,
  'Money $$ x = 1 $$ | a | b | and {::comment}hidden{:/comment} and a term : that kramdown would make a definition',
  '[^1]: a footnote',
  'Unclosed tilde fence {{% ref "nope" %}}',
];

type Engine = 'jekyll' | 'hugo';
type Shape = 'series' | 'single';

/** Where each built page is, per engine and shape. */
const PAGES: Record<Engine, Record<Shape, { post: string; index?: string; neighbour?: string }>> = {
  jekyll: {
    series: {
      post: 'async-batching-walkthrough/hostile/index.html',
      index: 'async-batching-walkthrough/index.html',
      neighbour: 'async-batching-walkthrough/01-deferreds/index.html',
    },
    single: { post: 'async-batching-walkthrough/index.html' },
  },
  hugo: {
    series: {
      post: 'async-batching-walkthrough/hostile/index.html',
      index: 'async-batching-walkthrough/index.html',
      neighbour: 'async-batching-walkthrough/01-deferreds/index.html',
    },
    single: { post: 'posts/async-batching-walkthrough/index.html' },
  },
};

let work: string;
/** Each site's built folder, or the reason its export or build failed (checked by the first test of each site). */
const built = new Map<string, { dir?: string; error?: string }>();

beforeAll(async () => {
  requireTools(['/usr/bin/jekyll', '/usr/bin/hugo']);
  work = await mkdtemp(join(tmpdir(), 'export-hostile-sites-'));
  await Promise.all(
    (['jekyll', 'hugo'] as const).flatMap((engine) =>
      (['series', 'single'] as const).map(async (shape) => {
        const out = join(work, `${engine}-${shape}-export`);
        // A series is the default for Jekyll and Hugo; the one long page is asked for.
        const shapeArgs = shape === 'series' ? [] : ['--single-page'];
        const site = join(work, `${engine}-${shape}`);
        try {
          await exportTo(out, [...CORPUS, '--target', engine, '--format', 'md', ...shapeArgs]);
          const dir = engine === 'jekyll' ? await jekyllBlog(site, out) : await hugoSite(site, out);
          built.set(`${engine}-${shape}`, { dir });
        } catch (error) {
          built.set(`${engine}-${shape}`, { error: (error as Error).message });
        }
      }),
    ),
  );
}, 300_000);

afterAll(async () => {
  if (work && !process.env.KEEP_SITES) await rm(work, { recursive: true, force: true });
});

async function page(engine: Engine, shape: Shape, path: string): Promise<string> {
  const { dir, error } = built.get(`${engine}-${shape}`) ?? {};
  if (dir === undefined) throw new Error(`the ${engine} ${shape} site did not build: ${error}`);
  return readFile(join(dir, path), 'utf8');
}

describe.each(['jekyll', 'hugo'] as const)('a %s site built from the hostile corpus', (engine) => {
  describe.each(['series', 'single'] as const)('as a %s', (shape) => {
    it('builds, and no page of it holds script, frames, handlers or script URLs', async () => {
      const { dir, error } = built.get(`${engine}-${shape}`) ?? {};
      expect(error).toBeUndefined();
      const files = await htmlFiles(dir!);
      expect(files).toContain(PAGES[engine][shape].post);
      const found: string[] = [];
      for (const file of files) {
        for (const part of activeParts(await readFile(join(dir!, file), 'utf8')))
          found.push(`${file}: ${part}`);
      }
      if (engine === 'jekyll') {
        // jekyll-feed puts each post's HTML in the feed, which feed readers render.
        const feed = parseDocument(await readFile(join(dir!, 'feed.xml'), 'utf8'), { xmlMode: true });
        const entries = getElementsByTagName(
          (name) => ['content', 'summary', 'title'].includes(name),
          feed,
          true,
        );
        expect(entries.length).toBeGreaterThan(0);
        for (const entry of entries) {
          for (const part of activeParts(textContent(entry))) found.push(`feed.xml ${entry.name}: ${part}`);
        }
      }
      expect(found).toEqual([]);
    });

    it('shows every code block exactly as written, unclosed fences closed where the cell ends', async () => {
      const pres = await page(engine, shape, PAGES[engine][shape].post).then(preTexts);
      const missing = expectedCode().filter((code) => !pres.includes(code));
      expect(missing).toEqual([]);
    });

    it('shows Liquid, shortcodes and kramdown syntax in prose, titles and front matter as text', async () => {
      const post = await page(engine, shape, PAGES[engine][shape].post);
      const text = visibleText(post);
      for (const prose of PROSE) expect(text).toContain(normalise(prose));
      const { index, neighbour } = PAGES[engine][shape];
      if (shape === 'series') {
        // The series index lists the post by its title and description; its neighbour links to it by title.
        const indexText = visibleText(await page(engine, shape, index!));
        expect(indexText).toContain(normalise(TITLE));
        expect(indexText).toContain(normalise(DESCRIPTION));
        const links = getElementsByTagName(
          'a',
          parseDocument(await page(engine, shape, neighbour!)),
          true,
        ).map((link) => normalise(textContent(link)));
        expect(links).toContain(normalise(TITLE));
        // The post's own heading and author line are the notebook's title and author, character for character.
        const h1 = getElementsByTagName('h1', parseDocument(post), true).map((h) => textContent(h).trim());
        expect(h1).toEqual([TITLE]);
        expect(text).toContain(normalise(AUTHOR));
      }
    });
  });
});
