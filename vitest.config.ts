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
    // Most files wait on sockets, timers or child processes rather than the CPU: two workers on a 2-core machine
    // (vitest's default there is one) take the unit tests from about 4 to under 2 minutes under load.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      { extends: true, test: { name: 'notebooks', include: ['test/notebooks/**/*.test.ts'] } },
    ],
  },
});
