/**
 * The package's error classes, as undici's: one root, each class its own literal `code` (so `switch (e.code)` narrows),
 * and a `Symbol.for` brand that `instanceof` reads, so two installed copies of the package agree on what an error is.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as lib from 'async-batching';
import {
  AlreadyCalledError,
  type AnyAsyncBatchingError,
  AsyncBatchingError,
  CancelledError,
  GetPageError,
  HttpError,
  isAsyncBatchingError,
  retry,
  TaskDone,
  TaskFinished,
  TimeoutError,
} from 'async-batching';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Every error class the package exports, by name. */
const classes = Object.entries(lib).filter(
  (entry): entry is [string, typeof AsyncBatchingError] =>
    typeof entry[1] === 'function' &&
    (entry[1] === AsyncBatchingError || entry[1].prototype instanceof AsyncBatchingError),
);

/** A small instance of each class (their constructors differ). */
function sample(C: typeof AsyncBatchingError): AsyncBatchingError {
  const options = { url: 'http://x.test/' };
  switch (C.name) {
    case 'HttpError':
      return new HttpError(503, {}, '', options);
    case 'FirstError':
      return new lib.FirstError(new lib.Failure(new Error('x')), 0);
    case 'FailureGroup':
      return new lib.FailureGroup([]);
    case 'DeferredTimeoutError':
      return new lib.DeferredTimeoutError(5);
    case 'QueueOverflow':
      return new lib.QueueOverflow(1);
    case 'QueueUnderflow':
      return new lib.QueueUnderflow(1);
    case 'BatchResultCountError':
      return new lib.BatchResultCountError(1, 2);
    case 'DNSLookupError':
      return new lib.DNSLookupError('x.test', options);
    case 'TimeoutError':
      return new TimeoutError(5, options);
    case 'ResponseTooLargeError':
      return new lib.ResponseTooLargeError(5, options);
    case 'TooManyRedirectsError':
      return new lib.TooManyRedirectsError(5, options);
    case 'InvalidURLError':
      return new lib.InvalidURLError('bad', options);
    case 'GetPageError':
      return new GetPageError('x', options);
    case 'ConnectionRefusedError':
    case 'ConnectionLostError':
    case 'BadResponseError':
      return new (C as unknown as new (o: typeof options) => AsyncBatchingError)(options);
    default:
      return new (C as unknown as new () => AsyncBatchingError)();
  }
}

describe('error classes', () => {
  it('each has its own literal AB_ERR_* code and its own name', () => {
    expect(classes.length).toBeGreaterThanOrEqual(25);
    const codes = new Set<string>();
    for (const [name, C] of classes) {
      const e = sample(C);
      expect(e.name, name).toBe(name);
      expect(e.code, name).toMatch(/^AB_ERR(_[A-Z_]+)?$/);
      expect(codes.has(e.code), `${name}: ${e.code} is used twice`).toBe(false);
      codes.add(e.code);
      expect(e instanceof AsyncBatchingError).toBe(true);
      expect(e instanceof C).toBe(true);
    }
  });

  it('answers instanceof by class, not by the root alone', () => {
    expect(new TaskDone() instanceof TaskFinished).toBe(true);
    expect(new TaskFinished() instanceof TaskDone).toBe(false);
    expect(new CancelledError() instanceof HttpError).toBe(false);
    expect(new HttpError(404, {}, '', { url: 'u' }) instanceof GetPageError).toBe(true);
    expect(new Error('plain') instanceof AsyncBatchingError).toBe(false);
    expect((null as unknown) instanceof AsyncBatchingError).toBe(false);
    // A subclass of a user's own, without a brand, gets the ordinary prototype check.
    class Mine extends CancelledError {}
    expect(new Mine() instanceof CancelledError).toBe(true);
    expect(new CancelledError() instanceof Mine).toBe(false);
  });

  it('narrows on code in a switch (checked by the type checker)', () => {
    const describeError = (e: unknown): string => {
      if (!isAsyncBatchingError(e)) return 'not ours';
      const error: AnyAsyncBatchingError = e;
      switch (error.code) {
        case 'AB_ERR_HTTP':
          return `status ${error.status}`;
        case 'AB_ERR_TIMEOUT':
          return `timeout ${error.timeout}`;
        case 'AB_ERR_QUEUE_OVERFLOW':
          return `size ${error.size}`;
        default:
          return error.code;
      }
    };
    expect(describeError(new HttpError(429, {}, '', { url: 'u' }))).toBe('status 429');
    expect(describeError(new TimeoutError(7, { url: 'u' }))).toBe('timeout 7');
    expect(describeError(new AlreadyCalledError())).toBe('AB_ERR_ALREADY_CALLED');
    expect(describeError(new Error('x'))).toBe('not ours');
  });

  it('has attempts only where a retry set it', async () => {
    expect('attempts' in new CancelledError()).toBe(false);
    expect('attempts' in new HttpError(503, {}, '', { url: 'u' })).toBe(false);
    const failed = await retry(
      () => {
        throw new AlreadyCalledError();
      },
      { attempts: 2, minDelay: 0 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(lib.attemptsOf(failed)).toBe(2);
    expect(Object.hasOwn(failed as object, 'attempts')).toBe(true);
  });
});

describe('two installed copies of the package', () => {
  let dir: string;
  let other: typeof lib;
  beforeAll(async () => {
    // A second copy of the built package, inside node_modules so that its own imports (undici) resolve.
    dir = mkdtempSync(join(root, 'node_modules', '.second-copy-'));
    cpSync(join(root, 'lib', 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(root, 'lib', 'package.json'), join(dir, 'package.json'));
    other = (await import(pathToFileURL(join(dir, 'dist', 'index.js')).href)) as typeof lib;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are two sets of classes', () => {
    expect(other.CancelledError).not.toBe(CancelledError);
  });

  it('agree on instanceof, both ways, class by class', () => {
    expect(new other.CancelledError() instanceof CancelledError).toBe(true);
    expect(new CancelledError() instanceof other.CancelledError).toBe(true);
    expect(new other.CancelledError() instanceof AsyncBatchingError).toBe(true);
    expect(new other.HttpError(500, {}, '', { url: 'u' }) instanceof GetPageError).toBe(true);
    expect(new other.TaskDone() instanceof TaskFinished).toBe(true);
    expect(new other.CancelledError() instanceof HttpError).toBe(false);
    expect(isAsyncBatchingError(new other.QueueClosed())).toBe(true);
  });

  it('agree on a failure from the other copy: a cancellation there is a CancelledError here', async () => {
    const d = new other.Deferred();
    d.cancel();
    await expect(d).rejects.toBeInstanceOf(CancelledError);
  });
});
