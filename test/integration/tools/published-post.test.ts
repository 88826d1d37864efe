/**
 * The post a blogger would publish, from the real notebooks: exported as the default series and as one long page,
 * dropped into a blog made by `jekyll new` (minima, Debian's jekyll-theme-minima) with nothing written by the test,
 * and as the exporter's own HTML pages. Chromium (playwright-core) reads them light and dark, at 1280 and 390 px:
 * the theme's layout is there (header, `<meta charset>`, its style sheet), nothing overflows the page, charts keep
 * legible labels, the contents list every part, and axe-core finds no violation. No post carries harness wording or
 * a local path; each links the repository, the series ends on a recap, and no post has more than five tags.
 */

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_REPOSITORY, MAX_TAGS } from '../../../tools/export/index.ts';
import { exportTo, jekyllBlog, ROOT, requireTools, serveStatic } from '../../helpers/sites.ts';

const CHROMIUM = '/usr/bin/chromium';
const NOTEBOOKS = join(ROOT, 'notebooks');
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** What the notebooks' test harness says, and where a local run puts copies: neither belongs in a post. */
const HARNESS = [/compared between runs/i, /nbval/i, /dist\/notebooks/, /\.ipynb\b/, /\/work\//, /\/tmp\//];

let work: string;
let browser: Browser;
const servers: Server[] = [];
const urls: Record<'series' | 'single' | 'html', string> = { series: '', single: '', html: '' };
let seriesExport: string;
let singleExport: string;
let posts: string[] = [];

beforeAll(async () => {
  requireTools([CHROMIUM, '/usr/bin/jekyll', '/usr/share/rubygems-integration/all/gems/minima-2.5.1']);
  work = await mkdtemp(join(tmpdir(), 'published-post-'));
  const notebooks = (await readdir(NOTEBOOKS)).filter((name) => name.endsWith('.ipynb')).sort();
  const inputs = notebooks.map((name) => join(NOTEBOOKS, name));
  seriesExport = join(work, 'series-export');
  singleExport = join(work, 'single-export');
  // The default for Jekyll is the series; the standalone HTML pages come with it.
  await exportTo(seriesExport, [...inputs, '--target', 'jekyll']);
  await exportTo(singleExport, [...inputs, '--target', 'jekyll', '--single-page', '--format', 'md']);
  const [series, single] = await Promise.all([
    jekyllBlog(join(work, 'series-blog'), seriesExport),
    jekyllBlog(join(work, 'single-blog'), singleExport),
  ]);
  for (const [name, dir] of [
    ['series', series],
    ['single', single],
    ['html', join(seriesExport, 'standalone')],
  ] as const) {
    const { url, server } = await serveStatic(dir, { charset: false });
    servers.push(server);
    urls[name] = url;
  }
  posts = notebooks.map((name) => name.replace(/\.ipynb$/, ''));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  for (const server of servers) server.close();
  if (work && !process.env.KEEP_SITES) await rm(work, { recursive: true, force: true });
});

async function open(
  url: string,
  width: number,
  dark: boolean,
): Promise<{ page: Page; close: () => Promise<void> }> {
  const context = await browser.newContext({
    viewport: { width, height: width < 600 ? 844 : 900 },
    colorScheme: dark ? 'dark' : 'light',
    bypassCSP: true,
  });
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'load' });
  return { page, close: () => context.close() };
}

async function axe(page: Page, include: string): Promise<string[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const result = await page.evaluate(async (selector) => {
    const run = (window as unknown as { axe: { run(context: unknown): Promise<{ violations: unknown[] }> } })
      .axe;
    return run.run({ include: [selector] });
  }, include);
  return (
    result.violations as { id: string; nodes: { target: string[]; failureSummary?: string }[] }[]
  ).flatMap((violation) =>
    violation.nodes.map((node) => `${violation.id}: ${node.target.join(' ')} ${node.failureSummary ?? ''}`),
  );
}

/** Whether the page scrolls sideways, and charts whose labels are drawn smaller than 80% of their size. */
async function phoneLayout(page: Page): Promise<{ overflow: number; smallCharts: string[] }> {
  return page.evaluate(() => {
    const overflow = document.documentElement.scrollWidth - document.documentElement.clientWidth;
    const smallCharts: string[] = [];
    for (const chart of document.querySelectorAll<SVGSVGElement | HTMLImageElement>(
      'svg[role="img"][width], img[src$=".svg"], img[src^="data:image/svg"]',
    )) {
      const own =
        chart instanceof HTMLImageElement ? chart.naturalWidth : Number(chart.getAttribute('width') ?? '0');
      const scale = chart.getBoundingClientRect().width / own;
      if (own > 0 && scale < 0.8)
        smallCharts.push(
          `${chart.getAttribute('aria-label') ?? chart.getAttribute('alt')}: ${scale.toFixed(2)}`,
        );
    }
    return { overflow, smallCharts };
  });
}

describe('the real walkthrough, published', () => {
  it('carries no harness wording or local path, links the repository, ends on a recap, has at most 5 tags', async () => {
    const dir = join(seriesExport, '_posts');
    const files = (await readdir(dir)).sort();
    expect(files).toHaveLength(posts.length);
    const single = await readFile(
      join(singleExport, '_posts', (await readdir(join(singleExport, '_posts')))[0]),
      'utf8',
    );
    const index = await readFile(join(seriesExport, 'async-batching-walkthrough/index.md'), 'utf8');
    const texts = [
      ...(await Promise.all(files.map((file) => readFile(join(dir, file), 'utf8')))),
      single,
      index,
    ];
    const html = await readdir(join(seriesExport, 'standalone'));
    for (const file of html) texts.push(await readFile(join(seriesExport, 'standalone', file), 'utf8'));
    for (const text of texts) {
      for (const pattern of HARNESS) expect(text).not.toMatch(pattern);
      expect(text).toContain(DEFAULT_REPOSITORY);
    }
    for (const text of [...texts.slice(0, files.length), single, index]) {
      const meta = load(text.split('\n---\n')[0].slice(4)) as { tags: string[]; layout: string };
      expect(meta.tags.length).toBeGreaterThan(0);
      expect(meta.tags.length).toBeLessThanOrEqual(MAX_TAGS);
    }
    expect(texts[files.length - 1]).toContain('## Recap');
    expect(single).toContain('## Recap');
  });

  it.each(['series', 'single'] as const)(
    'renders in a minima blog as it comes (%s): header, charset, style sheet, one H1, previous and next links',
    async (shape) => {
      const path =
        shape === 'series' ? `/async-batching-walkthrough/${posts[6]}/` : '/async-batching-walkthrough/';
      const { page, close } = await open(`${urls[shape]}${path}`, 1280, false);
      try {
        expect(await page.locator('meta[charset]').count()).toBe(1);
        expect(await page.locator('header.site-header').count()).toBe(1);
        const sheets = await page.evaluate(() =>
          [...document.styleSheets].map((sheet) => sheet.cssRules.length),
        );
        expect(sheets.some((rules) => rules > 50)).toBe(true);
        expect(await page.locator('h1').count()).toBe(1);
        // Highlighted by Rouge, styled by minima.
        expect(await page.locator('.post-content .highlight').count()).toBeGreaterThan(0);
        if (shape === 'series') {
          for (const href of await page
            .locator('.post-content a[href^="/async-batching-walkthrough/"]')
            .evaluateAll((links) => links.map((link) => (link as HTMLAnchorElement).href))) {
            expect((await fetch(href)).status, href).toBe(200);
          }
        }
      } finally {
        await close();
      }
    },
    120_000,
  );

  const pages = () => [
    ...posts.map((slug) => ['minima series', `${urls.series}/async-batching-walkthrough/${slug}/`] as const),
    ['minima single page', `${urls.single}/async-batching-walkthrough/`] as const,
    ...posts.map((slug) => ['HTML series', `${urls.html}/${slug}.html`] as const),
    ['HTML series index', `${urls.html}/index.html`] as const,
  ];

  it('fits a 390 px phone: nothing overflows the page and charts keep legible labels', async () => {
    const problems: string[] = [];
    for (const [what, url] of pages()) {
      const { page, close } = await open(url, 390, false);
      try {
        const { overflow, smallCharts } = await phoneLayout(page);
        if (overflow > 0) problems.push(`${what} ${url}: ${overflow} px too wide`);
        for (const chart of smallCharts) problems.push(`${what} ${url}: chart drawn small: ${chart}`);
      } finally {
        await close();
      }
    }
    expect(problems).toEqual([]);
  }, 600_000);

  // The exporter's own pages: a minima post wears minima's colours (its link blue is 4.14:1), which are the blog's.
  it('has no axe-core violation in light or dark mode on the exported pages, series and long page', async () => {
    await exportTo(join(work, 'html-long'), [
      ...posts.map((slug) => join(NOTEBOOKS, `${slug}.ipynb`)),
      '--format',
      'html',
    ]);
    const { url, server } = await serveStatic(join(work, 'html-long'), { charset: false });
    servers.push(server);
    const targets = [
      ...posts.map((slug) => `${urls.html}/${slug}.html`),
      `${urls.html}/index.html`,
      `${url}/async-batching-walkthrough.html`,
    ];
    const problems: string[] = [];
    for (const dark of [false, true]) {
      for (const target of targets) {
        const { page, close } = await open(target, 1280, dark);
        try {
          for (const violation of await axe(page, 'html'))
            problems.push(`${dark ? 'dark' : 'light'} ${target}: ${violation}`);
        } finally {
          await close();
        }
      }
    }
    expect(problems).toEqual([]);
  }, 900_000);

  it('lists every part in the contents beside the long page, none cut off', async () => {
    await exportTo(join(work, 'html-single'), [
      ...posts.map((slug) => join(NOTEBOOKS, `${slug}.ipynb`)),
      '--format',
      'html',
    ]);
    const { url, server } = await serveStatic(join(work, 'html-single'), { charset: false });
    servers.push(server);
    const { page, close } = await open(`${url}/async-batching-walkthrough.html`, 1280, false);
    try {
      const hidden = await page.evaluate(() => {
        const toc = document.querySelector('.toc');
        const box = toc?.getBoundingClientRect();
        const links = [...document.querySelectorAll<HTMLAnchorElement>('.toc > details > ol > li > a')];
        return {
          count: links.length,
          cut: links
            .filter((link) => {
              const rect = link.getBoundingClientRect();
              return !box || rect.bottom > Math.min(box.bottom, window.innerHeight) || rect.height === 0;
            })
            .map((link) => link.textContent),
        };
      });
      expect(hidden.count).toBe(posts.length + 1);
      expect(hidden.cut).toEqual([]);
      // Scrolled to the end, the contents are still beside the text.
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      const top = await page.locator('.toc').evaluate((toc) => toc.getBoundingClientRect().top);
      expect(top).toBeGreaterThanOrEqual(0);
      expect(top).toBeLessThan(100);
      const overflow = await phoneLayout(page);
      expect(overflow.overflow).toBe(0);
    } finally {
      await close();
    }
  }, 120_000);
});
