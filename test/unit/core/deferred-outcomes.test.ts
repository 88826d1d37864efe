/**
 * The chain under hostile callbacks, at process exit and at depth: whatever a callback returns or throws becomes its
 * outcome, a failure left unhandled at exit is reported, and no depth of nesting overflows the stack. Each test is
 * named after the rule it pins, and each failed on the code before the fix.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CancelledError, Deferred, DeferredList, type Failure, succeed } from 'async-batching';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const DEEP = 100_000;

function outcomeOf<T>(d: Deferred<T>): { ok: boolean; value: unknown } | undefined {
  let out: { ok: boolean; value: unknown } | undefined;
  d.addCallbacks(
    (v) => {
      out = { ok: true, value: v };
      return v;
    },
    (f: Failure) => {
      out = { ok: false, value: f.value };
      return null;
    },
  );
  return out;
}

describe('whatever a callback returns or throws becomes its outcome', () => {
  it('turns a returned revoked Proxy into a failure instead of throwing from callback()', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const d = new Deferred<number>();
    d.addCallback(() => proxy);
    expect(() => d.callback(1)).not.toThrow();
    const out = outcomeOf(d);
    expect(out?.ok).toBe(false);
    expect(out?.value).toBeInstanceOf(TypeError);
  });

  it('turns a returned object whose `then` getter throws into that failure', () => {
    const strict = new Proxy(
      {},
      {
        get(target, key) {
          if (!(key in target)) throw new Error(`no ${String(key)}`);
          return undefined;
        },
      },
    );
    const d = succeed(1).addCallback(() => strict);
    const out = outcomeOf(d);
    expect(out?.ok).toBe(false);
    expect((out?.value as Error | undefined)?.message).toBe('no then');
  });

  it('reads `then` once, and a thenable whose then() throws fails the chain with that error', () => {
    let reads = 0;
    const thenable = {
      get then() {
        reads++;
        return () => {
          throw new RangeError('then broke');
        };
      },
    };
    const d = succeed(1).addCallback(() => thenable);
    expect(reads).toBe(1);
    expect(outcomeOf(d)?.value).toBeInstanceOf(RangeError);
  });
});

describe('a failure left unhandled at process exit is reported', () => {
  function runChild(code: string) {
    return spawnSync(process.execPath, ['--input-type=module', '-e', code], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
  }

  it('reports an unhandled failure at exit even though no garbage collection ran', () => {
    const child = runChild(`import { fail } from 'async-batching'; fail(new Error('lost'));`);
    expect(child.status).toBe(0);
    expect(child.stderr).toContain('Unhandled error in Deferred');
    expect(child.stderr.match(/Error: lost/g)).toHaveLength(1);
  });

  it('reports each unhandled failure once, whether the process exits by itself or by process.exit()', () => {
    const child = runChild(`
      import { fail, setUnhandledFailureReporter } from 'async-batching';
      setUnhandledFailureReporter((f) => console.log('reported ' + f.getErrorMessage()));
      const kept = [fail(new Error('one')), fail(new Error('two'))];
      fail(new Error('handled')).addErrback(() => null);
      setTimeout(() => process.exit(0), 1);
    `);
    expect(child.status).toBe(0);
    expect(child.stdout.trim().split('\n').sort()).toEqual(['reported one', 'reported two']);
  });

  it('reports a failure once when it is left unhandled both at beforeExit and at exit', () => {
    const child = runChild(`
      import { fail, setUnhandledFailureReporter } from 'async-batching';
      setUnhandledFailureReporter((f) => console.log('reported ' + f.getErrorMessage()));
      let again = true;
      process.on('beforeExit', () => {
        if (again) { again = false; fail(new Error('late')); setTimeout(() => {}, 1); }
      });
      fail(new Error('early'));
    `);
    expect(child.status).toBe(0);
    expect(child.stdout.trim().split('\n')).toEqual(['reported early', 'reported late']);
  });

  it('does not report at exit a failure that was handled before the exit', () => {
    const child = runChild(`
      import { fail, setUnhandledFailureReporter } from 'async-batching';
      setUnhandledFailureReporter((f) => console.log('reported ' + f.getErrorMessage()));
      const d = fail(new Error('handled later'));
      setTimeout(() => d.addErrback(() => 'fine'), 1);
    `);
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('');
  });
});

describe('depth never overflows the stack', () => {
  it(`fires ${DEEP.toLocaleString('en')} Deferreds linked by chainDeferred, down to the last`, () => {
    const ds = Array.from({ length: DEEP }, () => new Deferred<string>());
    for (let i = 0; i + 1 < DEEP; i++) ds[i].chainDeferred(ds[i + 1]);
    ds[0].callback('v');
    expect(outcomeOf(ds[DEEP - 1])).toEqual({ ok: true, value: 'v' });
    expect(ds.every((d) => d.called)).toBe(true);
  });

  it('passes a failure down a chainDeferred line and leaves each link with undefined, as Twisted does', () => {
    const ds = Array.from({ length: 5 }, () => new Deferred<string>());
    for (let i = 0; i + 1 < ds.length; i++) ds[i].chainDeferred(ds[i + 1]);
    ds[0].errback(new Error('down the line'));
    expect(outcomeOf(ds[0])).toEqual({ ok: true, value: undefined });
    expect((outcomeOf(ds[4])?.value as Error | undefined)?.message).toBe('down the line');
  });

  it(`fires DeferredLists nested ${DEEP.toLocaleString('en')} deep`, () => {
    const leaf = new Deferred<unknown>();
    let list: Deferred<unknown> = leaf;
    for (let i = 0; i < DEEP; i++) list = new DeferredList([list]) as Deferred<unknown>;
    const top = list;
    let fired = false;
    top.addCallback(() => {
      fired = true;
    });
    leaf.callback('leaf');
    expect(fired).toBe(true);
  });

  it('ends cancel() on Deferreds that wait on each other in a ring', () => {
    const a = new Deferred<number>();
    const b = new Deferred<number>();
    a.addCallback(() => b);
    b.addCallback(() => a);
    a.callback(1);
    b.callback(2);
    expect(a.paused && b.paused).toBe(true);
    expect(() => a.cancel()).not.toThrow();
  });

  it('ignores a cancel() that comes back, through a ring, to a Deferred whose canceller is running', () => {
    const input = new Deferred<unknown>();
    let list: DeferredList<unknown> | undefined;
    input.addBoth(() => list);
    list = new DeferredList([input]);
    input.cancel();
    // `input` now waits on `list`, which waits on `input`: cancelling either goes round once and stops.
    expect(() => input.cancel()).not.toThrow();
    expect(list.called).toBe(true);
    // The list failed with CancelledError and handed that to `input`, the Deferred waiting on it.
    expect(outcomeOf(input)?.value).toBeInstanceOf(CancelledError);
  });

  it(`cancels through ${DEEP.toLocaleString('en')} nested Deferreds`, () => {
    const innermost = new Deferred<number>();
    let outer = innermost;
    for (let i = 0; i < DEEP; i++) {
      const inner = outer;
      outer = succeed(0).addCallback(() => inner);
    }
    expect(() => outer.cancel()).not.toThrow();
    expect(innermost.called).toBe(true);
    expect(outcomeOf(outer)?.value).toBeInstanceOf(CancelledError);
  });
});
