#!/usr/bin/env node
// Runs before `npm start` and `npm test`: checks Node, installs dependencies on a fresh checkout, and rebuilds the
// library so that notebooks and tests never see a stale lib/dist. Plain JavaScript, so that it can tell an old Node
// what is wrong instead of failing on TypeScript syntax.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 20)) {
  console.error(
    `async-batching needs Node.js >= 22.20 (found ${process.versions.node}). ` +
      'Install Node 24 (for example with nvm: `nvm install 24`) and try again.',
  );
  process.exit(1);
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!existsSync(join(root, 'node_modules', 'typescript', 'bin', 'tsc'))) {
  console.error('ensure-ready: installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}
run(process.execPath, [
  join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
  '-p',
  'lib/tsconfig.build.json',
]);
