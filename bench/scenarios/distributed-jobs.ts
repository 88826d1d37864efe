// The job of the distributed comparison, imported by the worker processes and by the one-process row alike.
import { setTimeout as sleep } from 'node:timers/promises';

/** About 2 ms of waiting, like a fast service on a local network, then a result. */
export async function ioJob(n: number): Promise<number> {
  await sleep(2);
  return n * 2;
}
