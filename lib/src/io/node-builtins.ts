// Node's built-in modules as the I/O layer reaches them: through `process.getBuiltinModule` (Node >= 22.3, Deno, Bun)
// rather than static `node:` imports, so that the package's main entry has no import a browser bundler cannot resolve.
// A program that bundles the core for a browser leaves these modules out (the package has `sideEffects: false`); one
// that runs getPage on Node gets them at its first use.
import type * as NodeHttp from 'node:http';
import type * as NodeModule from 'node:module';

function builtin<T>(id: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.(id) as T | undefined;
  if (mod === undefined)
    throw new Error(`async-batching: ${id} is not available here (getPage needs Node, Deno or Bun)`);
  return mod;
}

/** `node:module`. */
export function nodeModule(): typeof NodeModule {
  return builtin<typeof NodeModule>('node:module');
}

/** `node:http`. */
export function nodeHttp(): typeof NodeHttp {
  return builtin<typeof NodeHttp>('node:http');
}
