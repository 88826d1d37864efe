/**
 * The floor of the eager-semaphore shape: the least a limiter that hands back one Promise per job can do. One Promise
 * per job, an array as the queue, no options, no cancellation, no checks. The semaphore rows are held against it.
 */
export function minimalSemaphore(concurrency: number) {
  const queue: (() => void)[] = [];
  let head = 0;
  let active = 0;
  const next = () => {
    active--;
    if (head < queue.length) {
      const start = queue[head];
      queue[head++] = undefined as never;
      active++;
      start();
    }
  };
  return <A, R>(fn: (arg: A) => Promise<R>, arg: A): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const start = () =>
        fn(arg).then(
          (value) => {
            next();
            resolve(value);
          },
          (reason) => {
            next();
            reject(reason);
          },
        );
      if (active < concurrency) {
        active++;
        start();
      } else {
        queue.push(start);
      }
    });
}
