export { parallel } from './list.js';
export {
  type ParallelMapper,
  type ParallelOptions,
  type ParallelOutcome,
  type ParallelSkip,
  type ParallelStreamOptions,
  parallelSkip,
} from './options.js';
export { inBatches, parallelStream } from './stream.js';
