// Job functions for worker processes (async-batching/bullmq's forkWorker): a worker process imports this module by
// path, so the notebooks can start workers without writing a file of their own.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getPage } from '../io/get-page/index.js';

/** The path of this module, to pass as `forkWorker`'s `module` option. */
export const JOBS_MODULE: string = fileURLToPath(import.meta.url);

/** Fetches `url` and answers with the length of its text: the walkthrough's per-page job. */
export async function pageLength(url: string): Promise<number> {
  const page = await getPage(url);
  return page.length;
}

/** The item of {@link savePageLength}: the page to fetch and the folder that holds what the jobs saved. */
export interface SaveItem {
  /** The page to fetch. */
  url: string;
  /** The folder where the job writes `<job id>.json`; it must exist. */
  dir: string;
}

/**
 * Fetches `item.url` and saves its length in `item.dir`, in a file named after the job id, at most once: the file is
 * created exclusively, so a second run of the same job (at-least-once delivery: its worker died, or lost its lock)
 * finds it there and leaves it as the first run wrote it. Answers with the length, the attempt and whether this run
 * was the one that saved it.
 */
export async function savePageLength(
  item: SaveItem,
  job: { id: string; attempt: number },
): Promise<{
  /** The length of the page's text (its `string.length`). */
  length: number;
  /** The attempt of the run that answers (`job.attempt`). */
  attempt: number;
  /** True when this run wrote the file; false when an earlier run of the same job had. */
  saved: boolean;
}> {
  const length = (await getPage(item.url)).length;
  try {
    await writeFile(join(item.dir, `${job.id}.json`), JSON.stringify({ url: item.url, length }), {
      flag: 'wx',
    });
    return { length, attempt: job.attempt, saved: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return { length, attempt: job.attempt, saved: false };
  }
}
