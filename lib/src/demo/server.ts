// The one server base of the demo sites (site.ts, polite-site.ts): a real node:http server on 127.0.0.1, its response
// timers, its sockets, and a close() that ends them all, so that no demo leaves a socket or a timer behind.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The timers of a demo site's responses: each cleared when its response closes, all of them when the site does. */
export class ResponseTimers {
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  /** Runs `fn` after `ms` (at once for 0), unless the response closes first or the site closes. */
  later = (ms: number, res: ServerResponse, fn: () => void): void => {
    if (ms <= 0) {
      fn();
      return;
    }
    const timers = this.#timers;
    const timer = setTimeout(() => {
      timers.delete(timer);
      res.off('close', cancel);
      fn();
    }, ms);
    const cancel = () => {
      clearTimeout(timer);
      timers.delete(timer);
    };
    timers.add(timer);
    res.once('close', cancel);
  };

  /** Clears every timer still pending. */
  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

/** What a demo site gets from {@link startDemoServer}. */
export interface DemoServer {
  /** The base URL, ending in `/`. */
  readonly url: string;
  /** Stops listening, destroys every socket (hanging, streaming and idle keep-alive ones) and clears every timer. */
  close(): Promise<void>;
}

/** Options of {@link startDemoServer}. */
export interface DemoServerOptions {
  port: number;
  host: string;
  /** The site's response timers, cleared by close(). */
  timers: ResponseTimers;
  /** Told of each client socket as it opens; its `close` event says when it ends. */
  onConnection?: (socket: Socket) => void;
}

/** Starts `handler` listening on `host:port` (0 for a free port), with keep-alive, behind one close(). */
export async function startDemoServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: DemoServerOptions,
): Promise<DemoServer> {
  const sockets = new Set<Socket>();
  const server = createServer(handler);
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    options.onConnection?.(socket);
  });
  const url = await listenOn(server, options.port, options.host);
  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        options.timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** Starts `server` listening on `host:port` (0 for a free port) and resolves with its base URL, ending in `/`. */
async function listenOn(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${hostPart}:${address.port}/`;
}
