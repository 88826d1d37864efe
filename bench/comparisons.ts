import type { Comparison } from './harness.ts';
import { AWAIT_PATH_FULL, AWAIT_PATH_QUICK, awaitPathComparison } from './scenarios/await-path.ts';
import {
  DEFERRED_LIST_FULL,
  DEFERRED_LIST_QUICK,
  deferredListComparison,
} from './scenarios/deferred-list.ts';
import { DISTRIBUTED_FULL, DISTRIBUTED_QUICK, distributedComparison } from './scenarios/distributed.ts';
import {
  distributedRawComparison,
  RAW_IO_FULL,
  RAW_IO_QUICK,
  RAW_NOOP_FULL,
  RAW_NOOP_QUICK,
} from './scenarios/distributed-raw.ts';
import {
  distributedScalingComparison,
  SCALING_FULL,
  SCALING_QUICK,
} from './scenarios/distributed-scaling.ts';
import { HTTP_FULL, HTTP_QUICK, httpComparison } from './scenarios/http.ts';
import { LAZY_FULL, LAZY_QUICK, lazyComparison } from './scenarios/lazy.ts';
import { MEMORY_FULL, MEMORY_QUICK, memoryComparison } from './scenarios/memory.ts';
import { NOTEBOOKS_FULL, NOTEBOOKS_QUICK, notebooksComparison } from './scenarios/notebooks.ts';
import {
  batcherComparison,
  KEYED_MEMORY_FULL,
  KEYED_MEMORY_QUICK,
  keyedMemoryComparison,
  limiterBottleneckComparison,
  limiterComparison,
  POLITE_FULL,
  POLITE_QUICK,
  perKeyComparison,
} from './scenarios/polite.ts';
import { SEMAPHORE_FULL, SEMAPHORE_QUICK, semaphoreComparison } from './scenarios/semaphore.ts';

export type Mode = 'full' | 'quick';

/** A comparison the runner knows: how to run it, and with what sizes in each mode. */
export interface ComparisonSpec {
  id: string;
  run: (mode: Mode) => Promise<Comparison>;
}

function spec<P>(id: string, fn: (p: P) => Promise<Comparison>, full: P, quick: P): ComparisonSpec {
  return { id, run: (mode) => fn(mode === 'full' ? full : quick) };
}

/** Every comparison, in the order the brief numbers them. */
export const COMPARISONS: readonly ComparisonSpec[] = [
  spec('semaphore', semaphoreComparison, SEMAPHORE_FULL, SEMAPHORE_QUICK),
  spec('lazy', lazyComparison, LAZY_FULL, LAZY_QUICK),
  spec('deferred-list', deferredListComparison, DEFERRED_LIST_FULL, DEFERRED_LIST_QUICK),
  spec('memory', memoryComparison, MEMORY_FULL, MEMORY_QUICK),
  spec('http', httpComparison, HTTP_FULL, HTTP_QUICK),
  spec('notebooks', notebooksComparison, NOTEBOOKS_FULL, NOTEBOOKS_QUICK),
  spec('distributed', distributedComparison, DISTRIBUTED_FULL, DISTRIBUTED_QUICK),
  spec('distributed-raw', distributedRawComparison, RAW_NOOP_FULL, RAW_NOOP_QUICK),
  spec('distributed-raw-io', distributedRawComparison, RAW_IO_FULL, RAW_IO_QUICK),
  spec('distributed-scaling', distributedScalingComparison, SCALING_FULL, SCALING_QUICK),
  spec('limiter', limiterComparison, POLITE_FULL, POLITE_QUICK),
  spec('limiter-bottleneck', limiterBottleneckComparison, POLITE_FULL, POLITE_QUICK),
  spec('per-key', perKeyComparison, POLITE_FULL, POLITE_QUICK),
  spec('batcher', batcherComparison, POLITE_FULL, POLITE_QUICK),
  spec('keyed-memory', keyedMemoryComparison, KEYED_MEMORY_FULL, KEYED_MEMORY_QUICK),
  spec('await-path', awaitPathComparison, AWAIT_PATH_FULL, AWAIT_PATH_QUICK),
];

export const COMPARISON_IDS: readonly string[] = COMPARISONS.map((c) => c.id);

export function comparisonById(id: string): ComparisonSpec {
  const found = COMPARISONS.find((c) => c.id === id);
  if (found === undefined) {
    throw new RangeError(
      `Expected a comparison id (${COMPARISON_IDS.join(', ')}), got ${JSON.stringify(id)}`,
    );
  }
  return found;
}
