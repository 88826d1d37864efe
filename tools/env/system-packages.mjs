// The system (Debian) packages that project commands need, as ONE table, and how the launcher gets them.
// Plain JavaScript for Node >= 18: it runs before dependencies are installed and before a supported Node is known.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * What each need is for, the commands that show it is present (all of them, looked up on PATH), and the Debian
 * packages that bring it. Add a row here to give a command a new need (`--needs <name>` in package.json).
 * @type {ReadonlyArray<SystemPackage>}
 */
export const SYSTEM_PACKAGES = [
  {
    name: 'chromium',
    purpose: 'the browser test of the exported post (npm test)',
    commands: ['/usr/bin/chromium'],
    apt: ['chromium'],
  },
  {
    name: 'jupyter',
    purpose: 'npm run jupyter, kernel:install, notebooks:nbconvert and the Jupyter signal test (npm test)',
    commands: ['jupyter-notebook', 'jupyter-nbconvert'],
    apt: ['jupyter-notebook', 'jupyter-nbconvert', 'python3-nbclient', 'python3-ipykernel'],
  },
  {
    name: 'sites',
    purpose: 'the site tests of the Jekyll and Hugo exports, in a blog made by `jekyll new` (npm test)',
    commands: ['jekyll', 'hugo'],
    // jekyll-theme-minima: the theme `jekyll new` sets up, which the exported posts must render in.
    apt: ['jekyll', 'jekyll-theme-minima', 'hugo'],
  },
  {
    name: 'redis',
    purpose: 'the async-batching/bullmq tests and notebook 12 (a redis-server on a Unix socket)',
    commands: ['redis-server'],
    apt: ['redis-server'],
  },
];

/** @typedef {{ name: string, purpose: string, commands: string[], apt: string[] }} SystemPackage */

/** Names a test may list in ASYNC_BATCHING_PRETEND_MISSING to exercise the install path on a machine that has them. */
const PRETEND_MISSING = 'ASYNC_BATCHING_PRETEND_MISSING';

/** @param {string} path */
function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `command` (a name looked up on PATH and in /usr/bin, or an absolute path) can be run.
 * @param {string} command
 * @param {NodeJS.ProcessEnv} env
 */
export function hasCommand(command, env = process.env) {
  if (command.includes('/')) return executable(command);
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin'];
  return dirs.some((dir) => executable(join(dir, command)));
}

/**
 * The table's rows for `names`.
 * @param {string[]} names
 * @returns {SystemPackage[]}
 * @throws {RangeError} naming an unknown need and listing the known ones.
 */
export function rowsFor(names) {
  return names.map((name) => {
    const row = SYSTEM_PACKAGES.find((entry) => entry.name === name);
    if (!row) {
      const known = SYSTEM_PACKAGES.map((entry) => entry.name).join(', ');
      throw new RangeError(`Unknown system need ${JSON.stringify(name)}; expected one of ${known}`);
    }
    return row;
  });
}

/**
 * The rows among `rows` that are not present on this machine.
 * @param {SystemPackage[]} rows
 * @param {NodeJS.ProcessEnv} env
 */
export function missingRows(rows, env = process.env) {
  const pretend = new Set((env[PRETEND_MISSING] ?? '').split(',').filter(Boolean));
  return rows.filter(
    (row) => pretend.has(row.name) || !row.commands.every((command) => hasCommand(command, env)),
  );
}

/**
 * What to do about missing rows: install them (root with apt-get) or stop with the exact command to run.
 * @param {SystemPackage[]} missing
 * @param {{ root: boolean, aptGet: boolean }} machine
 * @returns {{ action: 'none' } | { action: 'install', packages: string[] } | { action: 'stop', message: string }}
 */
export function installPlan(missing, { root, aptGet }) {
  if (missing.length === 0) return { action: 'none' };
  const packages = [...new Set(missing.flatMap((row) => row.apt))];
  if (root && aptGet) return { action: 'install', packages };
  const why = missing.map((row) => `  ${row.name}: for ${row.purpose}`).join('\n');
  const command = aptGet
    ? `sudo apt-get install -y ${packages.join(' ')}`
    : `install with your system's package manager (Debian/Ubuntu: apt-get install -y ${packages.join(' ')})`;
  return {
    action: 'stop',
    message: `this command needs system packages that are missing:\n${why}\nRun:\n  ${command}\nand try again.`,
  };
}

/**
 * Makes sure the named needs are present: installs what is missing where the machine allows it (announced), or
 * returns the message to stop with. Nothing is skipped silently.
 * @param {string[]} names
 * @param {(message: string) => void} log
 * @returns {string | null} a message to stop with, or `null` when everything is present.
 */
export function ensureSystemPackages(names, log) {
  const missing = missingRows(rowsFor(names));
  const plan = installPlan(missing, { root: process.getuid?.() === 0, aptGet: hasCommand('apt-get') });
  if (plan.action === 'none') return null;
  if (plan.action === 'stop') return plan.message;
  log(
    `installing Debian packages for ${missing.map((row) => row.purpose).join('; ')}: apt-get install -y ${plan.packages.join(' ')}`,
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', ...plan.packages], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  if (update.status !== 0 || install.status !== 0) {
    return `apt-get could not install ${plan.packages.join(' ')} (see its messages above)`;
  }
  const still = missingRows(missing, { ...process.env, [PRETEND_MISSING]: '' });
  if (still.length > 0) {
    return `apt-get installed ${plan.packages.join(' ')} but ${still.map((row) => row.commands.join(', ')).join('; ')} still cannot be found`;
  }
  return null;
}
