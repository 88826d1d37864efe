import { nodeModule } from './node-builtins.js';

// Read at run time from lib/package.json (so the version is never a second copy to keep in step): file I/O, hence in
// the I/O layer; getPage's User-Agent is its user. `../../package.json` is lib/package.json
// from both lib/src and lib/dist.
const pkg = nodeModule().createRequire(import.meta.url)('../../package.json') as { version: string };

/** The version of the async-batching package. */
export const VERSION: string = pkg.version;
