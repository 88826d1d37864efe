// How `parallel` and `parallelStream` take the polite options (`key`, `perKey`, `lookAhead`, `rate`): with a key the
// work goes to the keyed pool; a `rate` alone wraps each job in the limiter, and the usual pool runs it. Internal.

import { RateLimiter } from '../../blocks/rate-limiter.js';
import { describe } from '../../core/args.js';
import type { Deferred } from '../../core/deferred.js';
import type { DeferredListEntry } from '../deferred-list.js';
import { keyedParallel, keyedParallelStream } from './keyed.js';
import type { ParallelMapper, ParallelOutcome, ParallelStreamOptions } from './options.js';

function checkPolite(concurrency: number, o: ParallelStreamOptions): boolean {
  if (o.rate !== undefined && !(o.rate instanceof RateLimiter)) {
    throw new TypeError(`Expected \`options.rate\` to be a RateLimiter, got ${describe(o.rate)}`);
  }
  if (o.key === undefined && o.perKey === undefined) {
    if (o.lookAhead !== undefined)
      throw new TypeError('Expected `options.lookAhead` only together with `options.key`');
    return false;
  }
  if (o.key === undefined || o.perKey === undefined) {
    throw new TypeError('Expected `options.key` and `options.perKey` together, got only one of them');
  }
  if (o.cooperator !== undefined || o.stopOnError === true || o.ordered === true) {
    throw new TypeError(
      'Expected no `options.cooperator`, `options.stopOnError` or `options.ordered` together with `options.key`',
    );
  }
  if (concurrency === Number.POSITIVE_INFINITY) {
    throw new RangeError('Expected `concurrency` to be a whole number >= 1 with `options.key`, got Infinity');
  }
  if (o.backpressure === Number.POSITIVE_INFINITY) {
    throw new RangeError(
      'Expected `options.backpressure` to be a whole number >= 1 with `options.key`, got Infinity',
    );
  }
  return true;
}

function keyedOptions(o: ParallelStreamOptions) {
  return {
    key: o.key as (item: unknown, index: number) => string,
    perKey: o.perKey as number,
    lookAhead: o.lookAhead,
    rate: o.rate,
    signal: o.signal,
    backpressure: o.backpressure,
  };
}

/** `keyedParallel` for `parallel` called with a key, or null without one. */
export function keyedParallelFor<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: ParallelMapper<never, R>,
  o: ParallelStreamOptions,
): Deferred<DeferredListEntry<unknown>[]> | null {
  if (!checkPolite(concurrency, o)) return null;
  return keyedParallel(items, concurrency, fn as ParallelMapper<T, R>, keyedOptions(o)) as Deferred<
    DeferredListEntry<unknown>[]
  >;
}

/** `keyedParallelStream` for `parallelStream` called with a key, or null without one. */
export function keyedParallelStreamFor<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: ParallelMapper<never, R>,
  o: ParallelStreamOptions,
): AsyncIterableIterator<ParallelOutcome<T, unknown>, undefined> | null {
  if (!checkPolite(concurrency, o)) return null;
  return keyedParallelStream(
    items,
    concurrency,
    fn as ParallelMapper<T, R>,
    keyedOptions(o),
  ) as AsyncIterableIterator<ParallelOutcome<T, unknown>, undefined>;
}

/** `fn`, or with `options.rate` a job that starts `fn` through the limiter. */
export function ratedMapper<T, R>(fn: ParallelMapper<T, R>, o: ParallelStreamOptions): ParallelMapper<T, R> {
  const rate = o.rate;
  if (rate === undefined) return fn;
  return (item, index) => rate.run(fn, item, index) as PromiseLike<R>;
}
