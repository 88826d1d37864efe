// The project's notebooks opened in Jupyter's own server (Debian's Notebook 6.4) as its page opens them: the notebook
// is read through the contents API, a session starts its kernel, the kernelspec and the kernel's own `language_info`
// are written into the metadata (what the page does on `spec_changed` and `kernel_ready`), and the notebook is saved
// back. The saved file must be the committed file, byte for byte: opening a notebook must not change it.
// Trust is checked through the same server: untrusted, a chart is shown as its text fallback; `npm run jupyter`
// signs the notebooks, and the server then marks their outputs trusted. Then the same in Notebook's own page in
// Chromium: opening does not mark a notebook changed, an untrusted chart shows as its text, saving changes no byte,
// and a signed notebook draws its chart. Needs Debian's jupyter-notebook and chromium (npm test brings both).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  findJupyter,
  installKernelspecs,
  JUPYTER_DATA,
  jupyterEnv,
  trustNotebooks,
} from '../../../tools/env/jupyter.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const NOTEBOOKS = readdirSync(join(ROOT, 'notebooks'))
  .filter((name) => name.endsWith('.ipynb'))
  .sort();
/** Opened in Chromium, untrusted first: notebooks with charts. */
const PAGE_NOTEBOOKS = ['07-deferred-semaphore.ipynb', '11-batch-window.ipynb'];
// Kernel start-up takes long on a loaded machine; this only bounds a hang.
const SLOW = 600_000;

const dir = mkdtempSync(join(tmpdir(), 'jupyter-open-save-'));
const notary = [
  `--NotebookNotary.db_file=${join(dir, 'nbsignatures.db')}`,
  `--NotebookNotary.secret_file=${join(dir, 'notebook_secret')}`,
];
const token = randomUUID().replaceAll('-', '');
let server: ChildProcess | undefined;
let base = '';
let python = '';
let serverLog = '';

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

type NotebookJson = {
  metadata: Record<string, unknown> & { kernelspec?: { name: string } };
  cells: {
    cell_type: string;
    metadata: { trusted?: boolean };
    outputs?: { data?: Record<string, unknown> }[];
  }[];
};

/** Asks the kernel of `kernelId`, over the server's websocket, for its kernel_info_reply content. */
async function kernelInfo(kernelId: string): Promise<{ language_info: Record<string, unknown> }> {
  const session = randomUUID();
  const socket = new WebSocket(
    `${base.replace(/^http/, 'ws')}/api/kernels/${kernelId}/channels?session_id=${session}&token=${token}`,
  );
  try {
    await new Promise((done, fail) => {
      socket.addEventListener('open', done, { once: true });
      socket.addEventListener('error', () => fail(new Error('the kernel websocket failed')), { once: true });
    });
    // A kernel that is still starting does not answer the first request; ask again, as the page does.
    for (;;) {
      const msgId = randomUUID();
      const reply = new Promise<Record<string, unknown> | null>((done) => {
        const timer = setTimeout(() => done(null), 5_000);
        socket.addEventListener('message', (event) => {
          const message = JSON.parse(String(event.data));
          if (message.channel === 'shell' && message.parent_header?.msg_id === msgId) {
            clearTimeout(timer);
            done(message.content);
          }
        });
      });
      socket.send(
        JSON.stringify({
          header: {
            msg_id: msgId,
            msg_type: 'kernel_info_request',
            session,
            username: 'test',
            date: new Date().toISOString(),
            version: '5.3',
          },
          parent_header: {},
          metadata: {},
          content: {},
          channel: 'shell',
          buffers: [],
        }),
      );
      const content = await reply;
      if (content) return content as { language_info: Record<string, unknown> };
    }
  } finally {
    socket.close();
  }
}

/**
 * Opens `name` as Notebook 6.4's page does, on `kernelName` (default: the one the notebook names), and saves it.
 * @returns the text of the file the server wrote.
 */
async function openAndSave(name: string, kernelName?: string): Promise<string> {
  const path = encodeURIComponent(name);
  const model = await api<{ content: NotebookJson }>('GET', `/api/contents/${path}?type=notebook&content=1`);
  const notebook = model.content;
  const kernel = kernelName ?? notebook.metadata.kernelspec?.name ?? 'tslab';
  const specs = await api<{
    kernelspecs: Record<string, { spec: { display_name: string; language: string } }>;
  }>('GET', '/api/kernelspecs');
  const session = await api<{ id: string; kernel: { id: string } }>('POST', '/api/sessions', {
    path: name,
    type: 'notebook',
    name: '',
    kernel: { name: kernel },
  });
  try {
    // notebook.js, on `spec_changed.Kernel` and on `kernel_ready.Kernel`:
    notebook.metadata.kernelspec = {
      name: kernel,
      display_name: specs.kernelspecs[kernel].spec.display_name,
      language: specs.kernelspecs[kernel].spec.language,
    } as { name: string };
    notebook.metadata.language_info = (await kernelInfo(session.kernel.id)).language_info;
    await api('PUT', `/api/contents/${path}`, { type: 'notebook', format: 'json', content: notebook });
  } finally {
    await api('DELETE', `/api/sessions/${session.id}`);
  }
  return readFileSync(join(dir, name), 'utf8');
}

beforeAll(async () => {
  const jupyter = findJupyter('notebook');
  if (!jupyter) {
    throw new Error(
      "Jupyter Notebook not found. This test needs Debian's jupyter-notebook package (npm test brings it); " +
        'it is not skipped, so a missing Jupyter cannot pass as green.',
    );
  }
  ({ python } = installKernelspecs({ quiet: true }));
  for (const name of NOTEBOOKS) copyFileSync(join(ROOT, 'notebooks', name), join(dir, name));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    jupyter,
    [
      'notebook',
      '--no-browser',
      '--ip=127.0.0.1',
      `--port=${port}`,
      '--port-retries=0',
      `--NotebookApp.token=${token}`,
      `--notebook-dir=${dir}`,
      ...notary,
      ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    ],
    {
      env: { ...jupyterEnv(), JUPYTER_RUNTIME_DIR: join(dir, 'runtime') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const keep = (chunk: Buffer) => {
    serverLog = (serverLog + chunk.toString('utf8')).slice(-20_000);
  };
  server.stdout?.on('data', keep);
  server.stderr?.on('data', keep);
  await vi.waitFor(
    async () => {
      if (server?.exitCode !== null) throw new Error(`Jupyter exited:\n${serverLog}`);
      await api('GET', '/api/status');
    },
    { timeout: 120_000, interval: 250 },
  );
}, SLOW);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((done) => {
      const timer = setTimeout(() => {
        server?.kill('SIGKILL');
        done(undefined);
      }, 10_000);
      server?.once('exit', () => {
        clearTimeout(timer);
        done(undefined);
      });
    });
  }
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the kernels the project registers', () => {
  it('are two, tslab and Deno: no "JavaScript" (jslab) kernel beside them', async () => {
    expect(readdirSync(join(JUPYTER_DATA, 'kernels')).sort()).toEqual(['deno', 'tslab']);
    const specs = await api<{ kernelspecs: Record<string, { spec: { display_name: string } }> }>(
      'GET',
      '/api/kernelspecs',
    );
    expect(Object.keys(specs.kernelspecs)).not.toContain('jslab');
    expect(specs.kernelspecs.tslab.spec.display_name).toBe('TypeScript (tslab)');
    expect(specs.kernelspecs.deno.spec.display_name).toBe('TypeScript (Deno)');
  });
});

describe('a notebook opened and saved in Jupyter Notebook', () => {
  it(
    'is saved byte for byte as committed, on the kernel it names',
    async () => {
      const changed: string[] = [];
      for (const name of NOTEBOOKS) {
        const saved = (await openAndSave(name)).split('\n');
        const committed = readFileSync(join(ROOT, 'notebooks', name), 'utf8').split('\n');
        const at = committed.findIndex((line, i) => saved[i] !== line);
        if (at >= 0 || saved.length !== committed.length) {
          changed.push(
            `${name} line ${at + 1}: ${JSON.stringify(committed[at])} -> ${JSON.stringify(saved[at])}`,
          );
        }
      }
      expect(changed).toEqual([]);
    },
    SLOW,
  );

  it(
    "writes Deno's kernelspec as registered when switched to Deno, so it reopens on Deno",
    async () => {
      const name = NOTEBOOKS[0];
      const saved = JSON.parse(await openAndSave(name, 'deno')) as NotebookJson;
      // Jupyter writes the kernel a user picks into the notebook, so it reopens on Deno: the same kernelspec that
      // `npm run notebooks -- --kernel deno --out DIR` records (test/unit/notebook keeps the committed ones on tslab).
      expect(saved.metadata.kernelspec).toEqual({
        display_name: 'TypeScript (Deno)',
        language: 'typescript',
        name: 'deno',
      });
      expect(saved.metadata.language_info).toMatchObject({ name: 'typescript' });
      copyFileSync(join(ROOT, 'notebooks', name), join(dir, name));
    },
    SLOW,
  );
});

describe('trust', () => {
  const chartNotebooks = NOTEBOOKS.filter((name) =>
    readFileSync(join(ROOT, 'notebooks', name), 'utf8').includes('"image/svg+xml"'),
  );

  async function cellsWithCharts(name: string) {
    const model = await api<{ content: NotebookJson }>(
      'GET',
      `/api/contents/${encodeURIComponent(name)}?type=notebook&content=1`,
    );
    return model.content.cells.filter((cell) =>
      cell.outputs?.some((output) => output.data?.['image/svg+xml'] !== undefined),
    );
  }

  it('gives every chart a text fallback, which an untrusted notebook shows instead', async () => {
    expect(chartNotebooks.length).toBeGreaterThan(0);
    for (const name of chartNotebooks) {
      for (const cell of await cellsWithCharts(name)) {
        expect(cell.metadata.trusted, name).toBe(false);
        for (const output of cell.outputs ?? []) {
          if (output.data?.['image/svg+xml'] === undefined) continue;
          expect(String(output.data['text/plain'] ?? ''), name).toMatch(/Timeline of \d+ jobs/);
        }
      }
    }
  });

  it('shows the charts of notebooks signed the way npm run jupyter signs them', async () => {
    // Not the notebooks the page test opens untrusted below: a signature is of the content, wherever it is.
    const signed = chartNotebooks.filter((name) => !PAGE_NOTEBOOKS.includes(name));
    expect(signed.length).toBeGreaterThan(0);
    trustNotebooks(
      python,
      signed.map((name) => join(dir, name)),
      notary,
    );
    for (const name of signed) {
      const cells = await cellsWithCharts(name);
      expect(cells.length, name).toBeGreaterThan(0);
      expect(
        cells.map((cell) => cell.metadata.trusted),
        name,
      ).toEqual(cells.map(() => true));
    }
  });
});

describe('in Chromium, the Notebook page itself', () => {
  const CHROMIUM = '/usr/bin/chromium';
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  /** Opens `name` in the page, waits for its kernel, and reports what the page holds and shows. */
  async function openInPage(name: string) {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium`);
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage();
    await page.goto(`${base}/notebooks/${encodeURIComponent(name)}?token=${token}`);
    // kernel_ready: the page has written the kernelspec and language_info into its model by now.
    await page.waitForFunction(
      () =>
        (
          window as unknown as {
            IPython?: { notebook?: { kernel?: { info_reply?: { language_info?: unknown } } } };
          }
        ).IPython?.notebook?.kernel?.info_reply?.language_info !== undefined,
      null,
      { timeout: SLOW },
    );
    const state = await page.evaluate(() => {
      const notebook = (window as unknown as { IPython: { notebook: { dirty: boolean } } }).IPython.notebook;
      const texts = [...document.querySelectorAll('.output_subarea pre')].map((pre) => pre.textContent ?? '');
      return {
        dirty: notebook.dirty,
        charts: document.querySelectorAll('.output_subarea svg').length,
        fallbacks: texts.filter((text) => /Timeline of \d+ jobs/.test(text)).length,
      };
    });
    return { page, state };
  }

  it(
    'does not mark a notebook changed on open, shows untrusted charts as their text, and saves it unchanged',
    async () => {
      for (const name of PAGE_NOTEBOOKS) {
        const { page, state } = await openInPage(name);
        expect(state, name).toEqual({ dirty: false, charts: 0, fallbacks: expect.any(Number) });
        expect(state.fallbacks, name).toBeGreaterThan(0);
        await page.evaluate(() =>
          (
            window as unknown as { IPython: { notebook: { save_notebook(): Promise<unknown> } } }
          ).IPython.notebook.save_notebook(),
        );
        await page.close();
        expect(readFileSync(join(dir, name), 'utf8'), name).toBe(
          readFileSync(join(ROOT, 'notebooks', name), 'utf8'),
        );
      }
    },
    SLOW,
  );

  it(
    'draws the charts of a notebook signed the way npm run jupyter signs it',
    async () => {
      const name = PAGE_NOTEBOOKS[0];
      trustNotebooks(python, [join(dir, name)], notary);
      const { page, state } = await openInPage(name);
      await page.close();
      expect(state.dirty).toBe(false);
      expect(state.charts).toBeGreaterThan(0);
    },
    SLOW,
  );
});
