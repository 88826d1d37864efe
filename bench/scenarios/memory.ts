import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Comparison, median, type Row } from '../harness.ts';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url));

export interface MemoryParams {
  count: number;
  concurrencies: number[];
  /** Fresh processes per row; the median is reported. */
  rounds: number;
}

export const MEMORY_FULL: MemoryParams = { count: 1_000_000, concurrencies: [10, 200], rounds: 3 };
export const MEMORY_QUICK: MemoryParams = { count: 250_000, concurrencies: [10, 200], rounds: 1 };

/** Our target, in MB of peak heap growth, whatever the concurrency. */
const LIMIT_MB = 32;

async function measure(variant: string, count: number, concurrency: number): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', CHILD, variant, String(count), String(concurrency)],
    {
      maxBuffer: 1 << 20,
    },
  );
  const { peakMB } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { peakMB: number };
  if (typeof peakMB !== 'number' || !Number.isFinite(peakMB))
    throw new Error(`memory child printed ${stdout}`);
  return peakMB;
}

/** Comparison 4: peak heap growth while a huge batch runs, lazily generated or eagerly queued. */
export async function memoryComparison(p: MemoryParams): Promise<Comparison> {
  const contestants = [
    {
      variant: 'parallelStream',
      ours: true,
      how: 'parallelStream over a generator, outcomes consumed as they come',
    },
    { variant: 'p-limit', ours: false, how: 'Promise.all of limit(task, i) over an array of every item' },
  ];
  const cells = contestants.flatMap((c) =>
    p.concurrencies.map((n) => ({ ...c, name: `${c.variant}, n=${n}`, n, samples: [] as number[] })),
  );
  for (let r = 0; r < p.rounds; r++) {
    for (const cell of cells) cell.samples.push(await measure(cell.variant, p.count, cell.n));
  }
  const rows: Row[] = cells.map((c) => ({
    name: c.name,
    ours: c.ours,
    how: c.how,
    value: median(c.samples),
    samples: c.samples,
    // Each eager row is held against ours at the same concurrency.
    ...(c.ours ? {} : { against: `${contestants[0].variant}, n=${c.n}` }),
  }));
  const ours = rows.filter((r) => r.ours);
  const worst = Math.max(...ours.map((r) => r.value));
  return {
    id: 'memory',
    title: 'Memory',
    workload: `${p.count.toLocaleString('en-US')} no-op tasks, peak heapUsed growth over a collected heap`,
    unit: 'MB',
    baseline: ours[0].name,
    rows,
    targets: [
      {
        text: `parallelStream under ${LIMIT_MB} MB at n=${p.concurrencies.join(' and n=')}`,
        holds: worst < LIMIT_MB,
        actual: `${worst.toFixed(1)} MB at most`,
      },
    ],
  };
}
