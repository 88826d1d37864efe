import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pinNode } from '../../../tools/env/jupyter.ts';
import { KERNEL_PRELOAD, tslabBin } from '../../../tools/env/kernels.ts';
import { installPlan, missingRows, rowsFor, SYSTEM_PACKAGES } from '../../../tools/env/system-packages.mjs';
import { colourEnv, LaunchError, supported, supportedNode } from '../../../tools/launch.mjs';

const ROOT = resolve(import.meta.dirname, '../../..');
const LAUNCH = join(ROOT, 'tools', 'launch.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'launcher-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A folder holding executable scripts named after commands, to put first on PATH. */
function fakeCommands(name: string, scripts: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [command, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, command), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, command), 0o755);
  }
  return dir;
}

describe('launcher: a supported Node', () => {
  it('accepts Node 22.20 and later and refuses older ones', () => {
    expect(supported('22.20.0')).toBe(true);
    expect(supported('24.1.0')).toBe(true);
    expect(supported('22.19.9')).toBe(false);
    expect(supported('20.20.2')).toBe(false);
    expect(supported('18.0.0')).toBe(false);
  });

  it('uses the running Node when it is supported, without touching the cache', () => {
    const env = { ASYNC_BATCHING_NODE_CACHE: join(scratch, 'unused'), PATH: '' };
    expect(supportedNode(env, { version: '24.0.0', execPath: '/opt/node24/bin/node' })).toBe(
      '/opt/node24/bin/node',
    );
    expect(existsSync(join(scratch, 'unused'))).toBe(false);
  });

  it('refuses to fetch Node when the environment says so, and says what to do instead', () => {
    const env = { ASYNC_BATCHING_NODE_CACHE: join(scratch, 'refused'), ASYNC_BATCHING_NO_NODE_DOWNLOAD: '1' };
    const old = { version: '20.20.2', execPath: '/usr/bin/node' };
    expect(() => supportedNode(env, old)).toThrow(LaunchError);
    expect(() => supportedNode(env, old)).toThrow(/Node is 20\.20\.2; the project needs >= 22\.20, and/);
    expect(() => supportedNode(env, old)).toThrow(
      /Install Node 24 .* or unset ASYNC_BATCHING_NO_NODE_DOWNLOAD/s,
    );
  });

  it('fetches Node 24 with npm into the cache once, announced in one line, then reuses it', () => {
    const cache = join(scratch, 'cache');
    const log = join(scratch, 'npm.log');
    // A stand-in for npm: records its arguments and "installs" this test's Node where the `node` package puts it.
    const bin = fakeCommands('npm-bin', {
      npm: [
        `echo "$@" >> ${log}`,
        `mkdir -p "$3/node_modules/node/bin" && ln -sf ${process.execPath} "$3/node_modules/node/bin/node"`,
      ].join('\n'),
    });
    const script = `import { supportedNode } from ${JSON.stringify(LAUNCH)};
      console.log(supportedNode(process.env, { version: '20.0.0', execPath: '/usr/bin/node' }));`;
    const run = () =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PATH: `${bin}${delimiter}${process.env.PATH}`,
          ASYNC_BATCHING_NODE_CACHE: cache,
        },
      });
    const first = run();
    expect(first.status).toBe(0);
    expect(first.stdout.trim()).toBe(join(cache, 'node_modules', 'node', 'bin', 'node'));
    expect(first.stderr.trim().split('\n')).toEqual([
      `launch: this machine's Node is 20.0.0; the project needs >= 22.20: fetching Node 24 from the npm registry into ${cache} (once; ASYNC_BATCHING_NO_NODE_DOWNLOAD=1 refuses)`,
    ]);
    expect(readFileSync(log, 'utf8')).toMatch(/^install --prefix \S+ --no-save .*node@24\n$/);
    const second = run();
    expect(second.stdout.trim()).toBe(first.stdout.trim());
    expect(second.stderr).toBe('');
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('launcher: system packages', () => {
  const chromium = rowsFor(['chromium']);

  it('keeps every need in one table, each with a purpose, the commands that prove it and Debian packages', () => {
    for (const row of SYSTEM_PACKAGES) {
      expect(row.purpose.length).toBeGreaterThan(0);
      expect(row.commands.length).toBeGreaterThan(0);
      expect(row.apt.length).toBeGreaterThan(0);
    }
    expect(() => rowsFor(['hugo-typo'])).toThrow(/Unknown system need "hugo-typo"; expected one of chromium/);
  });

  it('installs as root with apt-get, and otherwise stops with the exact command to run', () => {
    expect(installPlan([], { root: false, aptGet: false })).toEqual({ action: 'none' });
    expect(installPlan(chromium, { root: true, aptGet: true })).toEqual({
      action: 'install',
      packages: ['chromium'],
    });
    const user = installPlan(chromium, { root: false, aptGet: true });
    expect(user.action).toBe('stop');
    expect(user.action === 'stop' && user.message).toMatch(
      /chromium: for the browser test.*\n {2}sudo apt-get install -y chromium\n/s,
    );
    const other = installPlan(chromium, { root: false, aptGet: false });
    expect(other.action === 'stop' && other.message).toMatch(
      /system's package manager \(Debian\/Ubuntu: apt-get install -y chromium\)/,
    );
  });

  it('finds a need missing when one of its commands is missing', () => {
    const row = { name: 'x', purpose: 'p', commands: ['sh', 'no-such-command-here'], apt: ['x'] };
    expect(missingRows([row], { PATH: '/usr/bin' })).toEqual([row]);
    expect(missingRows([{ ...row, commands: ['sh'] }], { PATH: '/usr/bin' })).toEqual([]);
  });

  it('runs apt-get for a missing package, announced, before the command (or says what to run when not root)', () => {
    const log = join(scratch, 'apt.log');
    const bin = fakeCommands('apt-bin', { 'apt-get': `echo "$@" >> ${log}` });
    const result = spawnSync(process.execPath, [LAUNCH, '--needs', 'chromium', '--node-dir'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${bin}${delimiter}${process.env.PATH}`,
        ASYNC_BATCHING_PRETEND_MISSING: 'chromium',
      },
    });
    if (process.getuid?.() === 0) {
      expect(result.stderr).toMatch(
        /^launch: installing Debian packages for the browser test .*: apt-get install -y chromium\n/,
      );
      expect(readFileSync(log, 'utf8')).toBe('update -qq\ninstall -y -qq chromium\n');
      // Chromium is really on this machine, so after the (pretend) install the check passes and the launcher goes on.
      expect(result.status).toBe(0);
      expect(result.stdout.trim()).toBe(dirname(process.execPath));
    } else {
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/sudo apt-get install -y chromium/);
      expect(existsSync(log)).toBe(false);
    }
  });
});

describe('kernelspec', () => {
  it('starts tslab with the absolute path of the Node that registered it, names it beside Deno, and follows a re-registration', () => {
    const dir = join(scratch, 'kernels', 'tslab');
    mkdirSync(dir, { recursive: true });
    const spec = {
      argv: ['/repo/node_modules/.bin/tslab', 'kernel', '--config-path', '{connection_file}'],
      language: 'typescript',
    };
    writeFileSync(join(dir, 'kernel.json'), JSON.stringify(spec));
    pinNode(join(scratch, 'kernels'), '/opt/node24/bin/node');
    const read = () => JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8'));
    expect(read()).toEqual({
      ...spec,
      display_name: 'TypeScript (tslab)',
      argv: [
        '/opt/node24/bin/node',
        '--require',
        KERNEL_PRELOAD,
        tslabBin(),
        'kernel',
        '--config-path',
        '{connection_file}',
      ],
    });
    pinNode(join(scratch, 'kernels'), '/opt/node26/bin/node');
    expect(read().argv).toEqual([
      '/opt/node26/bin/node',
      '--require',
      KERNEL_PRELOAD,
      tslabBin(),
      'kernel',
      '--config-path',
      '{connection_file}',
    ]);
  });
});

describe('launcher: colour', () => {
  it('turns colour off for a pipe unless NO_COLOR or FORCE_COLOR says otherwise, and leaves a terminal alone', () => {
    expect(colourEnv({ TERM: 'xterm' }, false)).toEqual({ TERM: 'xterm', NO_COLOR: '1' });
    expect(colourEnv({ TERM: 'xterm' }, true)).toEqual({ TERM: 'xterm' });
    expect(colourEnv({ FORCE_COLOR: '1' }, false)).toEqual({ FORCE_COLOR: '1' });
    expect(colourEnv({ NO_COLOR: '' }, true)).toEqual({ NO_COLOR: '' });
  });

  it('runs vitest without escape codes when its output is piped', () => {
    const dir = join(scratch, 'colour');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'x.test.ts'),
      "import { expect, test } from 'vitest';\ntest('x', () => expect(1).toBe(1));\n",
    );
    const { NO_COLOR: _drop, FORCE_COLOR: _drop2, ...env } = process.env;
    const result = spawnSync(
      process.execPath,
      [LAUNCH, '--no-ready', join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', dir],
      { encoding: 'utf8', env: { ...env, TERM: 'xterm' } },
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/1 passed/);
    expect(result.stdout + result.stderr).not.toContain('\u001b[');
  });
});
