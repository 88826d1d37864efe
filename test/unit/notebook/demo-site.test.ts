// The demo site on its own, spoken to with undici directly (and raw sockets where HTTP has nothing to say).
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  byteAt,
  type DemoLatencyRange,
  type DemoSite,
  exampleUrls,
  isLive,
  LIVE_ENV,
  MAX_BYTES,
  PAGE_NAMES,
  pageHtml,
  pageTitle,
  startDemoSite,
} from 'async-batching/demo';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SERVER_SEES } from '../../helpers/outcomes.ts';

let site: DemoSite;
let agent: Agent;

async function get(path: string) {
  const response = await request(new URL(path, site.url), { dispatcher: agent });
  const body = Buffer.from(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, body, text: body.toString('utf8') };
}

beforeAll(async () => {
  site = await startDemoSite();
  agent = new Agent({ connections: 16 });
});

afterAll(async () => {
  await agent.close();
  await site.close();
});

describe('demo site routes', () => {
  it('serves an index that links to the pages', async () => {
    const { status, headers, text } = await get('/');
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('text/html; charset=utf-8');
    for (const name of PAGE_NAMES) expect(text).toContain(`href="page/${name}"`);
  });

  it('serves /page/<name> with a title and size that depend only on the name', async () => {
    const first = await get('/page/async-batching');
    expect(first.status).toBe(200);
    expect(first.text).toContain('<title>Async Batching</title>');
    expect(first.text).toBe(pageHtml('async-batching'));
    expect(Number(first.headers['content-length'])).toBe(first.body.length);
    expect(first.body.length).toBeGreaterThan(2000);
    expect(first.body.length).toBeLessThan(10_000);
    const other = await get('/page/other');
    expect(other.text).not.toBe(first.text);
  });

  it('escapes the page name in HTML and decodes it from the path', async () => {
    const { text } = await get(`/page/${encodeURIComponent('<&>')}`);
    expect(text).not.toContain('<&>');
    expect(text).toContain('<title>&#60;&#38;&#62;</title>');
  });

  it('titles pages from their words', () => {
    expect(pageTitle('hello_big-world')).toBe('Hello Big World');
    expect(pageTitle('---')).toBe('---');
  });

  it('serves /status/<code> with the reason phrase as body', async () => {
    expect(await get('/status/503')).toMatchObject({ status: 503, text: 'Service Unavailable' });
    expect(await get('/status/201')).toMatchObject({ status: 201, text: 'Created' });
    expect(await get('/status/204')).toMatchObject({ status: 204, text: '' });
    expect((await get('/status/199')).status).toBe(400);
    expect((await get('/status/abc')).status).toBe(404);
  });

  it('serves /slow/<ms> after the delay, and refuses a delay over the cap', async () => {
    expect(await get('/slow/10')).toMatchObject({ status: 200, text: 'Answered after 10 ms\n' });
    expect((await get('/slow/60001')).status).toBe(400);
  });

  it('redirects /redirect/<n> with relative Locations down to /page/redirected', async () => {
    const hops: string[] = [];
    let url = new URL('/redirect/3', site.url);
    for (;;) {
      const response = await request(url, { dispatcher: agent });
      await response.body.dump();
      if (response.statusCode !== 302) break;
      const location = String(response.headers.location);
      expect(location.startsWith('http')).toBe(false);
      url = new URL(location, url);
      hops.push(url.pathname);
    }
    expect(hops).toEqual(['/redirect/2', '/redirect/1', '/page/redirected']);
    expect((await get('/redirect/0')).text).toBe(pageHtml('redirected'));
    expect((await get('/redirect/101')).status).toBe(400);
  });

  it('streams /bytes/<n> as the byte pattern, with its length', async () => {
    const { status, headers, body } = await get(`/bytes/${200_000}`);
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('application/octet-stream');
    expect(headers['content-length']).toBe('200000');
    expect(body.length).toBe(200_000);
    expect(body.every((b, i) => b === byteAt(i))).toBe(true);
    expect((await get('/bytes/0')).body.length).toBe(0);
    expect((await get(`/bytes/${MAX_BYTES + 1}`)).status).toBe(400);
  });

  it('answers an unknown path with 404 and Twisted’s No Such Resource page', async () => {
    const { status, text } = await get('/nothing/here');
    expect(status).toBe(404);
    expect(text).toContain('<title>404 - No Such Resource</title>');
    expect(text).toContain('No such child resource.');
  });

  it('resets the connection on /reset', async () => {
    await expect(request(new URL('/reset', site.url), { dispatcher: agent })).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
  });

  it('never answers /hang, and closes the socket when the client gives up', async () => {
    const before = site.stats().connections;
    const controller = new AbortController();
    const pending = request(new URL('/hang', site.url), { signal: controller.signal });
    await vi.waitUntil(() => site.stats().inFlight === 1, { ...SERVER_SEES, message: 'the request arrives' });
    await sleep(30);
    expect(site.stats().inFlight).toBe(1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await vi.waitUntil(() => site.stats().inFlight === 0 && site.stats().connections <= before, {
      ...SERVER_SEES,
      message: 'the socket closes',
    });
  });
});

describe('demo site stats', () => {
  it('counts requests, requests in flight and connections, and resets the counters', async () => {
    const own = await startDemoSite();
    try {
      const a = new Agent({ connections: 3 });
      const requests = [0, 1, 2].map(() => request(new URL('/hang', own.url), { dispatcher: a }));
      for (const r of requests) r.catch(() => {});
      await vi.waitUntil(() => own.stats().inFlight === 3, {
        ...SERVER_SEES,
        message: 'three requests are in flight',
      });
      expect(own.stats()).toEqual({
        requests: 3,
        inFlight: 3,
        maxInFlight: 3,
        connections: 3,
        maxConnections: 3,
      });
      await a.destroy();
      await vi.waitUntil(() => own.stats().connections === 0, {
        ...SERVER_SEES,
        message: 'the sockets close',
      });
      expect(own.stats()).toMatchObject({ inFlight: 0, maxInFlight: 3, maxConnections: 3 });
      own.resetStats();
      expect(own.stats()).toEqual({
        requests: 0,
        inFlight: 0,
        maxInFlight: 0,
        connections: 0,
        maxConnections: 0,
      });
    } finally {
      await own.close();
    }
  });

  it('links each page to one to five other pages, the same ones every time', async () => {
    const counts = PAGE_NAMES.map((name) => {
      const links = [...pageHtml(name).matchAll(/<a href="\.\.\/page\/([^"]+)">/g)].map((m) => m[1]);
      expect(links.every((other) => PAGE_NAMES.includes(other) && other !== name)).toBe(true);
      expect(new Set(links).size).toBe(links.length);
      return links.length;
    });
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(1);
    for (const count of counts) expect(count).toBeLessThanOrEqual(5);
    expect(new Set(counts).size).toBeGreaterThan(1);
    expect(pageHtml('twisted')).toBe(pageHtml('twisted'));
  });

  it('answers ?delay=<ms> on any route after that delay, and 400 for a bad one', async () => {
    const { status, text } = await get('/page/twisted?delay=5');
    expect(status).toBe(200);
    expect(text).toBe(pageHtml('twisted'));
    expect((await get('/page/twisted?delay=soon')).status).toBe(400);
    expect((await get('/page/twisted?delay=60001')).status).toBe(400);
  });

  it('gives each path its own latency in a range, the same on every run', async () => {
    const mixed = await startDemoSite({ latency: { min: 10, max: 60 } });
    const other = await startDemoSite({ latency: { min: 10, max: 60 } });
    try {
      const delays = PAGE_NAMES.map((name) => mixed.latencyOf(`/page/${name}`));
      for (const ms of delays) expect(ms).toBeGreaterThanOrEqual(10);
      for (const ms of delays) expect(ms).toBeLessThanOrEqual(60);
      expect(new Set(delays).size).toBeGreaterThan(5);
      expect(PAGE_NAMES.map((name) => other.latencyOf(`/page/${name}`))).toEqual(delays);
      expect(site.latencyOf('/page/twisted')).toBe(0);
      const a = new Agent();
      try {
        const response = await request(mixed.pageUrl('twisted'), { dispatcher: a });
        expect(await response.body.text()).toBe(pageHtml('twisted'));
      } finally {
        await a.close();
      }
    } finally {
      await mixed.close();
      await other.close();
    }
  });

  it('adds latency to every response', async () => {
    const slow = await startDemoSite({ latency: 20 });
    const a = new Agent();
    try {
      const response = await request(slow.pageUrl('late'), { dispatcher: a });
      expect(await response.body.text()).toBe(pageHtml('late'));
    } finally {
      await a.close();
      await slow.close();
    }
  });
});

describe('demo site lifecycle', () => {
  it('has a base URL on 127.0.0.1 ending with / and builds page URLs', () => {
    expect(site.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(site.pageUrl('a b')).toBe(`${site.url}page/a%20b`);
    expect(() => site.pageUrl('')).toThrow(TypeError);
  });

  it('closes hanging, slow and idle keep-alive sockets, and frees its port', async () => {
    const own = await startDemoSite({ latency: 1 });
    const port = Number(new URL(own.url).port);
    const a = new Agent();
    const idle = await request(own.pageUrl('idle'), { dispatcher: a });
    await idle.body.text();
    // Each outcome is caught at once: the failures arrive while close() is still being awaited.
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => 'finished',
        (e: unknown) => e,
      );
    const hanging = outcome(request(new URL('/hang', own.url), { dispatcher: a }));
    const slow = outcome(request(new URL('/slow/60000', own.url), { dispatcher: a }));
    const streaming = outcome(
      (async () => {
        const r = await request(new URL(`/bytes/${MAX_BYTES}`, own.url), { dispatcher: a });
        for await (const _ of r.body) await sleep(1);
      })(),
    );
    await vi.waitUntil(() => own.stats().inFlight === 3, {
      ...SERVER_SEES,
      message: 'three requests are in flight',
    });
    await own.close();
    for (const p of [hanging, slow, streaming]) expect(await p).toBeInstanceOf(Error);
    expect(own.stats()).toMatchObject({ connections: 0, inFlight: 0 });
    await a.close();
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => again.close(() => resolve()));
    await own.close();
  });

  it('closes a connection that never sent a request', async () => {
    const own = await startDemoSite();
    const socket = connect(Number(new URL(own.url).port), '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    await vi.waitUntil(() => own.stats().connections === 1, {
      ...SERVER_SEES,
      message: 'the server sees the connection',
    });
    await own.close();
    await closed;
  });

  it('listens on the port it is given, and rejects when the port is taken', async () => {
    const taken = Number(new URL(site.url).port);
    await expect(startDemoSite({ port: taken })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it.each([
    [{ port: -1 }, RangeError, 'port'],
    [{ port: 1.5 }, RangeError, 'port'],
    [{ port: 70000 }, RangeError, 'port'],
    [{ host: '' }, TypeError, 'host'],
    [{ latency: -5 }, RangeError, 'latency'],
    [{ latency: Number.POSITIVE_INFINITY }, RangeError, 'latency'],
    [{ latency: { min: -1, max: 5 } }, RangeError, 'latency.min'],
    [{ latency: { min: 1 } as DemoLatencyRange }, TypeError, 'latency.max'],
    [{ latency: { min: 9, max: 5 } }, RangeError, 'latency.max'],
  ])('rejects the option %j', async (options, type, name) => {
    await expect(startDemoSite(options)).rejects.toThrow(type);
    await expect(startDemoSite(options)).rejects.toThrow(`\`${name}\``);
  });
});

describe('exampleUrls', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('points at the demo site offline', () => {
    vi.stubEnv(LIVE_ENV, '');
    const urls = exampleUrls(site);
    expect(urls.live).toBe(false);
    expect(urls.pages).toHaveLength(PAGE_NAMES.length);
    for (const url of urls.pages) expect(url.startsWith(`${site.url}page/`)).toBe(true);
    expect(urls.notFound.startsWith(site.url)).toBe(true);
    expect(urls.unresolvable).toBe('http://nothing.invalid/');
  });

  it('serves every offline page, and 404 for notFound', async () => {
    const urls = exampleUrls(site, { live: false });
    for (const url of urls.pages) expect((await get(url)).status).toBe(200);
    expect((await get(urls.notFound)).status).toBe(404);
  });

  it('switches to live URLs with ASYNC_BATCHING_LIVE=1, keeping the .invalid host', () => {
    vi.stubEnv(LIVE_ENV, '1');
    expect(isLive()).toBe(true);
    const urls = exampleUrls();
    expect(urls.live).toBe(true);
    for (const url of urls.pages) expect(url).toMatch(/^https:\/\//);
    expect(urls.notFound).toMatch(/^https:\/\//);
    expect(urls.unresolvable).toBe('http://nothing.invalid/');
    expect(exampleUrls(site, { live: false }).live).toBe(false);
  });

  it('needs a site offline', () => {
    vi.stubEnv(LIVE_ENV, '0');
    expect(isLive()).toBe(false);
    expect(() => exampleUrls()).toThrow(TypeError);
    expect(() => exampleUrls(null)).toThrow(/`site`/);
  });
});
