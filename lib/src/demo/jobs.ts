// Job functions for worker processes (async-batching/bullmq's forkWorker): a worker process imports this module by
// path, so the notebooks can start workers without writing a file of their own.
import { fileURLToPath } from 'node:url';
import { getPage } from '../io/get-page/index.js';

/** The path of this module, to pass as `forkWorker`'s `module` option. */
export const JOBS_MODULE: string = fileURLToPath(import.meta.url);

/** Fetches `url` and answers with the length of its text: the walkthrough's per-page job. */
export async function pageLength(url: string): Promise<number> {
  const page = await getPage(url);
  return page.length;
}
