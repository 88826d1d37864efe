// The polite demo site, through getPage and the polite helpers, on real sockets.
import {
  attemptsOf,
  getPage,
  getResponse,
  HttpError,
  keyedParallel,
  parseRetryAfter,
  retrying,
} from 'async-batching';
import { demoItem, type PoliteSite, startPoliteSite } from 'async-batching/demo';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { failureOrNull } from '../../helpers/outcomes.ts';

let site: PoliteSite;

beforeAll(async () => {
  site = await startPoliteSite({
    limit: { max: 3, per: 1_000 },
    hosts: { fast: { latency: 0 }, slow: { latency: 60 }, mid: { latency: 20 } },
    bulkLatency: 5,
  });
});
afterAll(() => site.close());
beforeEach(() => site.resetStats());

describe('startPoliteSite', () => {
  it('answers limit.max requests per window, then 429 with Retry-After in whole seconds', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, (_, i) => failureOrNull(getPage(site.limitedUrl(`p${i}`, 'seconds')))),
    );
    const refused = outcomes.filter((e) => e instanceof HttpError) as HttpError[];
    expect(refused.length).toBe(2);
    for (const e of refused) {
      expect(e.status).toBe(429);
      expect(e.headers['retry-after']).toBe('1');
    }
    expect(site.stats().limited).toMatchObject({ accepted: 3, rejected: 2 });
  });

  it('gives Retry-After as an HTTP date on the date route', async () => {
    await Promise.all(Array.from({ length: 3 }, (_, i) => getPage(site.limitedUrl(`d${i}`, 'date'))));
    const e = (await failureOrNull(getPage(site.limitedUrl('d4', 'date')))) as HttpError;
    const header = e.headers['retry-after'] as string;
    expect(header).toMatch(/GMT$/);
    const ms = parseRetryAfter(header) as number;
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThanOrEqual(2_000);
  });

  it('lets retrying(getPage) through once the server says so, and counts the attempts of one that gives up', async () => {
    const polite = retrying(getPage, { attempts: 4 });
    const pages = await Promise.all(
      Array.from({ length: 4 }, (_, i) => polite(site.limitedUrl(`r${i}`, 'date'))),
    );
    expect(pages.every((p) => p.includes('<title>'))).toBe(true);
    expect(site.stats().limited.accepted).toBe(4);
    site.resetStats();
    await Promise.all(Array.from({ length: 3 }, (_, i) => getPage(site.limitedUrl(`q${i}`))));
    const once = retrying(getPage, { attempts: 1 });
    const e = await failureOrNull(once(site.limitedUrl('q4')));
    expect(e).toBeInstanceOf(HttpError);
    expect(attemptsOf(e)).toBe(1);
  });

  it('counts in-flight requests per virtual host; keyedParallel keeps each at or under perKey', async () => {
    const urls = Array.from({ length: 24 }, (_, i) =>
      site.hostUrl(['slow', 'fast', 'mid'][i % 3] as string, `n${i}`),
    );
    const results = await keyedParallel(urls, 6, (url) => getPage(url), {
      key: (url) => new URL(url).pathname.split('/')[2] as string,
      perKey: 2,
    });
    expect(results.every(([ok]) => ok)).toBe(true);
    const { hosts } = site.stats();
    for (const name of ['slow', 'fast', 'mid']) {
      expect(hosts[name]?.requests).toBe(8);
      expect(hosts[name]?.maxInFlight).toBeLessThanOrEqual(2);
    }
    expect(hosts.slow?.maxInFlight).toBe(2);
    expect((await failureOrNull(getPage(site.hostUrl('nowhere', 'x')))) as HttpError).toMatchObject({
      status: 404,
    });
  });

  it('answers a bulk POST with one item per id, in order, and a single item by GET', async () => {
    const r = await getResponse(site.bulkUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(['a', 2, 'c']),
    });
    expect(JSON.parse(r.body)).toEqual([demoItem('a'), demoItem('2'), demoItem('c')]);
    expect(JSON.parse(await getPage(site.itemUrl('z')))).toEqual(demoItem('z'));
    expect(site.stats().bulk).toEqual({ calls: 1, ids: 3, items: 1 });
    const bad = (await failureOrNull(getPage(site.bulkUrl, { method: 'POST', body: '{' }))) as HttpError;
    expect(bad.status).toBe(400);
  });
});
