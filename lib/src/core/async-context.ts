/**
 * @internal What the semaphore keeps of a waiting caller's async context, so that the caller's `AsyncLocalStorage`
 * values are in place when its job finally runs: Node's `AsyncResource` (what `AsyncLocalStorage.snapshot()` captures
 * too, without the bound function it builds around it).
 */
export interface CallerContext {
  runInAsyncScope<This, A extends unknown[], R>(
    fn: (this: This, ...args: A) => R,
    thisArg: This,
    ...args: A
  ): R;
}

type ContextClass = new (type: string) => CallerContext;

/**
 * @internal `AsyncResource` where the platform has async context (Node, Deno and Bun offer `node:async_hooks`),
 * probed at run time through `process.getBuiltinModule`, so that the core imports no `node:` module and bundles for a
 * browser; `null` elsewhere, where a job simply runs in the context of whoever released its token.
 */
export const CallerContextResource: ContextClass | null = (() => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const hooks = proc?.getBuiltinModule?.('node:async_hooks') as
      | { AsyncResource?: ContextClass }
      | undefined;
    return hooks?.AsyncResource ?? null;
  } catch {
    return null;
  }
})();
