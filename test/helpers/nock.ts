// nock for the getPage tests: no request leaves the process, and nothing intercepted outlives the test that set it.
import { closeDefaultAgent } from 'async-batching';
import nock from 'nock';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** Registers, in the describe block (or file) that calls it, the hooks that keep nock's state to each test. */
export function interceptWithNock(): void {
  beforeAll(() => {
    nock.disableNetConnect();
  });
  afterEach(() => {
    nock.abortPendingRequests();
    nock.cleanAll();
  });
  afterAll(async () => {
    await closeDefaultAgent();
    nock.enableNetConnect();
    nock.restore();
  });
}
