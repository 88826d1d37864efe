// Runs one comparison in a fresh process (started by bench/run.ts with fork) and sends its result back over IPC,
// so each comparison starts with a clean heap and a cold JIT instead of the state the one before left behind.
import { comparisonById, type Mode } from './comparisons.ts';

const [id, mode] = process.argv.slice(2);
if (mode !== 'full' && mode !== 'quick')
  throw new TypeError(`Expected \`mode\` to be full or quick, got ${mode}`);
if (process.send === undefined)
  throw new Error('bench/child.ts is started by bench/run.ts, with an IPC channel');
const result = await comparisonById(id).run(mode as Mode);
process.send(result, () => process.disconnect());
