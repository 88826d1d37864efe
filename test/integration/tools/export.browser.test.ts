/**
 * Opens exported posts in Debian's headless Chromium (driven by playwright-core, never a downloaded browser) and checks
 * what a reader would get: every notebook's headings, highlighted code in both themes, visible charts, no console
 * errors, no network requests, and no script from a hostile notebook running.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provokeHandlers } from '../../helpers/browser.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/export');
const RESULTS = join(ROOT, 'test-results');
const run = promisify(execFile);

let browser: Browser;
let out: string;

async function exportPost(args: string[]): Promise<void> {
  await run(process.execPath, [join(ROOT, 'tools/export.ts'), ...args], { cwd: ROOT });
}

interface Visit {
  page: Page;
  requests: string[];
  consoleErrors: string[];
  close(): Promise<void>;
}

async function visit(
  file: string,
  options: { width: number; height: number; dark?: boolean },
): Promise<Visit> {
  const context = await browser.newContext({
    viewport: { width: options.width, height: options.height },
    colorScheme: options.dark ? 'dark' : 'light',
    deviceScaleFactor: options.width < 600 ? 2 : 1,
  });
  const page = await context.newPage();
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, requests, consoleErrors, close: () => context.close() };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}. The browser test of the exported post needs Debian's chromium package ` +
        '(apt-get install chromium; .ci/run installs it). It is not skipped, so a missing browser cannot pass as green.',
    );
  }
  out = await mkdtemp(join(tmpdir(), 'export-browser-'));
  await mkdir(RESULTS, { recursive: true });
  await Promise.all([
    exportPost([
      join(FIXTURES, '01-deferreds.ipynb'),
      join(FIXTURES, '02-charts.ipynb'),
      '--format',
      'html',
      '--out',
      join(out, 'post'),
    ]),
    exportPost([
      join(FIXTURES, 'hostile.ipynb'),
      '--per-notebook',
      '--format',
      'html',
      '--out',
      join(out, 'hostile'),
    ]),
  ]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  if (out) await rm(out, { recursive: true, force: true });
});

describe('exported HTML post in Chromium', () => {
  it('shows every notebook with highlighted code and visible charts, offline and without errors', async () => {
    const file = join(out, 'post', 'async-batching-walkthrough.html');
    const { page, requests, consoleErrors, close } = await visit(file, { width: 1360, height: 900 });
    try {
      const headings = await page.locator('article h2').allTextContents();
      expect(headings).toEqual(['Deferreds: callbacks that wait', 'Charting a batch', 'Recap']);
      expect(await page.locator('article h3').allTextContents()).toContain(
        'A chart with its own style sheet',
      );
      await expect(page.locator('h1').textContent()).resolves.toBe(
        'Async batching in TypeScript: a walkthrough',
      );

      // The table of contents links to the headings of both notebooks.
      const tocTargets = await page
        .locator('nav.toc a')
        .evaluateAll((links) => links.map((link) => (link as HTMLAnchorElement).hash.slice(1)));
      expect(tocTargets).toContain('deferreds-callbacks-that-wait');
      expect(tocTargets).toContain('time-per-strategy');
      for (const id of tocTargets) expect(await page.locator(`[id="${id}"]`).count()).toBe(1);

      // shiki colours each token: one code block shows several distinct colours.
      const colours = await page
        .locator('.cell-input pre.shiki')
        .first()
        .locator('span[style]')
        .evaluateAll((spans) => [...new Set(spans.map((span) => getComputedStyle(span).color))]);
      expect(colours.length).toBeGreaterThanOrEqual(3);

      const chart = page.locator('.output-image svg').first();
      const box = await chart.boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(box?.height).toBeGreaterThan(50);
      const png = page.locator('.output-image img[src^="data:image/png"]').first();
      expect(await png.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(24);
      // An SVG with its own style sheet is shown through <img>; it must still load and have a size.
      const styled = page.locator('.output-image img[src^="data:image/svg+xml"]');
      expect(await styled.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(420);
      expect((await styled.boundingBox())?.height).toBeGreaterThan(50);

      // Outputs look different from code: their own background.
      const codeBg = await page
        .locator('.cell-input pre.shiki')
        .first()
        .evaluate((el) => getComputedStyle(el).backgroundColor);
      const outBg = await page
        .locator('.output')
        .first()
        .evaluate((el) => getComputedStyle(el).backgroundColor);
      expect(outBg).not.toBe(codeBg);
      await expect(page.locator('.output-label').first().textContent()).resolves.toBe('Out');

      // A hide-input cell folds its code away but keeps its output in view.
      const folded = page.locator('details.cell-input');
      expect(await folded.count()).toBe(1);
      expect(await folded.evaluate((el) => (el as HTMLDetailsElement).open)).toBe(false);

      expect(await page.locator('text=REMOVED-OUTPUT-MARKER').count()).toBe(0);
      expect(await page.locator('text=REMOVED_INPUT_MARKER').count()).toBe(0);

      expect(consoleErrors).toEqual([]);
      expect(requests).toEqual([pathToFileURL(file).href]);
      await page.screenshot({ path: join(RESULTS, 'blog.png'), fullPage: true });
    } finally {
      await close();
    }
  });

  it('switches code to the dark theme and stays readable on a phone', async () => {
    const file = join(out, 'post', 'async-batching-walkthrough.html');
    const light = await visit(file, { width: 390, height: 844 });
    const dark = await visit(file, { width: 390, height: 844, dark: true });
    try {
      const keyword = (page: Page) =>
        page
          .locator('.cell-input pre.shiki span[style*="--shiki-dark"]')
          .first()
          .evaluate((el) => getComputedStyle(el).color);
      expect(await keyword(dark.page)).not.toBe(await keyword(light.page));

      for (const { page } of [light, dark]) {
        // Nothing but code blocks may be wider than the screen; they scroll on their own.
        const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(pageWidth).toBeLessThanOrEqual(390);
      }
      expect([...light.consoleErrors, ...dark.consoleErrors]).toEqual([]);
      await light.page.screenshot({ path: join(RESULTS, 'blog-phone.png'), fullPage: false });
      await dark.page.screenshot({ path: join(RESULTS, 'blog-phone-dark.png'), fullPage: false });
    } finally {
      await light.close();
      await dark.close();
    }
  });

  it('runs none of the script a hostile notebook carries', async () => {
    const file = join(out, 'hostile', 'hostile.html');
    const { page, requests, consoleErrors, close } = await visit(file, { width: 1000, height: 800 });
    try {
      await provokeHandlers(page);

      expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(await page.title()).toBe(
        `Hostile <script>document.title='pwned'</script> {{% ref "nope" %}} {{ site.title }} /* notebook */`,
      );
      const report = await page.evaluate(() => {
        const all = [...document.querySelectorAll('*')];
        return {
          scripts: document.querySelectorAll('script').length,
          handlers: all.flatMap((el) =>
            el.getAttributeNames().filter((name) => name.toLowerCase().startsWith('on')),
          ),
          risky: document.querySelectorAll(
            'iframe, object, embed, foreignObject, link, meta[http-equiv="refresh"], form, video',
          ).length,
          badLinks: all
            .flatMap((el) => ['href', 'xlink:href', 'src'].map((name) => el.getAttribute(name) ?? ''))
            .filter((url) => /^\s*(javascript|data:text)/i.test(url)),
        };
      });
      expect(report).toEqual({ scripts: 0, handlers: [], risky: 0, badLinks: [] });
      // The payload text stays visible as text, so a reader sees what the notebook printed.
      await expect(page.locator('.output-stdout pre').first().textContent()).resolves.toContain(
        "<script>window.__pwned = 'stream script'</script>",
      );

      expect(consoleErrors).toEqual([]);
      expect(requests).toEqual([pathToFileURL(file).href]);
    } finally {
      await close();
    }
  });
});
