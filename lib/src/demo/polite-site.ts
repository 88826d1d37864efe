import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkMs, checkObject, checkWhole } from '../core/args.js';
import { pageHtml } from './content.js';
import { ResponseTimers, startDemoServer } from './server.js';

/** One virtual host of the {@link startPoliteSite}: its own latency. */
export interface VirtualHostOptions {
  /** Milliseconds before each of its answers. Default 0. */
  latency?: number;
}

/** Options of {@link startPoliteSite}. */
export interface PoliteSiteOptions {
  /** The port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** The address to listen on; `127.0.0.1` by default. */
  host?: string;
  /** The limit of the `/limited/...` routes: at most `max` answers in any `per` ms, then `429`. Default 10 per 1000. */
  limit?: {
    /** Answers allowed in any window. */
    max: number;
    /** The window, in milliseconds. */
    per: number;
  };
  /** The virtual hosts of `/host/<name>/...`, by name. Default: none. */
  hosts?: Record<string, VirtualHostOptions>;
  /** Milliseconds before answering `GET /item/<id>`. Default 0. */
  itemLatency?: number;
  /** Milliseconds before answering `POST /bulk`, whatever the number of ids. Default 0. */
  bulkLatency?: number;
}

/** Counters of one virtual host. */
export interface VirtualHostStats {
  /** Requests the host received. */
  requests: number;
  /** Requests being answered now. */
  inFlight: number;
  /** The most requests it answered at once. */
  maxInFlight: number;
}

/** Counters of a {@link PoliteSite}. */
export interface PoliteSiteStats {
  /** Requests received. */
  requests: number;
  /** The `/limited/...` routes: answered, refused with `429`, and when each answer was given (ms since start or reset). */
  limited: {
    /** Requests answered. */
    accepted: number;
    /** Requests refused with `429`. */
    rejected: number;
    /** When each answer was given, in ms since the site started or its stats were reset. */
    acceptedAt: number[];
  };
  /** Per virtual host. */
  hosts: Record<string, VirtualHostStats>;
  /** `POST /bulk` calls, ids asked for in them, and `GET /item/<id>` calls. */
  bulk: {
    /** `POST /bulk` calls. */
    calls: number;
    /** Ids asked for in those calls, in all. */
    ids: number;
    /** `GET /item/<id>` calls. */
    items: number;
  };
}

/** A running polite-crawling demo site. */
export interface PoliteSite {
  /** The base URL, ending with `/`. */
  readonly url: string;
  /** `/limited/<form>/<name>`: a page behind the rate limit; its `429`s give `Retry-After` in seconds or as a date. */
  limitedUrl(name: string, form?: 'seconds' | 'date'): string;
  /** `/host/<host>/<name>`: a page of a virtual host. */
  hostUrl(host: string, name: string): string;
  /** `/item/<id>`: one item as JSON. */
  itemUrl(id: string | number): string;
  /** `/bulk`: `POST` a JSON array of ids, get a JSON array of items in the same order. */
  readonly bulkUrl: string;
  /** A snapshot of the counters. */
  stats(): PoliteSiteStats;
  /** Zeroes the counters (peaks become the current values), empties the rate window and restarts its time. */
  resetStats(): void;
  /** Stops listening and closes every socket and timer. */
  close(): Promise<void>;
}

/** The JSON an item is: the same for an id every time. */
export function demoItem(id: string): {
  /** The id asked for. */
  id: string;
  /** The item's value: `ITEM <ID>`. */
  value: string;
} {
  return { id, value: `item ${id}`.toUpperCase() };
}

/**
 * Starts a second demo site, for the polite-crawling notebooks: a real `node:http` server (on 127.0.0.1 and a free
 * port by default) whose answers depend only on the path and on how fast it is asked.
 *
 * Routes:
 * - `/limited/seconds/<name>`, `/limited/date/<name>` — the page `<name>`, unless `limit.max` answers were given in
 *   the last `limit.per` ms: then `429` with `Retry-After` in whole seconds (rounded up), or as an HTTP date.
 * - `/host/<host>/<name>` — the page `<name>`, after that virtual host's latency; its in-flight counter shows how many
 *   requests it serves at once. An unknown host is `404`.
 * - `GET /item/<id>` — `{ "id", "value" }` as JSON, after `itemLatency`.
 * - `POST /bulk` — a JSON array of ids in, the array of their items out (same order), after `bulkLatency`.
 *
 @remarks
 * **`startPoliteSite(options)`** (from `async-batching/demo`) — the second offline site the notebooks 10 and 11 use:
 * `/limited/seconds/<name>` and `/limited/date/<name>` answer `limit.max` requests per `limit.per` ms (default 10 per
 * second), then `429` with `Retry-After` in whole seconds or as an HTTP date; `/host/<name>/<page>` serves the virtual hosts
 * given in `hosts: { name: { latency } }`, each with its own `requests`, `inFlight`, `maxInFlight`; `GET /item/<id>` and
 * `POST /bulk` (a JSON array of ids in, their items out) after `itemLatency` / `bulkLatency`. `site.stats()` has the
 * counters (and when each limited answer was given), `site.resetStats()` zeroes them.
 */
export async function startPoliteSite(options: PoliteSiteOptions = {}): Promise<PoliteSite> {
  checkObject(options, 'options');
  const { port = 0, host = '127.0.0.1', limit = { max: 10, per: 1000 }, hosts = {} } = options;
  const itemLatency = checkMs(options.itemLatency ?? 0, 'itemLatency');
  const bulkLatency = checkMs(options.bulkLatency ?? 0, 'bulkLatency');
  checkWhole(limit.max, 'limit.max', 1);
  checkMs(limit.per, 'limit.per');
  const latencies = new Map<string, number>();
  for (const [name, h] of Object.entries(hosts))
    latencies.set(name, checkMs(h.latency ?? 0, `hosts.${name}.latency`));

  let t0 = performance.now();
  let requests = 0;
  const limited = { accepted: 0, rejected: 0, acceptedAt: [] as number[] };
  /** Times of the answers given in the current window (a sliding log, as long as `limit.max`). */
  let log: number[] = [];
  const hostStats = new Map<string, VirtualHostStats>();
  for (const name of latencies.keys()) hostStats.set(name, { requests: 0, inFlight: 0, maxInFlight: 0 });
  const bulk = { calls: 0, ids: 0, items: 0 };

  const timers = new ResponseTimers();
  const later = timers.later;
  const send = (res: ServerResponse, status: number, type: string, body: string, headers = {}): void => {
    if (res.destroyed) return;
    const bytes = Buffer.from(body, 'utf8');
    res.writeHead(status, { 'content-type': type, 'content-length': bytes.length, ...headers });
    res.end(bytes);
  };
  const text = (res: ServerResponse, status: number, body: string, headers = {}) =>
    send(res, status, 'text/plain; charset=utf-8', `${body}\n`, headers);
  const json = (res: ServerResponse, value: unknown) =>
    send(res, 200, 'application/json', JSON.stringify(value));

  const limitedRoute = (res: ServerResponse, form: string, name: string): void => {
    const now = performance.now() - t0;
    while (log.length > 0 && (log[0] as number) <= now - limit.per) log.shift();
    if (log.length >= limit.max) {
      limited.rejected++;
      const waitMs = (log[0] as number) + limit.per - now;
      const retryAfter =
        form === 'date'
          ? new Date(Math.ceil((Date.now() + waitMs) / 1000) * 1000).toUTCString()
          : String(Math.max(1, Math.ceil(waitMs / 1000)));
      text(res, 429, 'Too Many Requests', { 'retry-after': retryAfter });
      return;
    }
    log.push(now);
    limited.accepted++;
    limited.acceptedAt.push(Math.round(now));
    send(res, 200, 'text/html; charset=utf-8', pageHtml(name));
  };

  const route = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    let parts: string[];
    try {
      parts = new URL(req.url ?? '/', 'http://demo.invalid').pathname
        .split('/')
        .slice(1)
        .map(decodeURIComponent);
    } catch {
      text(res, 400, 'The path is not valid percent-encoded UTF-8');
      return;
    }
    const [head, a, b] = parts;
    if (req.method === 'POST' && head === 'bulk' && parts.length === 1) {
      let ids: unknown;
      try {
        ids = JSON.parse(body);
      } catch {
        ids = null;
      }
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' || typeof id === 'number')) {
        text(res, 400, 'Expected a JSON array of ids (strings or numbers)');
        return;
      }
      bulk.calls++;
      bulk.ids += ids.length;
      later(bulkLatency, res, () =>
        json(
          res,
          ids.map((id) => demoItem(String(id))),
        ),
      );
      return;
    }
    if (req.method !== 'GET') {
      text(res, 405, 'Method Not Allowed');
      return;
    }
    if (head === 'limited' && (a === 'seconds' || a === 'date') && b !== undefined && parts.length === 3) {
      limitedRoute(res, a, b);
      return;
    }
    if (head === 'item' && a !== undefined && a.length > 0 && parts.length === 2) {
      bulk.items++;
      later(itemLatency, res, () => json(res, demoItem(a)));
      return;
    }
    if (head === 'host' && a !== undefined && b !== undefined && parts.length === 3) {
      const s = hostStats.get(a);
      const latency = latencies.get(a);
      if (s === undefined || latency === undefined) {
        text(res, 404, `No virtual host ${a}`);
        return;
      }
      s.requests++;
      s.inFlight++;
      if (s.inFlight > s.maxInFlight) s.maxInFlight = s.inFlight;
      res.once('close', () => {
        s.inFlight--;
      });
      later(latency, res, () => send(res, 200, 'text/html; charset=utf-8', pageHtml(b)));
      return;
    }
    text(res, 404, 'No Such Resource');
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => route(req, res, Buffer.concat(chunks).toString('utf8')));
  };
  const server = await startDemoServer(handler, { port, host, timers });
  const url = server.url;

  return {
    url,
    bulkUrl: `${url}bulk`,
    limitedUrl: (name, form = 'seconds') => `${url}limited/${form}/${encodeURIComponent(name)}`,
    hostUrl: (h, name) => `${url}host/${encodeURIComponent(h)}/${encodeURIComponent(name)}`,
    itemUrl: (id) => `${url}item/${encodeURIComponent(String(id))}`,
    stats(): PoliteSiteStats {
      const hostsOut: Record<string, VirtualHostStats> = {};
      for (const [name, s] of hostStats) hostsOut[name] = { ...s };
      return {
        requests,
        limited: { ...limited, acceptedAt: [...limited.acceptedAt] },
        hosts: hostsOut,
        bulk: { ...bulk },
      };
    },
    resetStats(): void {
      requests = 0;
      limited.accepted = 0;
      limited.rejected = 0;
      limited.acceptedAt = [];
      log = [];
      t0 = performance.now();
      for (const s of hostStats.values()) {
        s.requests = 0;
        s.maxInFlight = s.inFlight;
      }
      bulk.calls = 0;
      bulk.ids = 0;
      bulk.items = 0;
    },
    close: () => server.close(),
  };
}
