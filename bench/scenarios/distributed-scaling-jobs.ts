// The job of the distributed-scaling comparison, imported by its worker processes.
import { setTimeout as sleep } from 'node:timers/promises';

/** Waits `ms` (a call to a slow service: I/O-bound, no CPU), then answers with it. */
export async function waitFor(ms: number): Promise<number> {
  await sleep(ms);
  return ms;
}
