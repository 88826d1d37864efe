// The walkthrough's recipe end to end: a DeferredSemaphore bounds how many getPage calls the demo site sees at once.
import { closeDefaultAgent, DeferredSemaphore, gatherResults, getPage } from 'async-batching';
import { type DemoSite, exampleUrls, pageHtml, startDemoSite } from 'async-batching/demo';
import { afterAll, beforeAll, expect, it } from 'vitest';

let site: DemoSite;

beforeAll(async () => {
  // The latency keeps each request in flight long enough for the next one to arrive beside it.
  site = await startDemoSite({ latency: 40 });
});

afterAll(async () => {
  await closeDefaultAgent();
  await site.close();
});

it('keeps at most 2 requests in flight with DeferredSemaphore(2)', async () => {
  const { pages } = exampleUrls(site, { live: false });
  const sem = new DeferredSemaphore(2);
  site.resetStats();
  const results = await gatherResults(pages.map((url) => sem.run(getPage, url)));
  expect(results).toHaveLength(pages.length);
  expect(results[0]).toBe(pageHtml('twisted'));
  expect(site.stats()).toMatchObject({ requests: pages.length, maxInFlight: 2 });
  expect(site.stats().maxConnections).toBeLessThanOrEqual(2);
});
