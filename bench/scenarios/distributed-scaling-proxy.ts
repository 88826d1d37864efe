// A TCP proxy that stands in for distance, since this kernel has no netem: every chunk, each way, is passed on
// `delayMs` after it arrived, in order, per connection. Started by the distributed-scaling comparison in the hub
// namespace (`ip netns exec <hub> node distributed-scaling-proxy.ts <json>`), it listens on the hub's address of
// every spoke link and forwards to Redis's Unix socket. It says `ready` over IPC once listening, and exits when its
// parent goes.
import { connect, createServer, type Server, type Socket } from 'node:net';

interface ProxyConfig {
  /** Where to listen: the hub's address on each spoke link. */
  listen: { host: string; port: number }[];
  /** Redis's Unix socket. */
  target: string;
  /** The delay each way, in ms. */
  delayMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ProxyConfig;
if (!Array.isArray(config.listen) || typeof config.target !== 'string' || !(config.delayMs >= 0)) {
  throw new TypeError(`Expected a JSON { listen, target, delayMs } as the argument, got ${process.argv[2]}`);
}

/** Passes what `from` sends on to `to`, each chunk (and the end) `delayMs` after it arrived, in arrival order. */
function delayed(from: Socket, to: Socket, delayMs: number): void {
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let head = 0;
  let scheduled = false;
  const due = () => {
    scheduled = false;
    // Timers count whole milliseconds: a chunk due within the next half of one goes now rather than a tick late.
    const now = performance.now() + 0.5;
    while (head < queue.length && queue[head].at <= now) {
      const { chunk } = queue[head++];
      if (to.destroyed) continue;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else {
      scheduled = true;
      setTimeout(due, Math.max(1, Math.round(queue[head].at - now)));
    }
  };
  const push = (chunk: Buffer | null) => {
    queue.push({ at: performance.now() + delayMs, chunk });
    if (!scheduled) {
      scheduled = true;
      setTimeout(due, Math.max(1, delayMs));
    }
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
}

const servers: Server[] = [];
const sockets = new Set<Socket>();
for (const { host, port } of config.listen) {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = connect({ path: config.target, allowHalfOpen: true });
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    delayed(client, upstream, config.delayMs);
    delayed(upstream, client, config.delayMs);
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
}
process.send?.('ready');
process.on('disconnect', () => {
  for (const s of servers) s.close();
  for (const s of sockets) s.destroy();
  process.exit(0);
});
