// Two builds of async-batching side by side on getPage, in one process, rows interleaved round-robin, no forced GC:
//   node bench/ab-get-page.ts OLD/dist/index.js NEW/dist/index.js [rounds] [count]
// Each build drives its own default keep-alive Agent against one server in a child process, which serves four kinds
// of response, one per path: a plain 2 KiB page, the same page gzipped, a 302 to the plain page, and a 404 with a small
// body. To build an old commit: `git worktree add --detach /tmp/old <commit>`, link node_modules, then
// `cd /tmp/old/lib && node ../node_modules/typescript/bin/tsc -p tsconfig.build.json`.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { interleaveNamed, loadBuilds } from './harness.ts';

type Lib = typeof import('async-batching');

if (process.argv[2] === '--serve') {
  const line = 'async-batching benchmark page: the same bytes for every request.\n';
  const page = Buffer.from(line.repeat(40).slice(0, 2048));
  const gz = gzipSync(page);
  const notFound = Buffer.from('no such page\n');
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    if (req.url === '/gz') {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-encoding': 'gzip',
        'content-length': gz.length,
      });
      res.end(gz);
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: '/page', 'content-length': 0 });
      res.end();
    } else if (req.url === '/404') {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': notFound.length });
      res.end(notFound);
    } else {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': page.length });
      res.end(page);
    }
  });
  server.maxRequestsPerSocket = 0;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  const { OLD, NEW, rest } = await loadBuilds<Lib>('ab-get-page.ts', '[rounds] [count]');
  const [rounds = '5', countArg = '3000'] = rest;
  const N = Number(countArg);
  const C = 50;
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise<string>((resolve) => lines.once('line', resolve));
  const batch = async (get: () => Promise<unknown>) => {
    let next = 0;
    const worker = async () => {
      while (next++ < N) await get();
    };
    await Promise.all(Array.from({ length: C }, worker));
  };
  const expect = (text: string) => {
    if (text.length !== 2048) throw new Error(`expected 2048 characters, got ${text.length}`);
  };
  const kinds: Record<string, (L: Lib) => () => Promise<unknown>> = {
    plain: (L) => async () => expect(await L.getPage(`${base}/page`)),
    gzip: (L) => async () => expect(await L.getPage(`${base}/gz`)),
    redirect: (L) => async () => expect(await L.getPage(`${base}/redirect`)),
    '404': (L) => async () => {
      try {
        await L.getPage(`${base}/404`);
      } catch (e) {
        if ((e as { status?: number }).status === 404) return;
        throw e;
      }
      throw new Error('expected an HttpError 404');
    },
  };
  const variants: Record<string, () => Promise<unknown>> = {};
  for (const [kind, make] of Object.entries(kinds)) {
    const oldGet = make(OLD);
    const newGet = make(NEW);
    variants[`old ${kind}`] = () => batch(oldGet);
    variants[`new ${kind}`] = () => batch(newGet);
  }
  const rows = await interleaveNamed(variants, Number(rounds));
  const wall = Object.fromEntries(rows.map((row) => [row.name, row.samples]));
  const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
  const med = (a: number[]) => sorted(a)[a.length >> 1] as number;
  console.log(`${N} GETs per run, concurrency ${C}, ${rounds} rounds; median (min..max) ms, new/old`);
  for (const kind of Object.keys(kinds)) {
    const o = wall[`old ${kind}`] as number[];
    const w = wall[`new ${kind}`] as number[];
    const span = (a: number[]) =>
      `${med(a).toFixed(0)} (${sorted(a)[0]?.toFixed(0)}..${sorted(a).at(-1)?.toFixed(0)})`;
    console.log(
      `${kind.padEnd(9)} old ${span(o).padEnd(18)} new ${span(w).padEnd(18)} ${(med(w) / med(o)).toFixed(3)}`,
    );
  }
  lines.close();
  child.stdin.end();
  await Promise.all([OLD.closeDefaultAgent(), NEW.closeDefaultAgent()]);
}
