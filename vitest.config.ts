import { defineConfig } from 'vitest/config';

// Three projects, one per npm script (`npm run test:unit`, `test:integration`, `test:notebooks`; `npm test` runs all):
// - unit: test/unit/<area>/, no system package, no kernel, no Redis, no browser: the quick inner loop;
// - integration: test/integration/<area>/, the real parts (Chromium, Jupyter, Redis, Jekyll and Hugo, kernels,
//   forked servers and CLIs, the packed package installed in a fresh folder);
// - notebooks: test/notebooks/, checks of the recorded notebooks themselves.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      // Unit files wait on sockets, timers and garbage collection as much as on the CPU: two workers, where vitest's
      // default on a 2-core machine is one. The integration tests keep the default: browsers, kernels and forked
      // servers already use the second core.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], maxWorkers: 2 } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      { extends: true, test: { name: 'notebooks', include: ['test/notebooks/**/*.test.ts'] } },
    ],
  },
});
