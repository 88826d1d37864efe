// One keyed memory measurement in a fresh process:
//   node --expose-gc bench/scenarios/polite-memory-child.ts <keyedParallelStream|KeyedSemaphore eager> <count>
// Prints one line of JSON: { peakMB, elapsedMs }.
import { type Deferred, KeyedSemaphore, keyedParallelStream } from 'async-batching';
import { gc, range } from '../harness.ts';

const [variant, countText] = process.argv.slice(2);
const count = Number(countText);
if (!Number.isInteger(count) || count < 1) throw new RangeError(`Expected \`count\` >= 1, got ${countText}`);

// Sampled from inside the tasks: they settle in microtasks, so a timer would never get a turn during the run.
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
const keyOf = (i: number) => `host${i % 20}`;

gc();
gc();
const base = process.memoryUsage().heapUsed;
peak = base;
const start = performance.now();
if (variant === 'keyedParallelStream') {
  for await (const outcome of keyedParallelStream(range(count), 50, task, {
    key: keyOf,
    perKey: 5,
    lookAhead: 1000,
  })) {
    if (!outcome.ok) throw outcome.failure.value;
  }
} else if (variant === 'KeyedSemaphore eager') {
  const keyed = new KeyedSemaphore(5);
  const pending: Deferred<number>[] = [];
  for (let i = 0; i < count; i++) pending.push(keyed.run(keyOf(i), task, i));
  sample();
  for (const d of pending) await d;
} else {
  throw new TypeError(
    `Expected \`variant\` to be keyedParallelStream or "KeyedSemaphore eager", got ${JSON.stringify(variant)}`,
  );
}
const elapsedMs = performance.now() - start;
sample();
process.stdout.write(`${JSON.stringify({ peakMB: (peak - base) / 2 ** 20, elapsedMs })}\n`);
