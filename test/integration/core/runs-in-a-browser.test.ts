/**
 * The core runs anywhere: Deferreds, lists, the semaphore, lock, queue, Cooperator and the pools bundle for a browser
 * with esbuild from the package's main entry (its `sideEffects: false` lets the bundler leave getPage and undici out),
 * import no `node:` module, and run in Chromium: a semaphore bounds its jobs, a parallelStream yields every outcome.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The core, as a browser program imports it: by the package's name, from its main entry. */
const CORE_ENTRY = `export {
  Deferred, DeferredList, gatherResults, DeferredSemaphore, DeferredLock, DeferredQueue, Cooperator,
  parallel, parallelStream, CancelledError,
} from 'async-batching';`;

async function bundle(contents: string) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const [file] = result.outputFiles;
  const [output] = Object.values(result.metafile.outputs);
  if (file === undefined || output === undefined) throw new Error('esbuild wrote nothing');
  // The modules that put code in the bundle (one parsed but tree-shaken away contributes 0 bytes).
  const inputs = Object.entries(output.inputs)
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([name]) => name);
  return { code: file.text, gzipped: gzipSync(file.contents).length, inputs };
}

let core: Awaited<ReturnType<typeof bundle>>;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: this test needs Debian's chromium package (apt-get install chromium; ` +
        '.ci/run installs it). It is not skipped, so a missing browser cannot pass as green.',
    );
  }
  core = await bundle(CORE_ENTRY);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});

afterAll(async () => {
  await browser?.close();
});

describe('the core in a browser', () => {
  it('bundles from the main entry without getPage, undici, BullMQ or any node: module', async () => {
    const libInputs = core.inputs.filter((f) => f.startsWith('lib/'));
    expect(libInputs.length).toBeGreaterThan(5);
    for (const input of libInputs)
      expect(input).toMatch(/^lib\/dist\/(index\.js|(core|blocks|compositions)\/)/);
    expect(core.inputs.filter((f) => f.includes('node_modules'))).toEqual([]);
    // No import of a node: module, undici or BullMQ (the semaphore only names node:async_hooks to probe for it at run
    // time, and the diagnostics channels' names mention bullmq).
    expect(core.code).not.toMatch(/(from|import)\s*\(?\s*["'`](node:|undici|bullmq)|require\(/);
  });

  it('is small: minified and gzipped, within 16 KiB (p-limit, for scale, printed beside it)', async () => {
    const pLimit = await bundle("export { default } from 'p-limit';");
    console.log(
      `core bundle: ${core.code.length} B minified, ${core.gzipped} B gzipped; ` +
        `p-limit: ${pLimit.code.length} B minified, ${pLimit.gzipped} B gzipped`,
    );
    expect(core.gzipped).toBeLessThan(16 * 1024);
  });

  it('runs a semaphore and a parallelStream in Chromium', async () => {
    const page = await (browser as Browser).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto('about:blank');
    // The bundle without its export list, then a program using the names the minifier gave the exports.
    const program = core.code.replace(/export\s*\{[^}]*\};?\s*$/, '');
    const exportList = /export\s*\{([^}]*)\};?\s*$/.exec(core.code)?.[1] ?? '';
    const names = Object.fromEntries(
      exportList.split(',').map((pair) => {
        const [local, exported] = pair.trim().split(/\s+as\s+/);
        return [exported ?? local, local];
      }),
    ) as Record<string, string>;
    await page.addScriptTag({
      type: 'module',
      content: `${program}
        const DeferredSemaphore = ${names.DeferredSemaphore}, parallelStream = ${names.parallelStream};
        const results = { hasProcess: typeof process !== 'undefined' };
        const sem = new DeferredSemaphore(2);
        let running = 0, peak = 0;
        const job = (i) => new Promise((resolve) => {
          running++; peak = Math.max(peak, running);
          setTimeout(() => { running--; resolve(i * 10); }, 5);
        });
        results.semaphore = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => sem.run(job, i)));
        results.peak = peak;
        async function* source() { for (let i = 0; i < 20; i++) { await null; yield i; } }
        const seen = [];
        for await (const o of parallelStream(source(), 3, (n) => new Promise((r) => setTimeout(() => r(n * n), 20 - n)))) {
          seen.push(o.ok ? o.value : 'failed');
        }
        results.stream = seen.sort((a, b) => a - b);
        window.__results = results;`,
    });
    await page.waitForFunction(
      () => (window as unknown as { __results?: unknown }).__results !== undefined,
      null,
      {
        timeout: 10_000,
      },
    );
    const results = (await page.evaluate(() => (window as unknown as { __results: unknown }).__results)) as {
      hasProcess: boolean;
      semaphore: number[];
      peak: number;
      stream: number[];
    };
    await page.close();
    expect(errors).toEqual([]);
    expect(results.hasProcess).toBe(false);
    expect(results.semaphore).toEqual([10, 20, 30, 40, 50, 60]);
    expect(results.peak).toBe(2);
    expect(results.stream).toEqual(Array.from({ length: 20 }, (_, i) => i * i));
  });
});
