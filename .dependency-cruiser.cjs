// The import rules of lib/src (DESIGN.md, "Where things go"): five layers, each importing only the ones below it,
// and no cycle anywhere. `npm run lint:deps` checks them; a violation names the two files (or the whole cycle).
//
//   5  notebook.ts · demo/      display helper, demo sites
//   4  io/                      get-page/ (with its HTTP retry policy) · bullmq/
//   3  compositions/            deferred-list · parallel/ · batcher · timeline
//   2  blocks/                  semaphore/ · queue · cooperator · rate limiter · generic retry
//   1  core/                    deferred · failure · errors · clock · argument checks
//
// index.ts is the package's entry point: it re-exports layers 1-4 and nothing imports it.
//
// tools/ is laid out the same way, by concern (DESIGN.md; tools/README.md):
//
//   tools/*.ts, launch.mjs   the command-line files: each parses its arguments, calls into a folder, sets the exit code
//   runner/ · export/        running and checking notebooks · exporting them as blog posts; neither uses the other
//   env/                     what the machine needs first: Node, system packages, Deno, Jupyter and kernelspecs
//   nbformat/                the one notebook model; it imports nothing of tools/
//
// Only the command-line files read process.argv or end the process: Biome checks that (.biome/*.grit), since it is
// about code, not imports.

const LAYERS = [
  { name: 'core', path: '^lib/src/core/' },
  { name: 'blocks', path: '^lib/src/blocks/' },
  { name: 'compositions', path: '^lib/src/compositions/' },
  { name: 'io', path: '^lib/src/io/' },
  { name: 'notebook-demo', path: '^lib/src/(demo/|notebook\\.ts$)' },
];

/** One rule per layer: it may not import from any layer above it. */
const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `no-upward-from-${layer.name}`,
  comment: `${layer.path} is layer ${i + 1}: it may import only from the layers below it, never from ${LAYERS.slice(
    i + 1,
  )
    .map((l) => l.name)
    .join(', ')}`,
  severity: 'error',
  from: { path: layer.path },
  to: { path: LAYERS.slice(i + 1).map((l) => l.path) },
}));

/** The folders of tools/ and what each may import of tools/ besides itself. */
const TOOLS = {
  nbformat: [],
  env: ['nbformat'],
  runner: ['nbformat', 'env'],
  export: ['nbformat'],
};

/** One rule per folder of tools/: it imports only the folders it is allowed, and never a command-line file. */
const toolsFolders = Object.entries(TOOLS).map(([folder, allowed]) => ({
  name: `tools-${folder}-imports`,
  comment: `tools/${folder}/ may import ${
    allowed.length > 0 ? `only tools/{${allowed.join(',')}}/ of tools/` : 'nothing of tools/'
  } (and never a command-line file of tools/): ${folder === 'nbformat' ? 'the model everything else builds on' : 'see the map at the top'}`,
  severity: 'error',
  from: { path: `^tools/${folder}/` },
  to: { path: '^tools/', pathNot: `^tools/(${[folder, ...allowed].join('|')})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'Modules must not depend on each other in a circle (type-only imports count: they tie the design too).',
      severity: 'error',
      from: { path: '^(lib/src|tools)/' },
      to: { circular: true },
    },
    ...upward,
    ...toolsFolders,
    {
      name: 'tools-every-module-in-a-folder',
      comment:
        'A file directly in tools/ is a command-line file; everything else lives in a folder of its concern ' +
        `(${Object.keys(TOOLS).join(', ')}), so that the rules above know what it may import.`,
      severity: 'error',
      from: { path: '^tools/[^/]+/', pathNot: `^tools/(${Object.keys(TOOLS).join('|')})/` },
      to: {},
    },
    {
      name: 'tools-and-lib-apart',
      comment:
        'The tools know nothing of the library (a notebook imports it by its package name), and the library nothing ' +
        'of the tools.',
      severity: 'error',
      from: { path: '^(tools|lib/src)/' },
      to: { path: '^(lib/src|tools)/', pathNot: '^$1/' },
    },
    {
      name: 'no-import-of-entry-point',
      comment:
        'index.ts only re-exports; a module inside the package imports what it needs from its own file.',
      severity: 'error',
      from: { path: '^lib/src/' },
      to: { path: '^lib/src/index\\.ts$' },
    },
    {
      name: 'every-module-in-a-layer',
      comment:
        'A module of lib/src lives in a layer folder (or is index.ts or notebook.ts), so its layer is known.',
      severity: 'error',
      from: {
        path: '^lib/src/',
        pathNot: '^lib/src/(core|blocks|compositions|io|demo)/|^lib/src/(index|notebook)\\.ts$',
      },
      to: {},
    },
    {
      name: 'portable-lower-layers',
      comment:
        'Layers 1-3 run anywhere (browsers, Deno, Bun, workers): no node: built-in and no npm package; what the platform ' +
        'offers is probed at run time (globalThis, process.getBuiltinModule).',
      severity: 'error',
      from: { path: '^lib/src/(core|blocks|compositions)/' },
      to: {
        dependencyTypes: ['core', 'npm', 'npm-dev', 'npm-peer', 'npm-optional', 'npm-no-pkg', 'npm-unknown'],
      },
    },
  ],
  options: {
    // TypeScript 7.0 has no compiler API for dependency-cruiser to parse with; swc parses TypeScript, and reports
    // type-only imports too (they count: the rule is about the design, not only what runs).
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^lib/dist/' },
  },
};
