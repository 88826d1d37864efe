import { spawn } from 'node:child_process';
import { Agent as HttpAgent } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { closeDefaultAgent, DEFAULT_CONNECTIONS, getPage } from 'async-batching';
import axios from 'axios';
import got from 'got';
import { Agent, request } from 'undici';
import {
  bareWorkers,
  type Comparison,
  interleave,
  range,
  ratio,
  rowNamed,
  times,
  type Variant,
} from '../harness.ts';

export interface HttpParams {
  count: number;
  concurrency: number;
  /** Requests per client before measuring: opens the connections and warms the JIT. */
  warmupCount: number;
  rounds: number;
  bytes: number;
}

export const HTTP_FULL: HttpParams = {
  count: 20_000,
  concurrency: 50,
  warmupCount: 2_000,
  rounds: 7,
  bytes: 2048,
};
export const HTTP_QUICK: HttpParams = {
  count: 3_000,
  concurrency: 50,
  warmupCount: 1_000,
  rounds: 3,
  bytes: 2048,
};

const SERVER = fileURLToPath(new URL('../http-server.ts', import.meta.url));

interface Server {
  url: string;
  close: () => void;
}

async function startServer(bytes: number): Promise<Server> {
  const child = spawn(process.execPath, [SERVER, String(bytes)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the benchmark server exited early with code ${code}`)));
    lines.once('line', resolve);
  });
  return {
    url,
    close: () => {
      lines.close();
      child.stdin.end();
    },
  };
}

/** Comparison 5: GETs of a small page over loopback keep-alive connections, with the same driver for every client. */
export async function httpComparison(p: HttpParams): Promise<Comparison> {
  const server = await startServer(p.bytes);
  const { url } = server;
  const undiciAgent = new Agent({ connections: DEFAULT_CONNECTIONS });
  const nodeAgent = new HttpAgent({ keepAlive: true, maxSockets: DEFAULT_CONNECTIONS });
  const gotClient = got.extend({ agent: { http: nodeAgent } });
  const axiosClient = axios.create({ httpAgent: nodeAgent, responseType: 'text' });
  const expectSize = (text: string) => {
    if (text.length !== p.bytes) throw new Error(`expected ${p.bytes} characters, got ${text.length}`);
  };
  const clients: { name: string; ours: boolean; how: string; get: () => Promise<void> }[] = [
    {
      name: 'getPage',
      ours: true,
      how: 'await getPage(url), shared keep-alive Agent',
      get: async () => expectSize(await getPage(url)),
    },
    {
      name: 'undici request',
      ours: false,
      how: `request(url, { dispatcher }) + body.text(), Agent of ${DEFAULT_CONNECTIONS} connections`,
      get: async () => {
        const { body } = await request(url, { dispatcher: undiciAgent });
        expectSize(await body.text());
      },
    },
    {
      name: 'fetch',
      ours: false,
      how: "global fetch(url) + res.text() (Node's bundled undici)",
      get: async () => {
        const res = await fetch(url);
        expectSize(await res.text());
      },
    },
    {
      name: 'got',
      ours: false,
      how: 'got(url).text() with a keep-alive http.Agent',
      get: async () => expectSize(await gotClient(url).text()),
    },
    {
      name: 'axios',
      ours: false,
      how: 'axios.get(url) with a keep-alive http.Agent, text response',
      get: async () => {
        const res = await axiosClient.get<string>(url);
        expectSize(res.data);
      },
    },
  ];
  const batch = (get: () => Promise<void>, count: number) => bareWorkers(range(count), p.concurrency, get);
  try {
    for (const c of clients) await batch(c.get, p.warmupCount);
    const variants: Variant[] = clients.map((c) => ({ ...c, run: () => batch(c.get, p.count) }));
    const rows = await interleave(variants, { warmup: 0, rounds: p.rounds, items: p.count });
    const vsUndici = 1 / ratio(rows, 'getPage', 'undici request');
    const vsFetch = ratio(rows, 'fetch', 'getPage');
    const cpu = (name: string) => rowNamed(rows, name).cpuMicrosPerItem ?? Number.NaN;
    const cpuList = rows.map((r) => `${r.name} ${cpu(r.name).toFixed(1)} µs`).join(', ');
    return {
      id: 'http',
      title: 'HTTP GET',
      workload:
        `${p.count.toLocaleString('en-US')} GETs of a ${p.bytes}-byte page, concurrency ${p.concurrency}, ` +
        'node:http keep-alive server in another process on 127.0.0.1',
      unit: 'ms',
      baseline: 'getPage',
      rows,
      targets: [
        {
          text: ">= 0.85x bare undici request's requests per second",
          holds: vsUndici >= 0.85,
          actual: times(vsUndici),
        },
        { text: ">= 2x fetch's requests per second", holds: vsFetch >= 2, actual: times(vsFetch) },
      ],
      notes: [
        `Client CPU per request (this process only; the server runs in another): ${cpuList}. On 2 cores shared by ` +
          "client, server and whatever else runs, the client's CPU cost decides much of the throughput. By " +
          `CPU, getPage is ${times(cpu('undici request') / cpu('getPage'))} bare undici and ` +
          `${times(cpu('fetch') / cpu('getPage'))} fetch.`,
      ],
    };
  } finally {
    server.close();
    nodeAgent.destroy();
    await Promise.all([undiciAgent.close(), closeDefaultAgent()]);
  }
}
