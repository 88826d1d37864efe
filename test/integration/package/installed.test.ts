// The package as a user receives it: `npm pack` of lib/, the tarball installed into a fresh folder, a program that
// imports every subpath compiled by `tsc` at its defaults (skipLibCheck false) under `nodenext` and `bundler`
// resolution, then run. Once with the optional peers bullmq and ioredis installed, once without: then every other
// entry point still works, and async-batching/bullmq says which packages to install.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** The version the repository itself installed, so `npm install` finds it in the npm cache. */
async function installedVersion(name: string): Promise<string> {
  const json = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
  return json.version as string;
}

const EVERY_SUBPATH = `
import { DeferredSemaphore, gatherResults, VERSION } from 'async-batching';
import { distributedStream, runWorker, startRedisServer } from 'async-batching/bullmq';
import { startDemoSite } from 'async-batching/demo';
import { display } from 'async-batching/notebook';
import manifest from 'async-batching/package.json' with { type: 'json' };

const semaphore = new DeferredSemaphore(2);
const doubled: number[] = await gatherResults([1, 2, 3].map((n) => semaphore.run((x: number) => x * 2, n)));
const site = await startDemoSite();
const page = await fetch(site.pageUrl('installed'));
await site.close();
display.text(\`\${manifest.name} \${VERSION}: \${doubled.join(',')} \${page.status}\`);
display.text([distributedStream, runWorker, startRedisServer].map((f) => typeof f).join(','));
`;

const WITHOUT_BULLMQ = `
import { parallel, succeed } from 'async-batching';
import { startPoliteSite } from 'async-batching/demo';
import { newDisplay } from 'async-batching/notebook';

const results = await parallel([1, 2, 3], 2, (n: number) => succeed(n + 1));
const site = await startPoliteSite();
await site.close();
newDisplay().text(\`without peers: \${results.map(([, value]) => value).join(',')}\`);
// A specifier the compiler does not follow: without bullmq installed, its types would not compile either.
const bullmqEntry: string = 'async-batching/bullmq';
try {
  await import(bullmqEntry);
  console.log('imported');
} catch (error) {
  console.log((error as Error).message);
}
`;

/** tsconfig.json of a user on Node (`nodenext`) or with a bundler (`bundler`), skipLibCheck left at false. */
function tsconfig(resolution: 'nodenext' | 'bundler', file: string): string {
  const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
  return JSON.stringify({
    compilerOptions: {
      target: 'es2023',
      module,
      moduleResolution: resolution,
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      resolveJsonModule: true,
      types: ['node'],
    },
    files: [file],
  });
}

interface Folder {
  dir: string;
  tsc(resolution: 'nodenext' | 'bundler', file: string): Promise<{ code: number; output: string }>;
  node(file: string): Promise<{ code: number; stdout: string; stderr: string }>;
}

async function userFolder(tarball: string, extra: string[]): Promise<Folder> {
  const dir = await mkdtemp(join(tmpdir(), 'async-batching-user-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'user', private: true, type: 'module' }));
  const typesNode = `@types/node@${await installedVersion('@types/node')}`;
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, typesNode, ...extra], {
    cwd: dir,
  });
  return {
    dir,
    async tsc(resolution, file) {
      const config = `tsconfig.${resolution}.json`;
      await writeFile(join(dir, config), tsconfig(resolution, file));
      try {
        await run(process.execPath, [TSC, '-p', config], { cwd: dir });
        return { code: 0, output: '' };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
      }
    },
    async node(file) {
      try {
        const { stdout, stderr } = await run(process.execPath, [file], { cwd: dir });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    },
  };
}

let work: string;
let withPeers: Folder;
let withoutPeers: Folder;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'async-batching-pack-'));
  // The launcher has built lib/dist; --ignore-scripts keeps `prepare` from building it again.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: join(ROOT, 'lib'),
  });
  const tarball = join(work, (JSON.parse(stdout) as { filename: string }[])[0].filename);
  const peers = [
    `bullmq@${await installedVersion('bullmq')}`,
    `ioredis@${await installedVersion('ioredis')}`,
  ];
  [withPeers, withoutPeers] = await Promise.all([userFolder(tarball, peers), userFolder(tarball, [])]);
  await writeFile(join(withPeers.dir, 'every-subpath.ts'), EVERY_SUBPATH);
  await writeFile(join(withoutPeers.dir, 'without-bullmq.ts'), WITHOUT_BULLMQ);
  await writeFile(join(withoutPeers.dir, 'require-bullmq.cjs'), "require('async-batching/bullmq');\n");
}, 600_000);

afterAll(async () => {
  for (const dir of [work, withPeers?.dir, withoutPeers?.dir])
    if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the packed package, installed with bullmq and ioredis', () => {
  it.for(['nodenext', 'bundler'] as const)(
    'compiles a program importing every subpath with %s resolution',
    async (resolution) => {
      expect(await withPeers.tsc(resolution, 'every-subpath.ts')).toEqual({ code: 0, output: '' });
    },
  );

  it('runs that program', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'lib/package.json'), 'utf8'));
    const result = await withPeers.node('every-subpath.ts');
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual([
      `async-batching ${version}: 2,4,6 200`,
      'function,function,function',
      '',
    ]);
  });
});

describe('the packed package, installed without bullmq and ioredis', () => {
  it.for(['nodenext', 'bundler'] as const)(
    'compiles a program of the other entry points with %s resolution',
    async (resolution) => {
      expect(await withoutPeers.tsc(resolution, 'without-bullmq.ts')).toEqual({ code: 0, output: '' });
    },
  );

  it('runs the other entry points, and importing async-batching/bullmq names the packages to install', async () => {
    const result = await withoutPeers.node('without-bullmq.ts');
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual([
      'without peers: 2,3,4',
      'async-batching/bullmq needs bullmq and ioredis, optional peer dependencies of async-batching that are not ' +
        'installed: npm install bullmq ioredis',
      '',
    ]);
  });

  it('says the same to a CommonJS require()', async () => {
    const result = await withoutPeers.node('require-bullmq.cjs');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('npm install bullmq ioredis');
  });
});
