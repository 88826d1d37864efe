/** Helpers for reading how a Deferred or Promise ended, shared by the tests. */

/**
 * The error `d` fails with. The returned promise rejects, failing the test, when `d` succeeds instead.
 * @param d a Deferred, Promise or any thenable expected to fail.
 */
export async function failureOf(d: PromiseLike<unknown>): Promise<Error> {
  try {
    await d;
  } catch (e) {
    return e as Error;
  }
  throw new Error('Expected the Deferred to fail');
}

/** What `d` fails with, or null when it succeeds: for a batch where some items may fail and others not. */
export function failureOrNull(d: PromiseLike<unknown>): Promise<unknown> {
  return Promise.resolve(d).then(
    () => null,
    (e: unknown) => e,
  );
}

/**
 * Options for `vi.waitUntil` when a test waits for a server to see what a client did (a socket closing, a request
 * arriving): it learns a moment later, and on a loaded machine that moment can take seconds.
 */
export const SERVER_SEES = { timeout: 10_000, interval: 10 } as const;
