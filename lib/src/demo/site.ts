import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { checkMs, checkNonEmptyString, checkObject, checkWhole, describe } from '../core/args.js';
import { escapeHtml, fillBytes, indexHtml, NOT_FOUND_HTML, pageHtml, unitHash } from './content.js';
import { ResponseTimers, startDemoServer } from './server.js';

/** Options of {@link startDemoSite}. */
export interface DemoSiteOptions {
  /** The port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** The address to listen on; `127.0.0.1` by default. */
  host?: string;
  /**
   * Milliseconds added before every response, to make a loopback server feel like a distant one. Default 0. A range
   * `{ min, max }` gives each path its own delay in that range, a hash of the path (see {@link DemoSite.latencyOf}):
   * mixed delays, the same on every run.
   */
  latency?: number | DemoLatencyRange;
}

/** A range of delays for {@link DemoSiteOptions.latency}, in milliseconds. */
export interface DemoLatencyRange {
  /** The shortest delay, in milliseconds. */
  min: number;
  /** The longest delay, in milliseconds. */
  max: number;
}

/** Counters of a {@link DemoSite}, as {@link DemoSite.stats} returns them. */
export interface DemoStats {
  /** Requests received since the start (or the last `resetStats()`). */
  requests: number;
  /** Requests received whose response has not finished yet. */
  inFlight: number;
  /** The largest `inFlight` seen. */
  maxInFlight: number;
  /** Client sockets open now. */
  connections: number;
  /** The largest `connections` seen. */
  maxConnections: number;
}

/** A running demo site. */
export interface DemoSite {
  /** The base URL, ending with `/`, e.g. `http://127.0.0.1:43117/`. */
  readonly url: string;
  /** The URL of `/page/<name>` (the name is percent-encoded). */
  pageUrl(name: string): string;
  /** The milliseconds the site waits before answering a request for `path` (without any `?delay=`). */
  latencyOf(path: string): number;
  /** A snapshot of the counters. */
  stats(): DemoStats;
  /** Sets `requests` to 0 and the peaks to the current values. */
  resetStats(): void;
  /** Stops listening, closes every socket (hanging, streaming and idle keep-alive ones) and clears every timer. */
  close(): Promise<void>;
}

/** The largest `/bytes/<n>` the site serves. */
export const MAX_BYTES = 64 * 1024 * 1024;
/** The longest `/slow/<ms>` the site serves. */
export const MAX_SLOW_MS = 60_000;
/** The most hops `/redirect/<n>` makes. */
export const MAX_REDIRECTS = 100;

const CHUNK_SIZE = 64 * 1024;
// The byte pattern repeats every 256 bytes, so every full chunk starting at a multiple of CHUNK_SIZE is the same.
const FULL_CHUNK = fillBytes(new Uint8Array(CHUNK_SIZE), 0);

function wholeNumberIn(text: string, max: number): number | undefined {
  if (!/^\d{1,9}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

function checkLatency(latency: unknown, name: string): number {
  return checkMs(latency, name);
}

/** The delay for each path: a constant, or a point in the range picked by a hash of the path. */
function latencyFunction(latency: unknown): (path: string) => number {
  if (typeof latency !== 'object' || latency === null) {
    const ms = checkLatency(latency, 'latency');
    return () => ms;
  }
  const { min, max } = latency as Partial<DemoLatencyRange>;
  checkLatency(min, 'latency.min');
  checkLatency(max, 'latency.max');
  if ((max as number) < (min as number)) {
    throw new RangeError(`Expected \`latency.max\` to be >= \`latency.min\` (${min}), got ${max}`);
  }
  const low = min as number;
  const width = (max as number) - low;
  return (path) => low + Math.round(unitHash(path) * width * 10) / 10;
}

function checkOptions(options: DemoSiteOptions): {
  port: number;
  host: string;
  latencyOf: (path: string) => number;
} {
  checkObject(options, 'options');
  const { port = 0, host = '127.0.0.1', latency = 0 } = options;
  if (checkWhole(port, 'port', 0) > 65535) {
    throw new RangeError(`Expected \`port\` to be a whole number from 0 to 65535, got ${describe(port)}`);
  }
  checkNonEmptyString(host, 'host');
  return { port, host, latencyOf: latencyFunction(latency) };
}

/**
 * Starts the demo site: a real `node:http` server (keep-alive, by default on 127.0.0.1 and a free port) whose
 * answers depend only on the path, so notebooks and tests get the same output on every run without the internet.
 *
 * Routes:
 * - `/` — an HTML index linking to a few pages.
 * - `/page/<name>` — an HTML page titled after `<name>` (`my-page` → `My Page`), 2–8 KB, its size, text and links
 *   to other pages a hash of the name.
 * - `/status/<code>` — that status (200–599), its reason phrase as the body.
 * - `/slow/<ms>` — answers after `<ms>` milliseconds (at most 60000).
 * - `/redirect/<n>` — `n` hops of `302` with relative `Location`s, ending at `/page/redirected` (n at most 100).
 * - `/bytes/<n>` — `n` bytes of a fixed pattern (`byte i = (31 i + 7) mod 256`) as `application/octet-stream`,
 *   streamed in 64 KiB chunks (n at most 64 MiB).
 * - `/hang` — never answers; the socket stays open until the client gives up or the site closes.
 * - `/reset` — resets the connection (TCP RST) without answering.
 * - anything else — `404` with Twisted's "No Such Resource" page. Out-of-range numbers get `400`.
 *
 * Any route takes `?delay=<ms>` (at most 60000), added to the site's latency: the same page can be made slow.
 *
 @remarks
 * ```ts
 * import { exampleUrls, startDemoSite } from 'async-batching/demo';
 *
 * const site = await startDemoSite({ latency: 50 }); // 127.0.0.1, a free port
 * const urls = exampleUrls(site); // { pages, notFound, unresolvable }
 * console.log(site.stats()); // { requests, inFlight, maxInFlight, connections, maxConnections }
 * await site.close(); // closes every socket; resolves when the port is free
 * ```
 *
 * A real `node:http` server with deterministic content: `/` an index; `/page/<name>` an HTML page whose title, size and
 * links to one to five other pages depend only on the name; `/status/<code>`; `/slow/<ms>`; `/redirect/<n>`;
 * `/bytes/<n>`; `/hang` (never answers); `/reset` (destroys the socket). Any route takes `?delay=<ms>`. `latency` delays
 * every answer: a number, or `{ min, max }` for a delay per path picked by a hash of the path — mixed, and the same on
 * every run (`site.latencyOf(path)` says which). `site.pageUrl(name)`, `site.resetStats()`.
 * `exampleUrls(site)` gives the URLs the notebooks use: demo pages, a 404 and `http://nothing.invalid/`. With
 * `ASYNC_BATCHING_LIVE=1` the pages are real web sites and the 404 a real one, while the unresolvable host stays under
 * `.invalid` (reserved by RFC 6761), so offline and live runs fail the same way.
 */
export async function startDemoSite(options: DemoSiteOptions = {}): Promise<DemoSite> {
  const { port, host, latencyOf } = checkOptions(options);
  const stats: DemoStats = { requests: 0, inFlight: 0, maxInFlight: 0, connections: 0, maxConnections: 0 };

  const timers = new ResponseTimers();
  const later = timers.later;

  const send = (res: ServerResponse, status: number, type: string, body: string): void => {
    const bytes = Buffer.from(body, 'utf8');
    const noBody = status === 204 || status === 304;
    res.writeHead(status, noBody ? {} : { 'content-type': type, 'content-length': bytes.length });
    res.end(noBody ? undefined : bytes);
  };
  const badRequest = (res: ServerResponse, why: string) =>
    send(res, 400, 'text/plain; charset=utf-8', `${why}\n`);
  const notFound = (res: ServerResponse) => send(res, 404, 'text/html; charset=utf-8', NOT_FOUND_HTML);

  const streamBytes = (res: ServerResponse, n: number): void => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    let sent = 0;
    const pump = (): void => {
      while (sent < n) {
        if (res.destroyed) return;
        const size = Math.min(CHUNK_SIZE, n - sent);
        const chunk = size === CHUNK_SIZE ? FULL_CHUNK : FULL_CHUNK.subarray(0, size);
        sent += size;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  };

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://demo.invalid').pathname);
    } catch {
      badRequest(res, 'The path is not valid percent-encoded UTF-8');
      return;
    }
    if (path === '/') {
      send(res, 200, 'text/html; charset=utf-8', indexHtml());
      return;
    }
    const slash = path.indexOf('/', 1);
    const head = slash === -1 ? path.slice(1) : path.slice(1, slash);
    const arg = slash === -1 ? undefined : path.slice(slash + 1);
    if (arg === undefined) {
      if (head === 'hang') return;
      if (head === 'reset') {
        req.socket.resetAndDestroy();
        return;
      }
      notFound(res);
      return;
    }
    switch (head) {
      case 'page': {
        if (arg.length === 0) break;
        send(res, 200, 'text/html; charset=utf-8', pageHtml(arg));
        return;
      }
      case 'status': {
        if (!/^\d{3}$/.test(arg)) break;
        const code = Number(arg);
        if (code < 200 || code > 599) {
          badRequest(res, `Status ${code} is not between 200 and 599`);
          return;
        }
        send(res, code, 'text/plain; charset=utf-8', STATUS_CODES[code] ?? 'Unknown Status');
        return;
      }
      case 'slow': {
        if (!/^\d+$/.test(arg)) break;
        const ms = wholeNumberIn(arg, MAX_SLOW_MS);
        if (ms === undefined) {
          badRequest(res, `At most ${MAX_SLOW_MS} ms, please`);
          return;
        }
        later(ms, res, () => send(res, 200, 'text/plain; charset=utf-8', `Answered after ${ms} ms\n`));
        return;
      }
      case 'redirect': {
        if (!/^\d+$/.test(arg)) break;
        const n = wholeNumberIn(arg, MAX_REDIRECTS);
        if (n === undefined) {
          badRequest(res, `At most ${MAX_REDIRECTS} redirects, please`);
          return;
        }
        if (n === 0) {
          send(res, 200, 'text/html; charset=utf-8', pageHtml('redirected'));
          return;
        }
        const location = n === 1 ? '../page/redirected' : `./${n - 1}`;
        res.writeHead(302, { location, 'content-type': 'text/html; charset=utf-8' });
        res.end(`<a href="${escapeHtml(location)}">Found</a>\n`);
        return;
      }
      case 'bytes': {
        if (!/^\d+$/.test(arg)) break;
        const n = wholeNumberIn(arg, MAX_BYTES);
        if (n === undefined) {
          badRequest(res, `At most ${MAX_BYTES} bytes, please`);
          return;
        }
        streamBytes(res, n);
        return;
      }
    }
    notFound(res);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    stats.requests++;
    stats.inFlight++;
    if (stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
    res.once('close', () => {
      stats.inFlight--;
    });
    const target = new URL(req.url ?? '/', 'http://demo.invalid');
    const delay = target.searchParams.get('delay');
    const extra = delay === null ? 0 : wholeNumberIn(delay, MAX_SLOW_MS);
    if (extra === undefined) {
      badRequest(res, `Expected ?delay= to be a whole number of ms up to ${MAX_SLOW_MS}`);
      return;
    }
    const wait = latencyOf(target.pathname) + extra;
    later(wait, res, () => route(req, res));
  };
  const server = await startDemoServer(handler, {
    port,
    host,
    timers,
    onConnection(socket) {
      stats.connections++;
      if (stats.connections > stats.maxConnections) stats.maxConnections = stats.connections;
      socket.once('close', () => {
        stats.connections--;
      });
    },
  });
  const url = server.url;

  return {
    url,
    pageUrl(name: string): string {
      checkNonEmptyString(name, 'name');
      return `${url}page/${encodeURIComponent(name)}`;
    },
    latencyOf(path: string): number {
      if (typeof path !== 'string')
        throw new TypeError(`Expected \`path\` to be a string, got ${describe(path)}`);
      return latencyOf(path);
    },
    stats(): DemoStats {
      return { ...stats };
    },
    resetStats(): void {
      stats.requests = 0;
      stats.maxInFlight = stats.inFlight;
      stats.maxConnections = stats.connections;
    },
    close: () => server.close(),
  };
}
