import { createRequire } from 'node:module';

// Read at run time, so the version is never a second copy to keep in step. `../../package.json` is lib/package.json
// from both lib/src and lib/dist.
const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The version of the async-batching package. */
export const VERSION: string = pkg.version;
