/**
 * Proves the Jekyll and Hugo targets by building real sites with Debian's `jekyll` and `hugo`, serving them on
 * 127.0.0.1 and reading the built posts in Debian's Chromium: one H1, every image loaded, every code block and output
 * there, no console error, and for the hostile notebook (with a 1 MB SVG added) nothing executed and nothing fetched.
 * axe-core checks the post body (and the HTML page) in light and dark mode. Screenshots at desktop and phone widths,
 * light and dark, go to test-results/site/ for a person to look at. KEEP_SITES=1 keeps the built sites (their temporary
 * folder) for inspection.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Lexer } from 'marked';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provokeHandlers } from '../../helpers/browser.ts';
import { serveStatic } from '../../helpers/sites.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/export');
const RESULTS = join(ROOT, 'test-results/site');
const SERIES = [join(FIXTURES, '01-deferreds.ipynb'), join(FIXTURES, '02-charts.ipynb')];
const run = promisify(execFile);
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// The smallest sites that show a post as themes do: the title as the one H1, the post body in an <article>.
const SITE_CSS = `:root { color-scheme: light dark; --bg: #fff; --fg: #1f2328; --link: #0b5cad; }
@media (prefers-color-scheme: dark) { :root { --bg: #0f1419; --fg: #e6edf3; --link: #6cb6ff; } }
body { background: var(--bg); color: var(--fg); font: 17px/1.6 system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem; }
a { color: var(--link); }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: transparent; color: inherit; }
pre span { color: inherit !important; background: transparent !important; }
img { max-width: 100%; height: auto; }
.nb-output { border-left: 4px solid #888; padding-left: 0.8rem; }`;

const JEKYLL_LAYOUT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ page.title | escape }}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/site.css"></head>
<body><header><p>Test blog</p></header><main><article>
<h1>{{ page.title | escape }}</h1>
{{ content }}
</article></main></body></html>
`;

const HUGO_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/site.css"></head>
<body><header><p>Test blog</p></header><main><article>
<h1>{{ .Title }}</h1>
{{ .Content }}
</article></main></body></html>
`;

async function exportTo(out: string, args: string[]): Promise<void> {
  await run(process.execPath, [join(ROOT, 'tools/export.ts'), ...args, '--out', out], { cwd: ROOT });
}

/** The hostile fixture with a 1 MB SVG output added (made here, not stored). */
async function hostileWithBigSvg(dir: string): Promise<string> {
  const notebook = JSON.parse(await readFile(join(FIXTURES, 'hostile.ipynb'), 'utf8'));
  const bars =
    '<rect width="1" height="1" onmouseover="window.__pwned=1" fill="u\\72l(http://127.0.0.1:9/x)"/>';
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="10"><title>big</title><style>@im\\port 'http://127.0.0.1:9/big.css';</style>`;
  while (svg.length < 1024 * 1024) svg += bars;
  svg += '</svg>';
  const code = notebook.cells.find((cell: { cell_type: string }) => cell.cell_type === 'code');
  code.outputs.push({ output_type: 'display_data', metadata: {}, data: { 'image/svg+xml': svg } });
  const file = join(dir, 'hostile.ipynb');
  await writeFile(file, JSON.stringify(notebook));
  return file;
}

async function jekyllSite(work: string, hostile: string): Promise<string> {
  const site = join(work, 'jekyll');
  await mkdir(join(site, '_layouts'), { recursive: true });
  await writeFile(
    join(site, '_config.yml'),
    'title: Test blog\nmarkdown: kramdown\nkramdown:\n  input: GFM\n' +
      'defaults:\n  - scope: {path: ""}\n    values: {layout: default}\n',
  );
  for (const layout of ['default', 'post', 'page'])
    await writeFile(join(site, `_layouts/${layout}.html`), JEKYLL_LAYOUT);
  await writeFile(join(site, 'site.css'), SITE_CSS);
  const out = join(work, 'jekyll-export');
  await exportTo(out, [...SERIES, '--per-notebook', '--target', 'jekyll', '--format', 'md']);
  await cp(out, site, { recursive: true });
  await exportTo(join(work, 'jekyll-hostile'), [
    hostile,
    '--per-notebook',
    '--target',
    'jekyll',
    '--format',
    'md',
  ]);
  // The hostile post joins the same site under its own name; the series index stays the fixtures' one.
  await cp(join(work, 'jekyll-hostile/_posts'), join(site, '_posts'), { recursive: true });
  await cp(join(work, 'jekyll-hostile/assets'), join(site, 'assets'), { recursive: true });
  // A control: the same notebook exported with --trust-markdown, whose Markdown cells keep their script.
  const trusted = join(work, 'trusted-hostile.ipynb');
  await cp(hostile, trusted);
  const trustedOut = join(work, 'jekyll-trusted');
  await exportTo(trustedOut, [
    trusted,
    '--per-notebook',
    '--target',
    'jekyll',
    '--format',
    'md',
    '--trust-markdown',
  ]);
  await cp(join(trustedOut, '_posts'), join(site, '_posts'), { recursive: true });
  await run('jekyll', ['build', '--quiet', '--source', site, '--destination', join(site, '_site')], {
    cwd: site,
    maxBuffer: 1 << 24,
  });
  return join(site, '_site');
}

async function hugoSite(work: string, hostile: string): Promise<string> {
  const site = join(work, 'hugo');
  await mkdir(join(site, 'layouts/_default'), { recursive: true });
  await mkdir(join(site, 'static'), { recursive: true });
  await writeFile(
    join(site, 'config.toml'),
    'baseURL = "http://127.0.0.1/"\ntitle = "Test blog"\ndisableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT"]\n' +
      // Sanitised HTML outputs (tables) are raw HTML in the Markdown; Hugo drops raw HTML unless told otherwise.
      '[markup.goldmark.renderer]\nunsafe = true\n',
  );
  await writeFile(join(site, 'layouts/_default/single.html'), HUGO_PAGE);
  await writeFile(join(site, 'layouts/_default/list.html'), HUGO_PAGE);
  await writeFile(join(site, 'layouts/index.html'), HUGO_PAGE);
  await writeFile(join(site, 'static/site.css'), SITE_CSS);
  const out = join(work, 'hugo-export');
  await exportTo(out, [...SERIES, '--per-notebook', '--target', 'hugo', '--format', 'md']);
  await cp(out, site, { recursive: true });
  await exportTo(join(work, 'hugo-hostile'), [
    hostile,
    '--target',
    'hugo',
    '--format',
    'md',
    '--single-page',
  ]);
  await cp(join(work, 'hugo-hostile/content'), join(site, 'content'), { recursive: true });
  await run('hugo', ['--quiet', '--source', site, '--destination', join(site, 'public')], {
    cwd: site,
    maxBuffer: 1 << 24,
  });
  return join(site, 'public');
}

let browser: Browser;
let work: string;
const servers: Server[] = [];
const sites: Record<'jekyll' | 'hugo', { url: string; dir: string }> = {} as never;
let htmlPage: string;

interface Visit {
  page: Page;
  requests: string[];
  consoleErrors: string[];
  context: BrowserContext;
}

async function visit(url: string, options: { width: number; dark?: boolean; axe?: boolean }): Promise<Visit> {
  const context = await browser.newContext({
    viewport: { width: options.width, height: options.width < 600 ? 844 : 900 },
    colorScheme: options.dark ? 'dark' : 'light',
    // Only the axe runs inject a script; the checks that nothing runs use a context that allows none.
    bypassCSP: options.axe === true,
  });
  const page = await context.newPage();
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  // Chromium's console message for a failed load does not say which URL; this does.
  page.on('response', (response) => {
    if (response.status() >= 400) consoleErrors.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, consoleErrors, context };
}

async function axeViolations(page: Page, include: string): Promise<string[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const result = await page.evaluate(async (selector) => {
    const axe = (window as unknown as { axe: { run(context: unknown): Promise<{ violations: unknown[] }> } })
      .axe;
    return axe.run({ include: [selector] });
  }, include);
  return (result.violations as { id: string; nodes: { target: string[] }[] }[]).map(
    (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
  );
}

/** Code blocks and sanitised outputs the Markdown file holds, counted by a Markdown parser. */
async function expectedBlocks(markdown: string): Promise<{ code: number; html: number }> {
  const body = markdown.slice(markdown.indexOf('\n---\n') + 5);
  const tokens = new Lexer({ gfm: true }).lex(body);
  return {
    code: tokens.filter((token) => token.type === 'code').length,
    html: tokens.filter((token) => token.type === 'html' && token.raw.startsWith('<div class="nb-')).length,
  };
}

beforeAll(async () => {
  for (const tool of [CHROMIUM, '/usr/bin/jekyll', '/usr/bin/hugo']) {
    if (!existsSync(tool)) {
      throw new Error(
        `${tool} not found. The site-build test needs Debian's chromium, jekyll and hugo packages ` +
          '(.ci/run installs them). It is not skipped, so a missing tool cannot pass as green.',
      );
    }
  }
  work = await mkdtemp(join(tmpdir(), 'export-sites-'));
  await mkdir(RESULTS, { recursive: true });
  const hostile = await hostileWithBigSvg(work);
  const [jekyll, hugo] = await Promise.all([jekyllSite(work, hostile), hugoSite(work, hostile)]);
  await exportTo(join(work, 'html'), [...SERIES, '--format', 'html']);
  htmlPage = join(work, 'html');
  for (const [name, dir] of [
    ['jekyll', jekyll],
    ['hugo', hugo],
    ['html', htmlPage],
  ] as const) {
    const { url, server } = await serveStatic(dir, { charset: true });
    servers.push(server);
    if (name === 'html') htmlPage = `${url}/async-batching-walkthrough.html`;
    else sites[name] = { url, dir };
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  for (const server of servers) server.close();
  if (work && !process.env.KEEP_SITES) await rm(work, { recursive: true, force: true });
});

const POSTS = {
  jekyll: {
    series: ['/async-batching-walkthrough/01-deferreds/', '/async-batching-walkthrough/02-charts/'],
    hostile: '/async-batching-walkthrough/hostile/',
    index: '/async-batching-walkthrough/',
    markdown: (work: string) => join(work, 'jekyll-export/_posts'),
  },
  hugo: {
    series: ['/async-batching-walkthrough/01-deferreds/', '/async-batching-walkthrough/02-charts/'],
    hostile: '/posts/async-batching-walkthrough/',
    index: '/async-batching-walkthrough/',
    markdown: (work: string) => join(work, 'hugo-export/content/async-batching-walkthrough'),
  },
} as const;

async function markdownOf(engine: 'jekyll' | 'hugo', slug: string): Promise<string> {
  if (engine === 'hugo') return readFile(join(POSTS.hugo.markdown(work), slug, 'index.md'), 'utf8');
  const { readdir } = await import('node:fs/promises');
  const dir = POSTS.jekyll.markdown(work);
  const name = (await readdir(dir)).find((file) => file.endsWith(`-${slug}.md`));
  return readFile(join(dir, name ?? `missing-${slug}`), 'utf8');
}

describe.each(['jekyll', 'hugo'] as const)('a %s site built from the export', (engine) => {
  it('shows each post with one H1, every image loaded, every code block and output, and no console error', async () => {
    const { url } = sites[engine];
    for (const path of POSTS[engine].series) {
      const { page, consoleErrors, requests, context } = await visit(`${url}${path}`, { width: 1280 });
      try {
        expect(await page.locator('h1').count()).toBe(1);
        const images = await page
          .locator('article img')
          .evaluateAll((all) =>
            all.map((img) => [(img as HTMLImageElement).src, (img as HTMLImageElement).naturalWidth]),
          );
        for (const [src, width] of images)
          expect({ src, loaded: (width as number) > 0 }).toEqual({ src, loaded: true });
        const slug = path.split('/').filter(Boolean).pop() ?? '';
        const expected = await expectedBlocks(await markdownOf(engine, slug));
        const code = await page
          .locator('article pre')
          .evaluateAll((all) => all.filter((pre) => !pre.closest('.nb-output, .nb-markdown')).length);
        expect(code).toBe(expected.code);
        expect(await page.locator('article .nb-output, article .nb-markdown').count()).toBe(expected.html);
        // Series links lead to pages that exist.
        for (const href of await page
          .locator('article a[href]')
          .evaluateAll((links) =>
            links
              .map((link) => (link as HTMLAnchorElement).href)
              .filter((h) => h.includes('async-batching-walkthrough')),
          )) {
          expect((await fetch(href)).status, href).toBe(200);
        }
        expect({ consoleErrors, requests }).toEqual({ consoleErrors: [], requests });
        expect(requests.every((request) => request.startsWith(url))).toBe(true);
      } finally {
        await context.close();
      }
    }
  }, 240_000);

  it('runs nothing and fetches nothing from the hostile notebook', async () => {
    const { url } = sites[engine];
    const { page, consoleErrors, requests, context } = await visit(`${url}${POSTS[engine].hostile}`, {
      width: 1000,
    });
    try {
      await provokeHandlers(page);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(await page.title()).not.toBe('pwned');
      const report = await page.evaluate(() => {
        const all = [...document.querySelectorAll('article *')];
        return {
          scripts: document.querySelectorAll('article script').length,
          handlers: all.flatMap((el) =>
            el.getAttributeNames().filter((name) => name.toLowerCase().startsWith('on')),
          ),
          badLinks: all
            .flatMap((el) => ['href', 'xlink:href', 'src'].map((name) => el.getAttribute(name) ?? ''))
            .filter((value) => /^\s*(javascript|vbscript|data:text)/i.test(value)),
          h1: document.querySelectorAll('h1').length,
        };
      });
      expect(report).toEqual({ scripts: 0, handlers: [], badLinks: [], h1: 1 });
      // The big SVG is there and loads as an image, with its alt text from its own title.
      const big = page.locator('article img[alt="big"]');
      expect(await big.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
      expect(consoleErrors.filter((message) => !message.includes('404'))).toEqual([]);
      expect(requests.filter((request) => !request.startsWith(url))).toEqual([]);
      // Every image asset, opened on its own as a reader could, fetches nothing either.
      for (const src of await page
        .locator('article img')
        .evaluateAll((all) => all.map((img) => (img as HTMLImageElement).src))) {
        if (!src.endsWith('.svg')) continue;
        const asset = await visit(src, { width: 400 });
        try {
          expect(asset.requests).toEqual([src]);
          expect(asset.consoleErrors).toEqual([]);
        } finally {
          await asset.context.close();
        }
      }
    } finally {
      await context.close();
    }
  }, 240_000);

  it.runIf(engine === 'jekyll')(
    'catches script that does run: with --trust-markdown the Markdown cells’ payloads execute',
    async () => {
      const { url } = sites[engine];
      const { page, context } = await visit(`${url}/async-batching-walkthrough/trusted-hostile/`, {
        width: 1000,
      });
      try {
        expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeDefined();
      } finally {
        await context.close();
      }
    },
    240_000,
  );

  it('has no axe violations in the post body, light and dark, and fits a phone; screenshots for a person', async () => {
    const { url } = sites[engine];
    for (const dark of [false, true]) {
      for (const width of [1280, 390]) {
        const { page, context } = await visit(`${url}${POSTS[engine].series[1]}`, { width, dark, axe: true });
        try {
          expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
          await page.screenshot({
            path: join(RESULTS, `${engine}-${width}-${dark ? 'dark' : 'light'}.png`),
            fullPage: true,
          });
          if (width === 1280) expect(await axeViolations(page, 'article')).toEqual([]);
        } finally {
          await context.close();
        }
      }
    }
  }, 240_000);
});

describe('the HTML page', () => {
  it('has no axe violations, light and dark; charts follow the colour scheme; nothing scrolls sideways at 390 px', async () => {
    const colours: string[] = [];
    for (const dark of [false, true]) {
      for (const width of [1280, 390]) {
        const { page, context } = await visit(htmlPage, { width, dark, axe: true });
        try {
          expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
          await page.screenshot({
            path: join(RESULTS, `html-${width}-${dark ? 'dark' : 'light'}.png`),
            fullPage: width < 600,
          });
          if (width === 1280) {
            expect(await axeViolations(page, 'html')).toEqual([]);
            const chart = page.locator('.output-image svg').first();
            expect(await chart.getAttribute('role')).toBe('img');
            expect(await chart.getAttribute('aria-label')).toBeTruthy();
            colours.push(await chart.evaluate((svg) => getComputedStyle(svg).color));
          }
        } finally {
          await context.close();
        }
      }
    }
    expect(colours[0]).not.toBe(colours[1]);
  }, 240_000);
});
