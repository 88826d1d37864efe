// Builds the API reference of async-batching into dist/docs/ with TypeDoc, and fails on what TypeDoc's validation
// finds: an export without documentation, a {@link} that leads nowhere, a type the reference names but does not show.
// The entry points are the package's own (lib/package.json `exports`), mapped from dist/ back to their sources, so
// the reference follows the package when files move.
//   npm run docs            build and check
//   npm run docs -- --check check only (no HTML written)
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Application, type DeclarationReflection, ReflectionKind } from 'typedoc';

const ROOT = resolve(import.meta.dirname, '..');
const LIB = join(ROOT, 'lib');
const OUT = join(ROOT, 'dist/docs');

type ExportTarget = string | { types?: string; default?: string };

/** The package's subpaths with the source file of each: `['async-batching/demo', '<abs>/lib/src/demo/index.ts']`. */
export function entryPoints(): [name: string, source: string][] {
  const pkg = JSON.parse(readFileSync(join(LIB, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, ExportTarget>;
  };
  return Object.entries(pkg.exports).flatMap(([subpath, target]) => {
    const file = typeof target === 'string' ? target : target.default;
    const match = file?.match(/^\.\/dist\/(.+)\.js$/);
    if (!match) return []; // ./package.json
    const name = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
    return [[name, join(LIB, 'src', `${match[1]}.ts`)]];
  });
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const entries = entryPoints();
  const app = await Application.bootstrapWithPlugins({
    entryPoints: entries.map(([, source]) => source),
    tsconfig: join(LIB, 'tsconfig.json'),
    name: 'async-batching',
    readme: join(LIB, 'README.md'),
    out: OUT,
    excludePrivate: true,
    excludeProtected: false,
    excludeInternal: true,
    excludeNotDocumented: false,
    treatWarningsAsErrors: true,
    sort: ['source-order'],
    validation: {
      notExported: false,
      invalidLink: true,
      invalidPath: true,
      rewrittenLink: true,
      notDocumented: true,
    },
    githubPages: false,
    // Source links name the public repository (lib/package.json `repository`), not this checkout's git remote: a
    // fresh clone's `origin` is a local path, which TypeDoc warns about and this script treats as an error.
    disableGit: true,
    basePath: ROOT,
    sourceLinkTemplate: 'https://github.com/async-batching/async-batching/blob/main/{path}#L{line}',
    hideGenerator: true,
    // DistributedWorker extends Node's EventEmitter, whose inherited comments link to members @types/node declares
    // but this reference does not show: they lead to Node's own documentation.
    externalSymbolLinkMappings: {
      '@types/node': {
        'EventEmitter.defaultMaxListeners': 'https://nodejs.org/api/events.html#eventsdefaultmaxlisteners',
      },
    },
  });
  // treatWarningsAsErrors is applied by TypeDoc's CLI, not by its API: a warning fails this script as well.
  const failed = () => app.logger.hasErrors() || app.logger.hasWarnings();
  const project = await app.convert();
  if (!project || failed()) return 1;
  // Name each module as a user imports it, not after its file.
  for (const module of project.getChildrenByKind(ReflectionKind.Module) as DeclarationReflection[]) {
    const file = module.sources?.[0]?.fullFileName;
    const entry = entries.find(([, source]) => source === file);
    if (entry) module.name = entry[0];
  }
  app.validate(project);
  if (failed()) return 1;
  if (!check) {
    await app.generateDocs(project, OUT);
    if (failed()) return 1;
    console.log(`docs: ${relative(process.cwd(), join(OUT, 'index.html'))}`);
  }
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
