// Notebook 9's recipe as a plain Node program: the same demo site (2-20 ms a page), the same pool of fifty
// connections opened first, 10,000 requests through parallelStream, fifty at a time. Prints `{"rate": <requests/s>}`,
// the figure the notebook's record is compared with (test/notebooks/recorded-timings.test.ts).
import { getPage, parallelStream } from 'async-batching';
import { startDemoSite } from 'async-batching/demo';
import { Agent } from 'undici';

const TOTAL = 10_000;
const CONCURRENCY = 50;

const site = await startDemoSite({ latency: { min: 2, max: 20 } });
const pool = new Agent({ connections: CONCURRENCY });
const fetchPage = (url: string) => getPage(url, { dispatcher: pool });
try {
  await Promise.all(Array.from({ length: CONCURRENCY }, () => fetchPage(site.url)));
  function* urlsFor(count: number) {
    for (let i = 0; i < count; i++) yield site.pageUrl(`page-${i % 500}`);
  }
  const started = performance.now();
  let failed = 0;
  for await (const outcome of parallelStream(urlsFor(TOTAL), CONCURRENCY, fetchPage)) {
    if (!outcome.ok) failed++;
  }
  const seconds = (performance.now() - started) / 1000;
  if (failed > 0) throw new Error(`${failed} of ${TOTAL} requests failed`);
  process.stdout.write(`${JSON.stringify({ rate: TOTAL / seconds })}\n`);
} finally {
  await site.close();
  await pool.close();
}
