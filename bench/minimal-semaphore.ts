/**
 * The floor of the eager-semaphore shape: the least a limiter that hands back a Promise per job can do. One Promise
 * per job, an array as the queue; no options, no cancellation, no argument checks. The semaphore rows are held
 * against it.
 */
export function minimalSemaphore(concurrency: number) {
  const queue: (() => void)[] = [];
  let head = 0;
  let active = 0;
  // A finished job hands its place to the oldest waiting one, if any.
  const done = () => {
    if (head < queue.length) queue[head++]();
    else active--;
  };
  return <A, R>(fn: (arg: A) => Promise<R>, arg: A): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const start = () => {
        fn(arg).then(
          (v) => {
            done();
            resolve(v);
          },
          (e) => {
            done();
            reject(e);
          },
        );
      };
      if (active >= concurrency) queue.push(start);
      else {
        active++;
        start();
      }
    });
}
