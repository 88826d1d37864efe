// The job of the distributed comparison, imported by the worker processes and by the one-process row alike.
import { setTimeout as sleep } from 'node:timers/promises';

/** About 2 ms of waiting, like a fast service on a local network, then a result. */
export async function ioJob(n: number): Promise<number> {
  await sleep(2);
  return n * 2;
}

/** Nothing to do: what the layer itself costs per job. */
export function noopJob(n: number): number {
  return n;
}

/** 20 ms of waiting, like a call to a service: the I/O-bound row. */
export async function waitJob(n: number): Promise<number> {
  await sleep(20);
  return n;
}
