// getPage's `retry` option: HTTP semantics with nock, then real sockets against the polite demo site. Every wait
// between attempts runs on a ManualClock, so no test sleeps through a backoff or a Retry-After.
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import {
  attemptsOf,
  CancelledError,
  ConnectionRefusedError,
  closeDefaultAgent,
  DeferredSemaphore,
  getPage,
  getResponse,
  HttpError,
  ManualClock,
  RETRY_STATUSES,
  retrying,
  TimeoutError,
} from 'async-batching';
import { type PoliteSite, startPoliteSite } from 'async-batching/demo';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { interceptWithNock } from '../../helpers/nock.ts';
import { failureOf } from '../../helpers/outcomes.ts';

const ORIGIN = 'http://retry.test';

/** Waits until the retry plans its wait on `clock`, then lets `ms` pass. */
async function waitThenAdvance(clock: ManualClock, ms: number): Promise<void> {
  await vi.waitFor(() => expect(clock.pending).toBe(1), { timeout: 10_000, interval: 10 });
  clock.advance(ms);
}

/** A nock route answering `answers` in turn (status and headers), counting the requests. */
function answering(path: string, answers: [number, Record<string, string>?][], method = 'get') {
  const seen = { requests: 0 };
  const scope = nock(ORIGIN);
  for (const [status, headers] of answers) {
    (method === 'post' ? scope.post(path) : scope.get(path)).reply(() => {
      seen.requests++;
      return [status, status < 300 ? 'the page' : `error ${status}`, headers ?? {}];
    });
  }
  return seen;
}

describe('getPage retry option (nock)', () => {
  interceptWithNock();

  it('refuses bad retry options with a TypeError or RangeError naming them', () => {
    const url = `${ORIGIN}/x`;
    expect(() => getPage(url, { retry: 0 })).toThrow(
      new RangeError('Expected `retry` to be a whole number of attempts >= 1, got 0'),
    );
    expect(() => getPage(url, { retry: 'twice' as never })).toThrow(
      new TypeError(
        'Expected `retry` to be a number of attempts, a boolean or an object of retry options, got "twice" (string)',
      ),
    );
    expect(() => getPage(url, { retry: { attempts: 0 } })).toThrow(
      new RangeError('Expected `retry.attempts` to be a whole number >= 1, got 0'),
    );
    expect(() => getPage(url, { retry: { jitter: 2 } })).toThrow(
      new RangeError('Expected `retry.jitter` to be a number from 0 to 1, got 2'),
    );
    expect(() => getPage(url, { retry: { maxTotalWait: -1 } })).toThrow(
      new RangeError(
        'Expected `retry.maxTotalWait` to be a number of milliseconds >= 0 (or Infinity), got -1',
      ),
    );
    expect(() => getPage(url, { retry: { maxRetryAfter: Number.NaN } })).toThrow(/`retry.maxRetryAfter`/);
    expect(() => getPage(url, { retry: { statuses: [429, '503'] as never } })).toThrow(
      new TypeError(
        'Expected `retry.statuses` to be an array of status codes, got "503" (string) at index 1',
      ),
    );
    expect(() => getPage(url, { retry: { shouldRetry: true as never } })).toThrow(
      new TypeError('Expected `retry.shouldRetry` to be a function, got true (boolean)'),
    );
    expect(() => getPage(url, { retry: { clock: {} as never } })).toThrow(TypeError);
  });

  it('retries a 503 after the backoff and delivers the page', async () => {
    const clock = new ManualClock();
    const seen = answering('/flaky', [[503], [503], [200]]);
    const delays: number[] = [];
    const d = getPage(`${ORIGIN}/flaky`, {
      retry: {
        attempts: 3,
        minDelay: 100,
        factor: 3,
        jitter: 0,
        clock,
        onRetry: (e) => delays.push(e.delay),
      },
    });
    await waitThenAdvance(clock, 99);
    expect(clock.pending).toBe(1);
    clock.advance(1);
    await waitThenAdvance(clock, 300);
    expect(await d).toBe('the page');
    expect(seen.requests).toBe(3);
    expect(delays).toEqual([100, 300]);
  });

  it('waits as long as Retry-After asks, in seconds or as an HTTP date', async () => {
    const clock = new ManualClock();
    const now = Date.parse('Sun, 06 Dec 2026 12:00:00 GMT');
    const seen = answering('/limited', [
      [429, { 'retry-after': '2' }],
      [503, { 'retry-after': 'Sun, 06 Dec 2026 12:00:05 GMT' }],
      [200],
    ]);
    const d = getPage(`${ORIGIN}/limited`, { retry: { attempts: 3, clock, now: () => now + clock.now() } });
    await waitThenAdvance(clock, 1_999);
    expect(clock.pending).toBe(1);
    clock.advance(1);
    // The second attempt went out at 12:00:02; the date asks for 12:00:05.
    await waitThenAdvance(clock, 2_999);
    expect(clock.pending).toBe(1);
    clock.advance(1);
    expect(await d).toBe('the page');
    expect(seen.requests).toBe(3);
  });

  it('fails after the last attempt with the usual HttpError, its body kept, carrying the attempts made', async () => {
    const clock = new ManualClock();
    answering('/down', [[503], [503], [503]]);
    const d = getResponse(`${ORIGIN}/down`, { retry: { attempts: 3, clock } });
    await waitThenAdvance(clock, 60_000);
    await waitThenAdvance(clock, 60_000);
    const e = await failureOf(d);
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(503);
    expect((e as HttpError).body).toBe('error 503');
    expect(attemptsOf(e)).toBe(3);
  });

  it('takes a number as the attempts, and without retry (or with false) makes one attempt', async () => {
    const clock = new ManualClock();
    answering('/a', [[500], [200]]);
    expect(await getPage(`${ORIGIN}/a`, { retry: 2 }).addErrback(() => 'failed')).toBe('the page');
    const once = answering('/b', [[500], [200]]);
    const e = await failureOf(getPage(`${ORIGIN}/b`, { retry: false }));
    expect((e as HttpError).status).toBe(500);
    expect(attemptsOf(e)).toBeUndefined();
    expect(once.requests).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('does not retry a status that is not listed, nor a Retry-After longer than maxRetryAfter', async () => {
    const seen = answering('/gone', [[404], [200]]);
    const e = await failureOf(getPage(`${ORIGIN}/gone`, { retry: 5 }));
    expect((e as HttpError).status).toBe(404);
    expect(attemptsOf(e)).toBe(1);
    expect(seen.requests).toBe(1);
    expect(RETRY_STATUSES).not.toContain(404);
    const later = answering('/later', [[429, { 'retry-after': '3600' }], [200]]);
    const e2 = await failureOf(getPage(`${ORIGIN}/later`, { retry: { attempts: 5, maxRetryAfter: 60_000 } }));
    expect((e2 as HttpError).status).toBe(429);
    expect(attemptsOf(e2)).toBe(1);
    expect(later.requests).toBe(1);
  });

  it('retries only idempotent methods by default; `methods` widens it', async () => {
    const clock = new ManualClock();
    const post = answering('/post', [[503], [200]], 'post');
    const e = await failureOf(getPage(`${ORIGIN}/post`, { method: 'POST', body: 'x', retry: { clock } }));
    expect((e as HttpError).status).toBe(503);
    expect(attemptsOf(e)).toBe(1);
    expect(post.requests).toBe(1);
    nock.cleanAll();
    answering('/post', [[503], [200]], 'post');
    const d = getPage(`${ORIGIN}/post`, { method: 'post', body: 'x', retry: { clock, methods: ['POST'] } });
    await waitThenAdvance(clock, 60_000);
    expect(await d).toBe('the page');
  });

  it('lets shouldRetry decide alone, given the typed failure and the attempt', async () => {
    const clock = new ManualClock();
    answering('/eventually', [[404], [200]]);
    const asked: [unknown, number][] = [];
    const d = getPage(`${ORIGIN}/eventually`, {
      retry: {
        clock,
        shouldRetry: (error, attempt) => {
          asked.push([error, attempt]);
          return error instanceof HttpError && error.status === 404;
        },
      },
    });
    await waitThenAdvance(clock, 60_000);
    expect(await d).toBe('the page');
    expect(asked.length).toBe(1);
    expect(asked[0]?.[0]).toBeInstanceOf(HttpError);
    expect(asked[0]?.[1]).toBe(1);
  });

  it('stops before a wait that would take the total past maxTotalWait', async () => {
    const clock = new ManualClock();
    const seen = answering('/slowly', [[503], [503], [503], [200]]);
    const d = getPage(`${ORIGIN}/slowly`, {
      retry: { attempts: 4, minDelay: 100, factor: 2, jitter: 0, maxTotalWait: 250, clock },
    });
    await waitThenAdvance(clock, 100);
    const e = await failureOf(d);
    // Waits of 100 and 200 would make 300 > 250: the second failure ends it.
    expect(attemptsOf(e)).toBe(2);
    expect(seen.requests).toBe(2);
    expect(clock.pending).toBe(0);
  });

  it('cancelling during the wait stops everything: no further request', async () => {
    const clock = new ManualClock();
    const seen = answering('/c', [[503], [200]]);
    const d = getPage(`${ORIGIN}/c`, { retry: { clock } });
    await vi.waitFor(() => expect(clock.pending).toBe(1), { timeout: 10_000, interval: 10 });
    d.cancel();
    expect(await failureOf(d)).toBeInstanceOf(CancelledError);
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(seen.requests).toBe(1);
  });

  it('aborting the signal during the wait fails with CancelledError whose cause is the reason', async () => {
    const clock = new ManualClock();
    answering('/s', [[503], [200]]);
    const ac = new AbortController();
    const d = getPage(`${ORIGIN}/s`, { signal: ac.signal, retry: { clock } });
    await vi.waitFor(() => expect(clock.pending).toBe(1), { timeout: 10_000, interval: 10 });
    ac.abort('enough');
    const e = await failureOf(d);
    expect(e).toBeInstanceOf(CancelledError);
    expect((e as CancelledError).cause).toBe('enough');
    expect(clock.pending).toBe(0);
  });

  it('keeps retrying() working, and it retries only idempotent methods too', async () => {
    const clock = new ManualClock();
    answering('/w', [[503], [200]]);
    const polite = retrying(getPage, { clock });
    const d = polite(`${ORIGIN}/w`);
    await waitThenAdvance(clock, 60_000);
    expect(await d).toBe('the page');
    const post = answering('/wp', [[503], [200]], 'post');
    const e = await failureOf(polite(`${ORIGIN}/wp`, { method: 'POST', body: 'x' }));
    expect(attemptsOf(e)).toBe(1);
    expect(post.requests).toBe(1);
  });
});

describe('getPage retry option (real sockets, polite demo site)', () => {
  let site: PoliteSite;
  beforeAll(async () => {
    // One answer per 5 s: a 429's Retry-After is then up to 5 s, which the ManualClock lets pass at once.
    site = await startPoliteSite({ limit: { max: 1, per: 5_000 }, hosts: { slow: { latency: 30_000 } } });
  });
  afterAll(async () => {
    await site.close();
    await closeDefaultAgent();
  });

  for (const form of ['seconds', 'date'] as const) {
    it(`gets through a 429 by waiting as its Retry-After (${form}) asks`, async () => {
      site.resetStats();
      await getPage(site.limitedUrl('first', form));
      const clock = new ManualClock();
      const delays: number[] = [];
      const d = getPage(site.limitedUrl('second', form), {
        retry: { attempts: 2, clock, onRetry: (e) => delays.push(e.delay) },
      });
      await vi.waitFor(() => expect(clock.pending).toBe(1), { timeout: 10_000, interval: 10 });
      expect(delays[0]).toBeGreaterThan(0);
      expect(delays[0]).toBeLessThanOrEqual(6_000);
      // The server's window is real time; empty it rather than wait 5 s.
      site.resetStats();
      clock.advance(delays[0] as number);
      expect(await d).toContain('<title>');
      expect(site.stats().limited).toMatchObject({ accepted: 1, rejected: 0 });
    });
  }

  it('fails with the 429 HttpError, carrying the attempts, when the server still refuses', async () => {
    site.resetStats();
    await getPage(site.limitedUrl('taken'));
    const clock = new ManualClock();
    const d = getPage(site.limitedUrl('refused'), { retry: { attempts: 2, clock } });
    await waitThenAdvance(clock, 6_000);
    const e = await failureOf(d);
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(429);
    expect(attemptsOf(e)).toBe(2);
    expect(site.stats().limited.rejected).toBe(2);
  });

  it('gives each attempt its own timeout, retries a timed-out one, and ends with TimeoutError and the attempts', async () => {
    // The first request of each pair hangs, the second is answered. The timeout is a second, not 50 ms: on a loaded
    // machine an answered attempt took longer than 50 ms, timed out too, and the test hung on the manual clock.
    let requests = 0;
    const server = createHttpServer((_req, res) => {
      if (++requests % 2 === 0) res.end('in time');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      const clock = new ManualClock();
      const d = getPage(url, { timeout: 1_000, retry: { clock } });
      await waitThenAdvance(clock, 60_000);
      expect(await d).toBe('in time');
      const e = await failureOf(getPage(url, { timeout: 1_000, retry: 1 }));
      expect(e).toBeInstanceOf(TimeoutError);
      expect(attemptsOf(e)).toBe(1);
      expect(requests).toBe(3);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('retries a refused connection, ending with ConnectionRefusedError after the last attempt', async () => {
    // A port that was free a moment ago: nobody listens there now.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const clock = new ManualClock();
    const d = getPage(`http://127.0.0.1:${port}/`, { retry: { attempts: 3, clock } });
    await waitThenAdvance(clock, 60_000);
    await waitThenAdvance(clock, 60_000);
    const e = await failureOf(d);
    expect(e).toBeInstanceOf(ConnectionRefusedError);
    expect(attemptsOf(e)).toBe(3);
  });

  it('cancelling during an attempt closes its connection, and a semaphore gets its token back only then', async () => {
    site.resetStats();
    const clock = new ManualClock();
    const sem = new DeferredSemaphore(1);
    const d = sem.run(() => getPage(site.hostUrl('slow', 'p'), { retry: { attempts: 3, clock } }));
    await vi.waitFor(() => expect(site.stats().hosts.slow?.inFlight).toBe(1));
    d.cancel();
    // The attempt's connection is still closing: the token is not free yet.
    expect(sem.tokens).toBe(0);
    expect(await failureOf(d)).toBeInstanceOf(CancelledError);
    await vi.waitFor(() => expect(sem.tokens).toBe(1));
    await vi.waitFor(() => expect(site.stats().hosts.slow?.inFlight).toBe(0));
    expect(clock.pending).toBe(0);
    expect(site.stats().hosts.slow?.requests).toBe(1);
  });
});
