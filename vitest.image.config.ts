import { defineConfig } from 'vitest/config';

// The container image (test/image/*.image.test.ts): pushed to the real registries and run with
// runc. Needs scripts/image/build.sh's output and root; CI runs it once, not per Node version.
export default defineConfig({
  test: {
    include: ['test/**/*.image.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    typecheck: { enabled: false },
  },
});
