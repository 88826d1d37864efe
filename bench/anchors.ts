/**
 * Each row's anchor: the row it is held against in RESULTS.md's "÷ anchor" column — the floor of its shape (the
 * least any code of that shape can cost, written plainly in the bench) or the peer a user would pick instead. Kept
 * apart from the scenarios so that results measured before a row had an anchor show it too.
 */
export const ANCHORS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  semaphore: {
    'DeferredSemaphore.run': 'p-limit',
    'DeferredSemaphore.run, no DeferredList': 'bare workers (floor)',
    'DeferredSemaphore.run(fn, item) + gatherResults': 'minimal eager semaphore (floor)',
    'Promise.all over sem.run(fn, item)': 'minimal eager semaphore, thenable handles (floor)',
    'minimal eager semaphore, thenable handles (floor)': 'minimal eager semaphore (floor)',
    'await in a loop over sem.run(fn, item)': 'p-limit(fn, item), await in a loop',
    'p-limit(fn, item)': 'minimal eager semaphore (floor)',
    'p-limit(fn, item), await in a loop': 'minimal eager semaphore (floor)',
    'p-limit': 'minimal eager semaphore (floor)',
    'p-queue': 'minimal eager semaphore (floor)',
    'async.queue': 'bare workers (floor)',
  },
  lazy: {
    parallel: 'bare workers (floor)',
    parallelStream: 'async.mapLimit',
    'parallelStream, inBatches': 'async.mapLimit',
    'Cooperator.coiterate': 'bare workers (floor)',
    'p-map': 'bare workers (floor)',
    'p-map pMapIterable': 'bare workers (floor)',
    'async.mapLimit': 'bare workers (floor)',
  },
  'deferred-list': {
    DeferredList: 'Promise.allSettled',
    gatherResults: 'Promise.all',
  },
  memory: {
    'parallelStream, n=10': 'p-limit, n=10',
    'parallelStream, n=200': 'p-limit, n=200',
  },
  http: {
    getPage: 'undici request',
    fetch: 'undici request',
    got: 'undici request',
    axios: 'undici request',
  },
  notebooks: { 'npm run notebooks': 'jupyter nbconvert' },
  distributed: {
    'distributedStream, 1 worker x 48': 'parallelStream, one process',
    'distributedStream, 2 workers x 24': 'parallelStream, one process',
    'distributedStream, 4 workers x 12': 'parallelStream, one process',
  },
  limiter: {
    'RateLimiter.run': 'no limiter: Deferred per task (floor)',
    'p-throttle': 'no limiter: Promise.all (floor)',
  },
  'limiter-bottleneck': { 'RateLimiter.run': 'Bottleneck' },
  'per-key': { keyedParallel: 'Bottleneck group' },
  batcher: { batcher: 'DataLoader' },
  'keyed-memory': {
    keyedParallelStream: 'KeyedSemaphore eager',
    'keyedParallelStream, look-ahead full': 'KeyedSemaphore eager',
    'keyedParallelStream, a key per item': 'KeyedSemaphore eager',
  },
  'await-path': {
    'Promise.all over Deferreds settled after it': 'Promise.all over native Promises settled after it',
    'Promise.all over plain thenables settled after it (floor)':
      'Promise.all over native Promises settled after it',
    'Promise.allSettled over Deferreds settled after it':
      'Promise.allSettled over native Promises settled after it',
    'Promise.all over fired Deferreds': 'Promise.all over resolved native Promises',
    'Promise.all over settled plain thenables (floor)': 'Promise.all over resolved native Promises',
    'await in a loop over fired Deferreds': 'await in a loop over resolved native Promises',
    'await in a loop over settled plain thenables (floor)': 'await in a loop over resolved native Promises',
  },
};
