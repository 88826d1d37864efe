// A retry policy is the caller's code: when one of its hooks throws, the retry fails with that error instead of
// staying pending with the error reported only as an unhandled failure of the attempt's own chain.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Failure,
  getPage,
  ManualClock,
  type RetryOptions,
  retry,
  setUnhandledFailureReporter,
} from 'async-batching';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

let unhandled: Failure[] = [];
beforeEach(() => {
  unhandled = [];
  setUnhandledFailureReporter((f) => unhandled.push(f));
});
afterEach(() => {
  setUnhandledFailureReporter(null);
});

/** The error `d` failed with; `d` must have failed already (every step here is synchronous). */
function failedWith(d: { called: boolean; addErrback(fn: (f: Failure) => unknown): unknown }): unknown {
  expect(d.called).toBe(true);
  let error: unknown;
  d.addErrback((f) => {
    error = f.value;
  });
  return error;
}

describe('a throwing retry policy fails the retry with that error', () => {
  const thrown = new Error('policy bug');
  const hooks: [string, RetryOptions][] = [
    [
      'shouldRetry',
      {
        shouldRetry: () => {
          throw thrown;
        },
      },
    ],
    [
      'delayFor',
      {
        delayFor: () => {
          throw thrown;
        },
      },
    ],
    [
      'onRetry',
      {
        onRetry: () => {
          throw thrown;
        },
      },
    ],
    [
      'random',
      {
        random: () => {
          throw thrown;
        },
      },
    ],
  ];
  for (const [name, options] of hooks) {
    it(`when ${name} throws`, () => {
      const clock = new ManualClock();
      let calls = 0;
      const d = retry(
        () => {
          calls++;
          throw new Error('attempt failed');
        },
        { ...options, clock },
      );
      expect(failedWith(d)).toBe(thrown);
      expect(calls).toBe(1);
      expect(clock.pending).toBe(0);
      expect(unhandled).toEqual([]);
    });
  }

  it('when the clock throws as the wait is set', () => {
    const clock = {
      now: () => 0,
      setTimeout: () => {
        throw thrown;
      },
      clearTimeout: () => undefined,
    };
    const d = retry(
      () => {
        throw new Error('attempt failed');
      },
      { clock },
    );
    expect(failedWith(d)).toBe(thrown);
  });

  it('when a Promise attempt fails and the policy throws afterwards', async () => {
    const d = retry(() => Promise.reject(new Error('attempt failed')), {
      shouldRetry: () => {
        throw thrown;
      },
    });
    await expect(d).rejects.toBe(thrown);
    expect(unhandled).toEqual([]);
  });
});

describe("getPage's retry fails with the error its `now` option throws", () => {
  let server: Server;
  let origin: string;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(503, { 'retry-after': 'Sun, 06 Dec 2026 12:00:05 GMT', connection: 'close' });
      res.end('busy');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('instead of staying pending', { timeout: 10_000 }, async () => {
    const thrown = new Error('no clock');
    const d = getPage(`${origin}/busy`, {
      retry: {
        attempts: 3,
        clock: new ManualClock(),
        now: () => {
          throw thrown;
        },
      },
    });
    await expect(d).rejects.toBe(thrown);
    expect(requests).toBe(1);
  });
});
