/**
 * Deno for the second kernel (`deno jupyter`), fetched from the npm registry the first time a Deno command needs it.
 *
 * Why not a devDependency: the npm package `deno` brings a 92 MB binary, which every `npm ci` of every clone would
 * unpack again, for the two checks that use it. Here it is fetched once per machine into a cache shared by all
 * clones (like the launcher's Node 24), at one pinned version, because the kernel's protocol quirks the runner
 * handles (outputs after `idle`) were measured on that version.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The Deno version the runner and the checks were measured with. */
export const DENO_VERSION = '2.9.6';

/** Set to a `deno` executable to use it instead of the cached one (its version is checked all the same). */
export const DENO_ENV = 'ASYNC_BATCHING_DENO';
/** Set to `1` to refuse the download (the error then says how to provide Deno). */
export const NO_DOWNLOAD_ENV = 'ASYNC_BATCHING_NO_DENO_DOWNLOAD';

/** Raised when no Deno of the pinned version can be found or fetched. */
export class DenoUnavailableError extends Error {
  override name = 'DenoUnavailableError';
}

/** The cache folder: `$ASYNC_BATCHING_DENO_CACHE`, else `$XDG_CACHE_HOME/async-batching/deno-<version>`. */
export function denoCache(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.ASYNC_BATCHING_DENO_CACHE ||
    join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'async-batching', `deno-${DENO_VERSION}`)
  );
}

/** The version a `deno` executable reports (`deno 2.9.6 (stable, ...)`), or `null` when it does not run. */
export function denoVersion(deno: string): string | null {
  const result = spawnSync(deno, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) return null;
  return /^deno (\S+)/m.exec(result.stdout)?.[1] ?? null;
}

let found: string | undefined;
// A failed fetch is not tried again by the same process: a run of twelve notebooks reports it once per notebook
// without twelve downloads.
let failed: DenoUnavailableError | undefined;

/**
 * The path of a Deno of {@link DENO_VERSION}: `$ASYNC_BATCHING_DENO`, else the cached one, else fetched now with
 * `npm install --prefix <cache> deno@<version>` (announced on stderr, once per machine).
 * @throws {DenoUnavailableError} when the given or fetched Deno is not that version, or the download is refused or fails.
 */
export function denoPath(env: NodeJS.ProcessEnv = process.env): string {
  if (found) return found;
  if (failed) throw failed;
  try {
    found = locateDeno(env);
    return found;
  } catch (error) {
    if (error instanceof DenoUnavailableError) failed = error;
    throw error;
  }
}

function locateDeno(env: NodeJS.ProcessEnv): string {
  const given = env[DENO_ENV];
  if (given) {
    const version = denoVersion(given);
    if (version !== DENO_VERSION) {
      throw new DenoUnavailableError(
        `${DENO_ENV}=${given} ${version ? `is Deno ${version}` : 'does not run'}; the checks need Deno ${DENO_VERSION}`,
      );
    }
    return given;
  }
  const cache = denoCache(env);
  const cached = cachedDeno(cache);
  if (cached) return cached;
  if (env[NO_DOWNLOAD_ENV] === '1') {
    throw new DenoUnavailableError(
      `Deno ${DENO_VERSION} is not in ${cache} and ${NO_DOWNLOAD_ENV}=1 forbids fetching it; ` +
        `set ${DENO_ENV} to a deno ${DENO_VERSION} executable, or unset ${NO_DOWNLOAD_ENV}`,
    );
  }
  process.stderr.write(`deno: fetching Deno ${DENO_VERSION} from the npm registry into ${cache} (once)\n`);
  mkdirSync(cache, { recursive: true });
  const install = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      cache,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `deno@${DENO_VERSION}`,
    ],
    { cwd: cache, stdio: ['ignore', 'ignore', 'inherit'], env: withoutNpmScriptsSetting(env) },
  );
  const fetched = install.status === 0 ? cachedDeno(cache) : null;
  if (!fetched) {
    throw new DenoUnavailableError(
      `could not fetch Deno ${DENO_VERSION} into ${cache} (npm install deno@${DENO_VERSION} failed; see above)`,
    );
  }
  return fetched;
}

/**
 * The binary in a cache folder: the package's install script copies it to `node_modules/deno/deno`; where install
 * scripts are blocked, it is still in the platform package (`node_modules/@deno/linux-x64-glibc/deno` and the like).
 */
function cachedDeno(cache: string): string | null {
  const scoped = join(cache, 'node_modules', '@deno');
  const candidates = [
    join(cache, 'node_modules', 'deno', 'deno'),
    ...(existsSync(scoped) ? readdirSync(scoped).map((platform) => join(scoped, platform, 'deno')) : []),
  ];
  return candidates.find((path) => existsSync(path) && denoVersion(path) === DENO_VERSION) ?? null;
}

/** npm 11 refuses `allow-scripts` from the environment that `npm run` exports (see tools/launch.mjs). */
function withoutNpmScriptsSetting(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of Object.keys(copy)) if (/^npm_config_allow_scripts$/i.test(name)) delete copy[name];
  return copy;
}
