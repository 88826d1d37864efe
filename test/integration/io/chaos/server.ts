/**
 * The chaos server: an HTTP server on 127.0.0.1 that misbehaves per request, following {@link planFor} — so what it
 * does to `/item/<id>` depends only on the seed and the id, never on arrival order.
 *
 * Run by the chaos tests with `child_process.fork` (so the client's event loop never competes with the server's
 * inside one process); by hand: `node test/integration/io/chaos/server.ts [--seed N] [--port N]`. Besides `/item/<id>`, it serves
 * `/hang/<id>` (never answers) and `/stale/<id>` (answers, then closes the kept-alive connection 1 ms later). It prints
 * `chaos server listening on 127.0.0.1:<port>`, and under fork also sends `{ type: 'ready', port }`. Over IPC it
 * answers `{ type: 'stats' }` with its counters and `{ type: 'reset' }` by zeroing them.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { bodyFor, DEFAULT_SEED, OVERSIZE_BYTES, planFor } from './plan.ts';

/** The counters the server reports over IPC. */
export interface ChaosStats {
  /** Requests received (each redirect hop counts). */
  requests: number;
  /** Requests whose response is not finished and whose socket the client has not closed. */
  active: number;
  /** The largest `active` seen. */
  peakActive: number;
  /** Client sockets open now, as the server sees them. */
  sockets: number;
  /** The largest `sockets` seen. */
  peakSockets: number;
  /** Sockets accepted in all. */
  totalSockets: number;
  /** Sockets the client closed (EOF or reset) before the server closed them. */
  closedByClient: number;
  /** Items whose response had not finished when the client went away, in the order that happened. */
  abortedIds: number[];
  /** Items whose first request arrived, in arrival order (redirect hops are not repeated). */
  seenIds: number[];
  /** Items with a request in progress now. */
  activeIds: number[];
}

type Counters = Omit<ChaosStats, 'activeIds'>;

const { values } = parseArgs({
  options: { seed: { type: 'string' }, port: { type: 'string', default: '0' } },
});
const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
const port = Number(values.port);

// The most a stalled request is held, so a client that never gives up cannot keep the server alive forever.
const STALL_CAP_MS = 30_000;
const TRICKLE_CHUNKS = 4;
const TRICKLE_GAP_MS = 15;

let stats: Counters = fresh();
const activeIds = new Map<ServerResponse, number>();
function fresh(): Counters {
  return {
    requests: 0,
    active: 0,
    peakActive: 0,
    sockets: 0,
    peakSockets: 0,
    totalSockets: 0,
    closedByClient: 0,
    abortedIds: [],
    seenIds: [],
  };
}

/** Open sockets, each with the function that counts it out. */
const openSockets = new Map<Socket, (byClient: boolean) => void>();
// The request a socket is serving now (undici does not pipeline by default, so there is at most one).
const current = new WeakMap<Socket, (aborted: boolean) => void>();
const serverClosing = new WeakSet<Socket>();

function destroyFromServer(socket: Socket, reset: boolean): void {
  serverClosing.add(socket);
  if (reset) socket.resetAndDestroy();
  else socket.destroy();
}

const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 });

server.on('connection', (socket: Socket) => {
  // A socket reset by the client is destroyed at once, but says so ('error', 'close') only in a later loop phase, after
  // this new connection may have been accepted: count those out first, so the peak is of sockets truly open together.
  for (const [s, leave] of openSockets) if (s.destroyed) leave(!serverClosing.has(s));
  stats.totalSockets++;
  stats.sockets++;
  // The client closes a socket before it opens the one that replaces it, so that close is already in this process's
  // kernel buffers, but the poll phase may hand it over after this accept. Take the peak once this phase is over
  // (setImmediate runs right after it), when every close that happened before this connect has been read.
  setImmediate(() => {
    stats.peakSockets = Math.max(stats.peakSockets, stats.sockets);
  });
  let gone = false;
  // Counted on 'end'/'error' (emitted as soon as the EOF or reset is read), not 'close' (a later loop phase), so a
  // socket the client dropped is never still counted when the client's next request arrives.
  const leave = (byClient: boolean) => {
    current.get(socket)?.(true);
    if (gone) return;
    gone = true;
    openSockets.delete(socket);
    stats.sockets--;
    if (byClient && !serverClosing.has(socket)) stats.closedByClient++;
  };
  openSockets.set(socket, leave);
  socket.on('end', () => leave(true));
  socket.on('error', () => leave(true));
  socket.on('close', () => leave(!serverClosing.has(socket)));
});

server.on('request', (req: IncomingMessage, res: ServerResponse) => {
  stats.requests++;
  stats.peakActive = Math.max(stats.peakActive, ++stats.active);
  const socket = req.socket;
  const fixed = /^\/(hang|stale)\/(\d+)$/.exec(req.url ?? '');
  const match = /^\/item\/(\d+)(?:\/loop\/(\d+))?$/.exec(req.url ?? '');
  const id = match ? Number(match[1]) : fixed ? Number(fixed[2]) : -1;
  activeIds.set(res, id);
  if (match?.[2] === undefined) stats.seenIds.push(id);
  const timers: NodeJS.Timeout[] = [];
  let done = false;
  const finish = (aborted: boolean) => {
    if (done) return;
    done = true;
    stats.active--;
    activeIds.delete(res);
    for (const t of timers) clearTimeout(t);
    if (current.get(socket) === finish) current.delete(socket);
    if (aborted && !serverClosing.has(socket)) stats.abortedIds.push(id);
  };
  current.set(socket, finish);
  res.on('finish', () => finish(false));
  res.on('close', () => finish(!res.writableFinished));
  res.on('error', () => finish(true));

  if (id < 0) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('expected /item/<id>\n');
    return;
  }
  if (fixed?.[1] === 'hang') {
    // Never answer; the client must give up.
    timers.push(setTimeout(() => destroyFromServer(socket, false), STALL_CAP_MS));
    return;
  }
  if (fixed?.[1] === 'stale') {
    // Keep-alive as far as the client can tell (no Connection: close), but close the connection 1 ms after the
    // response, as servers with a short idle timeout do: the client's next request may be on its way by then.
    res.writeHead(200, { 'content-type': 'text/plain' }).end(bodyFor(id), () => {
      setTimeout(() => destroyFromServer(socket, false), 1);
    });
    return;
  }
  const { behaviour, variant } = planFor(seed, id);
  const text = { 'content-type': 'text/plain; charset=utf-8' };
  switch (behaviour) {
    case 'ok':
      res.writeHead(200, text).end(bodyFor(id));
      return;
    case 'notFound':
      res.writeHead(404, text).end(`no item ${id}\n`);
      return;
    case 'serverError':
      res.writeHead(500, text).end('boom\n');
      return;
    case 'unavailable':
      res.writeHead(503, { ...text, 'retry-after': '1' }).end('try later\n');
      return;
    case 'reset': {
      res.writeHead(200, { ...text, 'content-length': '4096' });
      res.write('x'.repeat(512), () => {
        // Let the first part reach the client, so the failure is truly mid-body.
        timers.push(setTimeout(() => destroyFromServer(socket, variant), 2));
      });
      return;
    }
    case 'stall':
      // Say nothing; the client's timeout must end this.
      timers.push(setTimeout(() => destroyFromServer(socket, false), STALL_CAP_MS));
      return;
    case 'trickle': {
      const body = bodyFor(id);
      res.writeHead(200, { ...text, 'content-length': String(Buffer.byteLength(body)) });
      const size = Math.ceil(body.length / TRICKLE_CHUNKS);
      // Each part is scheduled after the previous one is written: timers of different delays that fall due in the
      // same turn do not always fire in order of their delays.
      const send = (i: number) => {
        const part = body.slice(i * size, (i + 1) * size);
        if (i === TRICKLE_CHUNKS - 1) {
          res.end(part);
          return;
        }
        res.write(part);
        timers.push(setTimeout(send, TRICKLE_GAP_MS, i + 1));
      };
      timers.push(setTimeout(send, TRICKLE_GAP_MS, 0));
      return;
    }
    case 'oversize': {
      res.writeHead(200, variant ? text : { ...text, 'content-length': String(OVERSIZE_BYTES) });
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      let sent = 0;
      // Written with back-pressure, so a client that stops reading leaves nothing queued here.
      const pump = () => {
        while (sent < OVERSIZE_BYTES && !res.destroyed) {
          sent += chunk.length;
          if (sent >= OVERSIZE_BYTES) {
            res.end(chunk);
            return;
          }
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
      return;
    }
    case 'redirectLoop': {
      const hop = match?.[2] === undefined ? 1 : Number(match[2]) + 1;
      res.writeHead(302, { location: `/item/${id}/loop/${hop}` }).end();
      return;
    }
    case 'redirectFile':
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      return;
  }
});

function shutdown(): void {
  server.close();
  for (const s of openSockets.keys()) destroyFromServer(s, false);
  process.exit(0);
}

process.on('message', (message: { type?: string }) => {
  if (message.type === 'stats')
    process.send?.({ type: 'stats', stats: { ...stats, activeIds: [...activeIds.values()] } });
  else if (message.type === 'reset') {
    // Keep the live counts, so `active` and `sockets` stay true; zero everything that accumulates.
    stats = { ...fresh(), active: stats.active, sockets: stats.sockets };
    stats.peakActive = stats.active;
    stats.peakSockets = stats.sockets;
    process.send?.({ type: 'reset' });
  } else if (message.type === 'close') shutdown();
});
// Under fork, dying with the parent: a test run that crashes must not leave a server behind.
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);

server.listen(port, '127.0.0.1', () => {
  const actual = (server.address() as AddressInfo).port;
  process.stdout.write(`chaos server listening on 127.0.0.1:${actual} (seed ${seed})\n`);
  process.send?.({ type: 'ready', port: actual });
});
