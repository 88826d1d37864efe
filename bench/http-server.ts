// The HTTP comparison's server, in its own process so that its work is not billed to the client being measured:
//   node bench/http-server.ts [bytes]
// Serves the same page of `bytes` (default 2048) for every GET, with keep-alive, and prints its URL on stdout.
// It exits when its parent closes stdin, so it never outlives a crashed benchmark.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const size = Number(process.argv[2] ?? 2048);
if (!Number.isInteger(size) || size < 1)
  throw new RangeError(`Expected \`bytes\` >= 1, got ${process.argv[2]}`);
const line = 'async-batching benchmark page: the same bytes for every request.\n';
const body = Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size));
const headers = {
  'content-type': 'text/plain; charset=utf-8',
  'content-length': String(body.length),
};

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  res.writeHead(200, headers);
  res.end(body);
});
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`http://127.0.0.1:${port}/page/bench\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
