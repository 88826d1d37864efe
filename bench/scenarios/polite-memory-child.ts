// One keyed memory measurement in a fresh process:
//   node --expose-gc bench/scenarios/polite-memory-child.ts <variant> <count>
// where <variant> is one of VARIANTS' names or "KeyedSemaphore eager".
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

/** The keyed streams measured: the row's name, its key function and its perKey (concurrency 50, look-ahead 1000). */
const VARIANTS: Record<string, { key: (i: number) => string; perKey: number }> = {
  // 20 keys x 5 > 50 slots: items hardly ever wait for their key (none did when counted), so the buffer stays empty.
  keyedParallelStream: { key: keyOf, perKey: 5 },
  // 20 keys x 1 < 50 slots: the look-ahead buffer stays full of items waiting for their key.
  'keyedParallelStream, look-ahead full': { key: keyOf, perKey: 1 },
  // Every key is new and goes idle after its one job: per-key state must be dropped. Base 36, because strings made
  // from a million distinct decimal numbers cost about 30 MB of peak heap whoever makes them (see RESULTS.md).
  'keyedParallelStream, a key per item': { key: (i) => `host${i.toString(36)}`, perKey: 5 },
};

gc();
gc();
const base = process.memoryUsage().heapUsed;
peak = base;
const start = performance.now();
const keyed = variant !== undefined && Object.hasOwn(VARIANTS, variant) ? VARIANTS[variant] : undefined;
if (keyed !== undefined) {
  for await (const outcome of keyedParallelStream(range(count), 50, task, { ...keyed, lookAhead: 1000 })) {
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
    `Expected \`variant\` to be one of ${JSON.stringify([...Object.keys(VARIANTS), 'KeyedSemaphore eager'])}, got ${JSON.stringify(variant)}`,
  );
}
const elapsedMs = performance.now() - start;
sample();
process.stdout.write(`${JSON.stringify({ peakMB: (peak - base) / 2 ** 20, elapsedMs })}\n`);
