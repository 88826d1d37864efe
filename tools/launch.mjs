#!/usr/bin/env node
// The launcher every npm script goes through. Plain JavaScript for Node >= 18, so that it runs on whatever Node a
// machine has: it brings a supported Node (>= 22.20; else Node 24 from the npm registry, once, into a per-user
// cache), the system packages the command needs, the project's dependencies (`npm ci` on a fresh checkout) and a
// fresh library build, then runs the real script under that Node and passes signals on without doubling them.
//
//   node tools/launch.mjs [--needs a,b] [--no-ready] [--node-dir] <script.ts|command> [args...]
//
//   --needs a,b   system packages from tools/env/system-packages.mjs that the command needs
//   --no-ready    skip `npm ci` and the library build (for commands that need neither)
//   --node-dir    print the folder of the supported Node and exit (for .ci/run)
//
// Environment: ASYNC_BATCHING_NO_NODE_DOWNLOAD=1 refuses the download; ASYNC_BATCHING_NODE_CACHE moves the cache
// (default: $XDG_CACHE_HOME/node24 or ~/.cache/node24).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSystemPackages } from './env/system-packages.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Preloaded into every script: it stops when this launcher ends, however it ends (see the file). */
const LIFELINE = join(ROOT, 'tools', 'env', 'launch-lifeline.cjs');
const NEED = [22, 20];
const REFUSE = 'ASYNC_BATCHING_NO_NODE_DOWNLOAD';

/** @param {string} message */
function log(message) {
  process.stderr.write(`launch: ${message}\n`);
}

/** @param {string} message @returns {never} */
function fail(message) {
  process.stderr.write(`launch: ${message}\n`);
  process.exit(1);
}

/**
 * Whether a Node version string ("22.20.1") is supported.
 * @param {string} version
 */
export function supported(version) {
  const [major, minor] = version.split('.').map(Number);
  return major > NEED[0] || (major === NEED[0] && minor >= NEED[1]);
}

/** @param {string} node */
function versionOf(node) {
  const result = spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** A problem the user can fix; printed as one message, without a stack trace. */
export class LaunchError extends Error {
  /** @override */
  name = 'LaunchError';
}

/**
 * The absolute path of a supported Node: the running one (`current`), the cached one, or Node 24 fetched into the
 * cache now with `npm install` (announced in one line).
 * @param {NodeJS.ProcessEnv} env
 * @param {{ version: string, execPath: string }} current
 * @returns {string}
 * @throws {LaunchError} when the download is refused (ASYNC_BATCHING_NO_NODE_DOWNLOAD=1) or fails.
 */
export function supportedNode(
  env = process.env,
  current = { version: process.versions.node, execPath: process.execPath },
) {
  if (supported(current.version)) return current.execPath;
  const cache =
    env.ASYNC_BATCHING_NODE_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'node24');
  // The npm package `node` puts the real binary here (node_modules/.bin/node is a link to it).
  const cached = join(cache, 'node_modules', 'node', 'bin', 'node');
  const cachedVersion = existsSync(cached) ? versionOf(cached) : null;
  if (cachedVersion && supported(cachedVersion)) return cached;
  const found = `this machine's Node is ${current.version}; the project needs >= ${NEED.join('.')}`;
  if (env[REFUSE] === '1') {
    throw new LaunchError(
      `${found}, and ${REFUSE}=1 forbids fetching one.\n` +
        'Install Node 24 (from nodejs.org, your package manager or `nvm install 24`) and put it first on PATH, ' +
        `or unset ${REFUSE} to let the launcher fetch it from the npm registry into ${cache}.`,
    );
  }
  log(`${found}: fetching Node 24 from the npm registry into ${cache} (once; ${REFUSE}=1 refuses)`);
  mkdirSync(cache, { recursive: true });
  const install = spawnSync(
    'npm',
    ['install', '--prefix', cache, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', 'node@24'],
    { cwd: cache, stdio: ['ignore', 'ignore', 'inherit'], env: npmEnv(env) },
  );
  const version = install.status === 0 && existsSync(cached) ? versionOf(cached) : null;
  if (!version || !supported(version)) {
    throw new LaunchError(`could not fetch Node 24 into ${cache} (npm install node@24 failed; see above)`);
  }
  return cached;
}

/**
 * The environment for an npm started by the launcher. Under `npm run`, npm exports its settings as `npm_config_*`
 * variables; a nested npm reads them as if given on its command line, and npm 11 refuses `allow-scripts` there
 * (EALLOWSCRIPTS), so the project's `.npmrc` setting must not travel that way.
 * @param {NodeJS.ProcessEnv} env
 */
function npmEnv(env) {
  const copy = { ...env };
  for (const name of Object.keys(copy)) if (/^npm_config_allow_scripts$/i.test(name)) delete copy[name];
  return copy;
}

/**
 * Colour only on a terminal: when stdout is not one (CI logs, `| tee`) and the user set neither NO_COLOR nor
 * FORCE_COLOR, children get NO_COLOR=1. vitest's colour library assumes a terminal unless told, whatever stdout is.
 * @param {NodeJS.ProcessEnv} env
 * @param {boolean} isTTY
 */
export function colourEnv(env, isTTY) {
  if (isTTY || 'NO_COLOR' in env || 'FORCE_COLOR' in env) return env;
  return { ...env, NO_COLOR: '1' };
}

/**
 * The environment for children: the supported Node first on PATH, so `node`, `npm` and `#!/usr/bin/env node` use
 * it, and colour only on a terminal.
 * @param {string} node
 */
function childEnv(node) {
  const env = { ...process.env, PATH: [dirname(node), process.env.PATH].filter(Boolean).join(delimiter) };
  return colourEnv(env, Boolean(process.stdout.isTTY));
}

/** @param {string} node @param {string} command @param {string[]} args */
function run(node, command, args) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', env: npmEnv(childEnv(node)) });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** @param {string} path @returns {number} */
function newestMtime(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** @param {string} path */
function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : -1;
}

/** `npm ci` on a fresh checkout (or after the lock file changed), and a library build when lib/src is newer. */
/** @param {string} node */
function ensureReady(node) {
  const installed = join(ROOT, 'node_modules', '.package-lock.json');
  if (mtime(installed) < mtime(join(ROOT, 'package-lock.json'))) {
    log('installing dependencies (npm ci)');
    run(node, 'npm', ['ci', '--no-audit', '--no-fund']);
  }
  const lib = join(ROOT, 'lib');
  const sources = Math.max(
    newestMtime(join(lib, 'src')),
    ...['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((name) => mtime(join(lib, name))),
  );
  if (mtime(join(lib, 'dist', 'index.js')) < sources) {
    run(node, node, [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(lib, 'tsconfig.build.json'),
    ]);
  }
}

/**
 * Passes signals to the child once. A signal sent to the whole process group (Ctrl-C in a terminal, or `kill -INT
 * -<pgid>`) has reached the child already, and npm forwards its own copy to us as well; forwarding either would
 * make the child see it twice (Jupyter's "Shutdown this notebook server (y/[n])?" answered for the user). So a
 * signal is forwarded only when it reached us alone: under npm that is one copy with no second one right after.
 * With a terminal and no npm, SIGINT is the terminal's and is never forwarded.
 * @param {import('node:child_process').ChildProcess} child
 */
function forwardSignals(child) {
  const underNpm = Boolean(process.env.npm_lifecycle_event);
  const windowMs = 200;
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
    let copies = 0;
    /** @type {NodeJS.Timeout | null} */
    let timer = null;
    process.on(signal, () => {
      if (signal === 'SIGINT' && process.stdin.isTTY && !underNpm) return;
      copies += 1;
      if (!underNpm) {
        child.kill(signal);
        return;
      }
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        const alone = copies === 1;
        copies = 0;
        if (alone) child.kill(signal);
      }, windowMs);
    });
  }
}

/** @param {string[]} argv */
function main(argv) {
  const needs = [];
  let ready = true;
  let printNodeDir = false;
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('--'); i++) {
    const option = argv[i];
    if (option === '--needs') needs.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (option === '--no-ready') ready = false;
    else if (option === '--node-dir') printNodeDir = true;
    else fail(`unknown option ${option}; expected --needs a,b, --no-ready or --node-dir`);
  }
  const [script, ...args] = argv.slice(i);
  if (!script && !printNodeDir)
    fail('usage: node tools/launch.mjs [--needs a,b] [--no-ready] <script> [args...]');

  /** @type {string} */
  let node;
  /** @type {string | null} */
  let stop;
  try {
    node = supportedNode();
    stop = ensureSystemPackages(needs, log);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (stop) fail(stop);
  if (printNodeDir) {
    process.stdout.write(`${dirname(node)}\n`);
    return;
  }
  if (ready) ensureReady(node);

  // A .ts/.js/.mjs file runs under the supported Node; anything else is a command with that Node first on PATH.
  // A script also gets the lifeline: fd 3 is a pipe whose other end only this process holds, so that when the
  // launcher dies (even by SIGKILL, which it cannot pass on) the script stops too, and with it what it started.
  const isScript = /\.(?:[cm]?js|[cm]?ts)$/.test(script);
  const env = npmEnv(childEnv(node));
  if (isScript) env.ASYNC_BATCHING_LAUNCHER_LIFELINE = '3';
  const child = spawn(isScript ? node : script, isScript ? ['--require', LIFELINE, script, ...args] : args, {
    cwd: process.cwd(),
    stdio: isScript ? ['inherit', 'inherit', 'inherit', 'pipe'] : 'inherit',
    env,
  });
  forwardSignals(child);
  child.on('error', (error) => fail(`could not start ${script}: ${error.message}`));
  child.on('exit', (code, signal) => {
    if (signal) {
      // End the same way, so npm (and a shell) report the signal, not a made-up exit code.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
