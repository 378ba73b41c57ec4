import { defineConfig } from 'vitest/config';

// The webhook under attack (test/hostile/): the built program as the image runs it, one
// process per file against the real registries, with its peak memory and the latency of
// ordinary reviews measured. Not part of `npm test`: `npm run test:hostile`, once in .ci/run.
export default defineConfig({
  test: {
    include: ['test/hostile/**/*.hostile.test.ts'],
    globalSetup: ['test/hostile/global-setup.ts', 'test/helpers/global-setup.ts'],
    // Each file measures one webhook process's memory and latency: one at a time on 2 cores.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    typecheck: { enabled: false },
  },
});
