import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Anything that needs the kube-apiserver harness runs in vitest.e2e.config.ts, the
    // container image's test in vitest.image.config.ts.
    exclude: ['test/e2e/**', '**/*.e2e.test.ts', '**/*.image.test.ts', 'node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    typecheck: { enabled: false },
  },
});
