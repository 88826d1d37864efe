import {
  attemptsOf,
  CancelledError,
  Deferred,
  fail,
  HttpError,
  ManualClock,
  parseRetryAfter,
  RETRY_STATUSES,
  retry,
  retrying,
  succeed,
  TimeoutError,
} from 'async-batching';
import { describe, expect, it } from 'vitest';

/** A job that fails `failures` times (with `makeError`), then succeeds with its attempt number. */
function flaky(failures: number, makeError: (attempt: number) => unknown = (n) => new Error(`fail ${n}`)) {
  const calls: number[] = [];
  const fn = (attempt: number) => {
    calls.push(attempt);
    if (attempt <= failures) throw makeError(attempt);
    return attempt;
  };
  return { fn, calls };
}

function http(status: number, headers: Record<string, string> = {}) {
  return new HttpError(status, headers, '', { url: 'http://example.test/' });
}

describe('retry', () => {
  it('rejects bad options, naming them', () => {
    expect(() => retry(() => 1, { attempts: 0 })).toThrow(
      new RangeError('Expected `attempts` to be a whole number >= 1, got 0'),
    );
    expect(() => retry(() => 1, { jitter: 2 })).toThrow(
      new RangeError('Expected `jitter` to be a number from 0 to 1, got 2'),
    );
    expect(() => retry(() => 1, { minDelay: -1 })).toThrow(RangeError);
    expect(() => retry(() => 1, { shouldRetry: 3 as never })).toThrow(TypeError);
    expect(() => retry(null as never)).toThrow(new TypeError('Expected `fn` to be a function, got null'));
  });

  it('retries with exponential backoff capped by maxDelay, and fires with the first success', async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(3);
    const delays: number[] = [];
    const d = retry(fn, {
      attempts: 5,
      minDelay: 100,
      factor: 3,
      maxDelay: 500,
      jitter: 0,
      clock,
      onRetry: (e) => delays.push(e.delay),
    });
    expect(calls).toEqual([1]);
    clock.advance(99);
    expect(calls).toEqual([1]);
    clock.advance(1);
    expect(calls).toEqual([1, 2]);
    clock.advance(300);
    clock.advance(500);
    expect(calls).toEqual([1, 2, 3, 4]);
    expect(delays).toEqual([100, 300, 500]);
    await expect(d).resolves.toBe(4);
  });

  it('spreads each wait by the jitter share: from (1 - jitter) of the backoff to all of it', () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const randoms = [0, 0.999_999, 0.5];
    retry(flaky(3).fn, {
      attempts: 4,
      minDelay: 1000,
      factor: 1,
      jitter: 0.5,
      clock,
      random: () => randoms.shift() as number,
      onRetry: (e) => delays.push(e.delay),
    }).addErrback(() => null);
    clock.advance(10_000);
    expect(delays[0]).toBe(1000);
    expect(delays[1]).toBeCloseTo(500, 2);
    expect(delays[2]).toBe(750);
  });

  it('gives up after the last attempt with the very error of that attempt, carrying the attempts made', async () => {
    const clock = new ManualClock();
    const d = retry(flaky(10, (n) => new TimeoutError(n, { url: 'u' })).fn, { attempts: 3, clock });
    clock.advance(60_000);
    const error = await d.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeout).toBe(3);
    expect((error as TimeoutError).attempts).toBe(3);
    expect(attemptsOf(error)).toBe(3);
  });

  it('records attempts on a foreign error too', async () => {
    const d = retry(flaky(10).fn, { attempts: 1 });
    const error = await d.then(
      () => null,
      (e: unknown) => e,
    );
    expect(attemptsOf(error)).toBe(1);
    expect(attemptsOf('text')).toBeUndefined();
  });

  it('does not retry an error shouldRetry refuses', async () => {
    const { fn, calls } = flaky(5);
    await expect(
      retry(fn, { attempts: 5, shouldRetry: (e) => !String(e).includes('fail 1') }),
    ).rejects.toThrow('fail 1');
    expect(calls).toEqual([1]);
  });

  it('stops before a wait that would take the total past maxTotalWait', async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(10);
    const d = retry(fn, { attempts: 10, minDelay: 100, factor: 2, jitter: 0, maxTotalWait: 350, clock });
    clock.advance(10_000);
    // Waits 100 and 200 fit in 350; the next, 400, would not.
    expect(calls).toEqual([1, 2, 3]);
    await expect(d).rejects.toThrow('fail 3');
  });

  it('waits as long as delayFor asks, uncapped by maxDelay', () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(1);
    retry(fn, { maxDelay: 10, clock, delayFor: () => 5_000 });
    clock.advance(4_999);
    expect(calls).toEqual([1]);
    clock.advance(1);
    expect(calls).toEqual([1, 2]);
  });

  it('cancelling between attempts clears the wait: no further attempt is made', async () => {
    const clock = new ManualClock();
    const { fn, calls } = flaky(5);
    const d = retry(fn, { attempts: 5, clock });
    expect(clock.pending).toBe(1);
    d.cancel();
    await expect(d).rejects.toBeInstanceOf(CancelledError);
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(calls).toEqual([1]);
  });

  it('cancelling during an attempt cancels the Deferred it returned, even when every error is retried', async () => {
    const clock = new ManualClock();
    let cancelled = 0;
    const d = retry(
      () =>
        new Deferred<number>(() => {
          cancelled++;
        }),
      { attempts: 5, clock, shouldRetry: () => true },
    );
    d.cancel();
    await expect(d).rejects.toBeInstanceOf(CancelledError);
    expect(cancelled).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('cancelling during an attempt fails at once, but the chain goes on only once that attempt has settled', () => {
    const gate = new Deferred<undefined>();
    // An attempt that, like getPage, lets its cancellation through only once it has let go of what it holds.
    const attempt = new Deferred<number>(() => {});
    attempt.addErrback((failure) => gate.addCallback(() => failure));
    const d = retry(() => attempt, { clock: new ManualClock() });
    let reached: unknown = null;
    d.addErrback((failure) => {
      reached = failure.value;
      return null;
    });
    d.cancel();
    expect(d.called).toBe(true);
    expect(reached).toBe(null);
    gate.callback(undefined);
    expect(reached).toBeInstanceOf(CancelledError);
  });

  it('takes a signal from another realm, as getPage does, and refuses one without the listener API', async () => {
    const listeners: (() => void)[] = [];
    const foreign = {
      aborted: false,
      reason: new Error('stopped from elsewhere'),
      addEventListener: (_: string, listener: () => void) => listeners.push(listener),
      removeEventListener: () => {},
    };
    const clock = new ManualClock();
    const d = retry(() => Promise.reject(new Error('down')), {
      attempts: 5,
      clock,
      signal: foreign as never,
    });
    await Promise.resolve();
    foreign.aborted = true;
    for (const listener of listeners) listener();
    await expect(d).rejects.toBeInstanceOf(CancelledError);
    const half = { aborted: false, addEventListener() {} };
    expect(() => retry(() => 1, { signal: half as never })).toThrow(
      /Expected `signal` to be an AbortSignal.*got/,
    );
  });

  it('aborting the signal stops the retries', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const { fn, calls } = flaky(5);
    const d = retry(fn, { attempts: 5, clock, signal: ac.signal });
    ac.abort();
    await expect(d).rejects.toBeInstanceOf(CancelledError);
    clock.advance(60_000);
    expect(calls).toEqual([1]);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and refuses anything else', () => {
    const now = Date.parse('Sun, 29 Nov 2026 12:00:00 GMT');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 29 Nov 2026 12:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000);
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('retrying', () => {
  it('retries the listed statuses, waiting as Retry-After asks (seconds and date forms)', async () => {
    const clock = new ManualClock();
    const now = Date.parse('Sun, 29 Nov 2026 12:00:00 GMT');
    const answers: unknown[] = [
      http(429, { 'retry-after': '2' }),
      http(503, { 'retry-after': 'Sun, 29 Nov 2026 12:00:05 GMT' }),
      'page',
    ];
    const calls: number[] = [];
    // Deferreds that fire at once, so the clock alone decides when each attempt happens.
    const get = (_url: string | URL) => {
      calls.push(clock.now());
      const a = answers.shift();
      return a instanceof Error ? fail<string>(a) : succeed(a as string);
    };
    const polite = retrying(get, { attempts: 3, clock, now: () => now + clock.now() });
    const d = polite('http://x.test/');
    clock.advance(2_000);
    expect(calls).toEqual([0, 2_000]);
    clock.advance(2_999);
    expect(calls).toEqual([0, 2_000]);
    clock.advance(1);
    // The date asks for 12:00:05; the second attempt was made at 12:00:02.
    expect(calls).toEqual([0, 2_000, 5_000]);
    await expect(d).resolves.toBe('page');
  });

  it('does not retry a status that is not listed, nor a Retry-After longer than maxRetryAfter', async () => {
    const calls: number[] = [];
    const answer = (e: HttpError) => () => {
      calls.push(1);
      return Promise.reject(e);
    };
    await expect(retrying(answer(http(404)))('http://x.test/')).rejects.toBeInstanceOf(HttpError);
    expect(calls.length).toBe(1);
    const long = http(429, { 'retry-after': '3600' });
    const error = await retrying(answer(long), { maxRetryAfter: 60_000 })('http://x.test/').then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBe(long);
    expect((error as HttpError).attempts).toBe(1);
    expect(calls.length).toBe(2);
    expect(RETRY_STATUSES).toContain(429);
  });
});
