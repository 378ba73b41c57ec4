import { defineConfig } from 'vitest/config';

/** Files that need the real registries or a Debian package are named so; everything else is unit. */
const INTEGRATION = 'test/**/*.integration.test.ts';
/**
 * Run by their own configs: anything that needs the kube-apiserver harness
 * (vitest.e2e.config.ts), the container image's test (vitest.image.config.ts), the
 * built webhook under attack (vitest.hostile.config.ts).
 */
const OTHER_CONFIGS = ['test/e2e/**', '**/*.e2e.test.ts', '**/*.image.test.ts', '**/*.hostile.test.ts'];

export default defineConfig({
  test: {
    typecheck: { enabled: false },
    // A ceiling for a test that hangs, far above what any needs on a busy machine.
    testTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // No globalSetup: no registry is started, no Debian package is needed.
          include: ['test/**/*.test.ts'],
          exclude: [INTEGRATION, ...OTHER_CONFIGS, 'node_modules/**'],
          // Unit files share a worker's module cache instead of importing everything
          // again each (no vi.mock here, and fake timers are restored after each test).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [INTEGRATION],
          exclude: [...OTHER_CONFIGS, 'node_modules/**'],
          globalSetup: ['test/helpers/global-setup.ts'],
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
