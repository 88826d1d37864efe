// getPage over real sockets, against the demo site on 127.0.0.1.
import { createServer } from 'node:net';
import {
  CancelledError,
  ConnectionLostError,
  ConnectionRefusedError,
  closeDefaultAgent,
  DNSLookupError,
  GetPageError,
  getPage,
  getPageBytes,
  getResponse,
  HttpError,
  InvalidURLError,
  ResponseTooLargeError,
  TimeoutError,
  TooManyRedirectsError,
} from 'async-batching';
import { byteAt, type DemoSite, pageHtml, startDemoSite } from 'async-batching/demo';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { failureOf, SERVER_SEES } from '../../helpers/outcomes.ts';

let site: DemoSite;

/** A port nobody listens on: bind one, then let it go. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  site = await startDemoSite();
});

afterAll(async () => {
  await closeDefaultAgent();
  await site.close();
  process.off('unhandledRejection', onRejection);
  expect(rejections).toEqual([]);
});

describe('getPage against the demo site', () => {
  it('gets the index and pages, whose text depends only on the name', async () => {
    expect(await getPage(site.url)).toContain('<title>async-batching demo site</title>');
    const page = await getPage(site.pageUrl('hello-world'));
    expect(page).toBe(pageHtml('hello-world'));
    expect(page).toContain('<title>Hello World</title>');
    expect(await getPage(site.pageUrl('hello-world'))).toBe(page);
  });

  it('fails with HttpError for /status/<code> and for unknown paths, with the body', async () => {
    const teapot = (await failureOf(getPage(`${site.url}status/418`))) as HttpError;
    expect(teapot).toBeInstanceOf(HttpError);
    expect(teapot.message).toBe("418 I'm a Teapot");
    expect(teapot.body).toBe("I'm a Teapot");
    const missing = (await failureOf(getPage(`${site.url}no/such/thing`))) as HttpError;
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('No Such Resource');
  });

  it('gets an empty body for /status/204 and a reason phrase for /status/200', async () => {
    expect(await getPage(`${site.url}status/204`)).toBe('');
    expect(await getPage(`${site.url}status/200`)).toBe('OK');
  });

  it('answers /slow/<ms> in the end', async () => {
    expect(await getPage(`${site.url}slow/20`)).toBe('Answered after 20 ms\n');
  });

  it('follows /redirect/<n> through its relative Locations', async () => {
    const response = await getResponse(`${site.url}redirect/4`);
    expect(response.url).toBe(`${site.url}page/redirected`);
    expect(response.redirects).toBe(4);
    expect(response.body).toBe(pageHtml('redirected'));
  });

  it('gets /bytes/<n> as the documented byte pattern', async () => {
    const bytes = await getPageBytes(`${site.url}bytes/300000`);
    expect(bytes.length).toBe(300000);
    for (const i of [0, 1, 255, 256, 65535, 65536, 299999]) expect(bytes[i]).toBe(byteAt(i));
  });

  it('fails with ResponseTooLargeError for 4 MiB against a 1 MiB cap', async () => {
    const error = await failureOf(
      getPageBytes(`${site.url}bytes/${4 * 1024 * 1024}`, { maxBytes: 1024 * 1024 }),
    );
    expect(error).toBeInstanceOf(ResponseTooLargeError);
  });

  it('fails with ConnectionLostError on /reset', async () => {
    const error = (await failureOf(getPage(`${site.url}reset`))) as ConnectionLostError;
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error.code).toBe('AB_ERR_CONNECTION_LOST');
    expect(error.cause).toBeDefined();
  });

  it('fails with ConnectionRefusedError on a port nobody listens on', async () => {
    const port = await freePort();
    const error = (await failureOf(getPage(`http://127.0.0.1:${port}/`))) as ConnectionRefusedError;
    expect(error).toBeInstanceOf(ConnectionRefusedError);
    expect(error.code).toBe('AB_ERR_CONNECTION_REFUSED');
    expect(error.url).toBe(`http://127.0.0.1:${port}/`);
  });

  it('fails with DNSLookupError for a host under .invalid', async () => {
    const error = (await failureOf(getPage('http://nothing.invalid/'))) as DNSLookupError;
    expect(error).toBeInstanceOf(DNSLookupError);
    expect(error.code).toBe('AB_ERR_DNS_LOOKUP');
    expect(error.message).toBe("DNS lookup failed: address 'nothing.invalid' not found");
    expect(error.hostname).toBe('nothing.invalid');
  });

  it.each(['file:///etc/passwd', 'data:text/html,<h1>hi</h1>', 'javascript:alert(1)', 'http//missing-colon'])(
    'fails with InvalidURLError for %s',
    async (url) => {
      const error = await failureOf(getPage(url));
      expect(error).toBeInstanceOf(InvalidURLError);
      expect(error).toBeInstanceOf(GetPageError);
    },
  );
});

/** A clean slate for tests that count connections: the shared agent closed, the server seeing none, stats reset. */
async function freshConnections(): Promise<void> {
  await closeDefaultAgent();
  await vi.waitUntil(() => site.stats().connections === 0, {
    ...SERVER_SEES,
    message: 'the old connections are gone',
  });
  site.resetStats();
}

describe('getPage connections', () => {
  beforeEach(freshConnections);

  it('reuses one keep-alive connection for sequential requests', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) await getPage(site.pageUrl(name));
    await getPage(`${site.url}redirect/3`);
    expect(site.stats()).toMatchObject({ requests: 9, maxConnections: 1 });
  });

  it('closes the socket on cancel(), and the server sees it go', async () => {
    const d = getPage(`${site.url}hang`);
    await vi.waitUntil(() => site.stats().inFlight === 1, { ...SERVER_SEES, message: 'the request arrives' });
    d.cancel();
    expect(await failureOf(d)).toBeInstanceOf(CancelledError);
    await vi.waitUntil(() => site.stats().connections === 0, {
      ...SERVER_SEES,
      message: 'the server sees the socket close',
    });
    expect(site.stats().inFlight).toBe(0);
  });

  it('fails with TimeoutError on /hang and closes the socket', async () => {
    const error = (await failureOf(getPage(`${site.url}hang`, { timeout: 50 }))) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.url).toBe(`${site.url}hang`);
    await vi.waitUntil(() => site.stats().connections === 0, {
      ...SERVER_SEES,
      message: 'the server sees the socket close',
    });
  });

  it('closes the socket when the signal aborts', async () => {
    const controller = new AbortController();
    const d = getPage(`${site.url}hang`, { signal: controller.signal });
    await vi.waitUntil(() => site.stats().inFlight === 1, { ...SERVER_SEES, message: 'the request arrives' });
    controller.abort(new Error('stop'));
    const error = await failureOf(d);
    expect(error).toBeInstanceOf(CancelledError);
    expect((error.cause as Error).message).toBe('stop');
    await vi.waitUntil(() => site.stats().connections === 0, {
      ...SERVER_SEES,
      message: 'the server sees the socket close',
    });
  });

  it('does not hold back a batch of 50 with the shared agent', async () => {
    const batch = Array.from({ length: 50 }, () => getPage(`${site.url}hang`));
    await vi.waitUntil(() => site.stats().inFlight === 50, {
      ...SERVER_SEES,
      message: 'all 50 requests arrive at once',
    });
    for (const d of batch) d.cancel();
    for (const d of batch) expect(await failureOf(d)).toBeInstanceOf(CancelledError);
    await vi.waitUntil(() => site.stats().connections === 0, {
      ...SERVER_SEES,
      message: 'the server sees every socket close',
    });
  });

  it('sends requests through the dispatcher it is given', async () => {
    const agent = new Agent({ connections: 1 });
    try {
      const batch = ['p', 'q', 'r'].map((name) => getPage(site.pageUrl(name), { dispatcher: agent }));
      for (const d of batch) await d;
      expect(site.stats()).toMatchObject({ requests: 3, maxConnections: 1, maxInFlight: 1 });
    } finally {
      await agent.close();
    }
  });
});

describe('getPage queues and limits', () => {
  beforeEach(freshConnections);

  it('takes a request cancelled while it waits for a connection out of the queue, keeping the busy connection', async () => {
    const agent = new Agent({ connections: 1 });
    let connects = 0;
    agent.on('connect', () => connects++);
    try {
      const slow = getPage(`${site.url}slow/100`, { dispatcher: agent });
      const queued = ['q1', 'q2', 'q3'].map((name) => getPage(site.pageUrl(name), { dispatcher: agent }));
      await vi.waitUntil(() => site.stats().inFlight === 1, {
        ...SERVER_SEES,
        message: 'the first request arrives',
      });
      for (const d of queued) d.cancel();
      for (const d of queued) expect(await failureOf(d)).toBeInstanceOf(CancelledError);
      expect(typeof (await slow)).toBe('string');
      expect(await getPage(site.pageUrl('after'), { dispatcher: agent })).toBe(pageHtml('after'));
      expect(site.stats()).toMatchObject({ requests: 2, maxConnections: 1 });
      expect(connects).toBe(1);
    } finally {
      await agent.close();
    }
  });

  it('times out a request still waiting for a connection', async () => {
    const agent = new Agent({ connections: 1 });
    try {
      const slow = getPage(`${site.url}slow/300`, { dispatcher: agent });
      const error = await failureOf(getPage(site.pageUrl('late'), { dispatcher: agent, timeout: 30 }));
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).timeout).toBe(30);
      expect(typeof (await slow)).toBe('string');
    } finally {
      await agent.close();
    }
  });

  it('stops the clock once the page is there, and counts it across redirects', async () => {
    const page = await getResponse(`${site.url}redirect/4`, { timeout: 5_000 });
    expect(page.redirects).toBe(4);
    const error = await failureOf(getPage(`${site.url}redirect/2`, { maxRedirects: 1 }));
    expect(error).toBeInstanceOf(TooManyRedirectsError);
    expect((error as GetPageError).url).toBe(`${site.url}redirect/1`);
  });

  it('refuses CONNECT, as undici request() does, with a plain GetPageError', async () => {
    const error = await failureOf(getPage(site.pageUrl('x'), { method: 'CONNECT' }));
    expect(error.constructor).toBe(GetPageError);
    expect((error as GetPageError).code).toBe('AB_ERR_GET_PAGE');
  });

  it('delivers a multi-chunk body whole, to getPage and getPageBytes alike', async () => {
    const bytes = await getPageBytes(`${site.url}bytes/200000`);
    expect(bytes.length).toBe(200_000);
    const text = await getPage(`${site.url}bytes/200000`);
    expect(text.length).toBeGreaterThan(0);
  });
});

describe('cleaning up', () => {
  it('leaves no socket, server or timer of its own behind after close()', async () => {
    const before = process.getActiveResourcesInfo();
    const count = (list: string[], type: string) => list.filter((t) => t === type).length;
    const other = await startDemoSite({ latency: 5 });
    const slow = getPage(`${other.url}slow/30000`);
    const hang = getPage(`${other.url}hang`);
    await getPage(other.pageUrl('x'));
    await vi.waitUntil(() => other.stats().inFlight === 2, {
      ...SERVER_SEES,
      message: 'both requests arrive',
    });
    const closed = other.close();
    expect(await failureOf(slow)).toBeInstanceOf(ConnectionLostError);
    expect(await failureOf(hang)).toBeInstanceOf(ConnectionLostError);
    await closed;
    await closeDefaultAgent();
    await vi.waitUntil(
      () => {
        const after = process.getActiveResourcesInfo();
        return ['TCPSocketWrap', 'TCPServerWrap'].every((t) => count(after, t) <= count(before, t));
      },
      { ...SERVER_SEES, message: 'the sockets and the server are gone' },
    );
    // Counted once waitUntil is done: while it polls, its own interval and timeout are two more.
    expect(count(process.getActiveResourcesInfo(), 'Timeout')).toBeLessThanOrEqual(count(before, 'Timeout'));
  });
});
