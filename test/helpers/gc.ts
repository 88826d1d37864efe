import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
/** The engine's `gc()`, obtained in-process so tests need no command-line flag. */
export const gc = runInNewContext('gc') as () => void;

/**
 * Collects garbage and lets FinalizationRegistry callbacks run, until `done()` holds or `rounds` are spent.
 * Finalizers run on a later turn of the event loop than the collection that found their target.
 */
export async function collectGarbage(done: () => boolean = () => false, rounds = 20): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    gc();
    await tick();
  }
  // A few more rounds, so a second (wrong) report would have had its chance to arrive too.
  for (let i = 0; i < 3; i++) {
    gc();
    await tick();
  }
}
