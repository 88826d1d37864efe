// getPage against hand-written servers on 127.0.0.1, for what a well-behaved server never does: close a kept-alive
// connection as the next request arrives, answer with something that is not HTTP, never answer at all.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import {
  BadResponseError,
  CancelledError,
  ConnectionLostError,
  DeferredSemaphore,
  type GetPageError,
  getPage,
} from 'async-batching';
import { Agent } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { failureOf } from '../../helpers/outcomes.ts';

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok';

interface RawServer {
  url: string;
  /** Requests received, in order, as `<connection #> <request line>`. */
  requests: string[];
  connections: number;
  /** Connections open now, as the server sees them. */
  open: number;
  close(): Promise<void>;
}

/**
 * A raw TCP server; `onRequest(socket, n, requestOnConnection)` is called for each request head (bodies are short and
 * arrive with it).
 */
async function rawServer(
  onRequest: (socket: Socket, requestOnConnection: number) => void,
): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { requests: [] as string[], connections: 0, open: 0 };
  const server: Server = createServer((socket) => {
    const n = ++state.connections;
    state.open++;
    sockets.add(socket);
    let count = 0;
    let buffered = '';
    socket.on('data', (data) => {
      buffered += data.toString('latin1');
      let end = buffered.indexOf('\r\n\r\n');
      while (end !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        buffered = buffered.slice(length);
        state.requests.push(`${n} ${head.split('\r\n')[0]}`);
        onRequest(socket, ++count);
        end = buffered.indexOf('\r\n\r\n');
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      state.open--;
      sockets.delete(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    get open() {
      return state.open;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function setUp(onRequest: (socket: Socket, requestOnConnection: number) => void) {
  const server = await rawServer(onRequest);
  const agent = new Agent({ connections: 1 });
  cleanup.push(
    () => server.close(),
    () => agent.destroy(),
  );
  return { server, agent };
}

/** Answers the first request on each connection, then closes the connection as the second one arrives. */
function closesKeptAliveConnections(socket: Socket, requestOnConnection: number): void {
  if (requestOnConnection === 1) socket.write(OK);
  else socket.destroy();
}

describe('getPage and a server that closes kept-alive connections', () => {
  it('an idempotent request whose kept-alive connection closed before any response is sent again, once, on a fresh connection', async () => {
    const { server, agent } = await setUp(closesKeptAliveConnections);
    expect(await getPage(server.url, { dispatcher: agent })).toBe('ok');
    expect(await getPage(server.url, { dispatcher: agent })).toBe('ok');
    expect(server.requests).toEqual(['1 GET / HTTP/1.1', '1 GET / HTTP/1.1', '2 GET / HTTP/1.1']);
  });

  it('a POST is not sent again: it fails with ConnectionLostError', async () => {
    const { server, agent } = await setUp(closesKeptAliveConnections);
    expect(await getPage(server.url, { dispatcher: agent })).toBe('ok');
    const error = await failureOf(getPage(server.url, { dispatcher: agent, method: 'POST', body: 'x' }));
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(server.requests).toEqual(['1 GET / HTTP/1.1', '1 POST / HTTP/1.1']);
  });

  it('a fresh connection closed before any response is not retried', async () => {
    const { server, agent } = await setUp((socket) => socket.destroy());
    const error = await failureOf(getPage(server.url, { dispatcher: agent }));
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(server.requests).toEqual(['1 GET / HTTP/1.1']);
  });
});

describe('getPage and a response that is not HTTP', () => {
  it.each([
    ['a status line that is not HTTP', 'HELLO THERE\r\n\r\n'],
    ['a bad header line', 'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n'],
    ['bad chunking', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n'],
  ])('%s fails with BadResponseError (AB_ERR_BAD_RESPONSE)', async (_, reply) => {
    const { server, agent } = await setUp((socket) => socket.write(reply));
    const error = (await failureOf(getPage(server.url, { dispatcher: agent }))) as GetPageError;
    expect(error).toBeInstanceOf(BadResponseError);
    expect(error.code).toBe('AB_ERR_BAD_RESPONSE');
    expect(error.url).toBe(server.url);
    expect((error.cause as Error).name).toBe('HTTPParserError');
  });
});

describe('the slot is free only once the socket is', () => {
  it('a cancelled request fails at once, but its chain goes on only once its socket has closed', async () => {
    const { server, agent } = await setUp(() => {});
    let disconnects = 0;
    agent.on('disconnect', () => disconnects++);
    const d = getPage(server.url, { dispatcher: agent });
    await vi.waitFor(() => expect(server.requests.length).toBe(1));
    let disconnectsWhenDelivered = -1;
    const delivered = d.addErrback((failure) => {
      disconnectsWhenDelivered = disconnects;
      return failure;
    });
    d.cancel();
    expect(d.called).toBe(true);
    expect(await failureOf(delivered)).toBeInstanceOf(CancelledError);
    expect(disconnectsWhenDelivered).toBe(1);
  });

  it('DeferredSemaphore(2) cancelling running getPage jobs never has more than 2 connections open', async () => {
    const { server } = await setUp(() => {});
    const agent = new Agent();
    cleanup.push(() => agent.destroy());
    let open = 0;
    let peak = 0;
    agent.on('connect', () => {
      open++;
      peak = Math.max(peak, open);
    });
    agent.on('disconnect', () => open--);
    const sem = new DeferredSemaphore(2);
    const started: number[] = [];
    const tickets = Array.from({ length: 8 }, (_, i) =>
      sem.run(() => {
        started.push(i);
        return getPage(server.url, { dispatcher: agent, timeout: 0 });
      }),
    );
    for (const t of tickets) t.addErrback(() => {});
    for (let i = 0; i < 6; i++) {
      // Cancel the oldest running job as soon as its request reached the server.
      await vi.waitFor(() => expect(server.requests.length).toBeGreaterThanOrEqual(i + 2));
      tickets[started[i]].cancel();
    }
    await vi.waitFor(() => expect(server.requests.length).toBe(8));
    expect(peak).toBe(2);
    for (const t of tickets) t.cancel();
  });
});
