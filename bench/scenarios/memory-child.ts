// One memory measurement in a fresh process, so no other row's garbage or JIT state is counted:
//   node --expose-gc bench/scenarios/memory-child.ts <parallelStream|p-limit> <count> <concurrency>
// Prints one line of JSON: { peakMB, elapsedMs }.
import { parallelStream } from 'async-batching';
import pLimit from 'p-limit';
import { gc, range } from '../harness.ts';

const [variant, countText, concurrencyText] = process.argv.slice(2);
const count = Number(countText);
const concurrency = Number(concurrencyText);
if (!Number.isInteger(count) || count < 1) throw new RangeError(`Expected \`count\` >= 1, got ${countText}`);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  throw new RangeError(`Expected \`concurrency\` >= 1, got ${concurrencyText}`);
}

// Sampling from inside the tasks: they resolve in microtasks, so a timer would never get a turn during the run.
const SAMPLE_EVERY = 1024;
let peak = 0;
function sample(): void {
  const used = process.memoryUsage().heapUsed;
  if (used > peak) peak = used;
}
const task = async (i: number): Promise<number> => {
  if (i % SAMPLE_EVERY === 0) sample();
  return i;
};

gc();
gc();
const base = process.memoryUsage().heapUsed;
peak = base;
const start = performance.now();
if (variant === 'parallelStream') {
  for await (const outcome of parallelStream(range(count), concurrency, task)) {
    if (!outcome.ok) throw outcome.failure.value;
  }
} else if (variant === 'p-limit') {
  const limit = pLimit(concurrency);
  const items = Array.from({ length: count }, (_, i) => i);
  const pending = items.map((i) => limit(task, i));
  sample();
  await Promise.all(pending);
} else {
  throw new TypeError(`Expected \`variant\` to be parallelStream or p-limit, got ${JSON.stringify(variant)}`);
}
const elapsedMs = performance.now() - start;
sample();
process.stdout.write(`${JSON.stringify({ peakMB: (peak - base) / 2 ** 20, elapsedMs })}\n`);
