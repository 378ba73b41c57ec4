import { defineConfig } from 'vitest/config';

// End-to-end tests against a real kube-apiserver/etcd/kube-controller-manager
// (test/e2e/cluster.ts). Kept apart from vitest.config.ts: no unit-test global
// setup here; e2e files that need registries import those helpers themselves.
export default defineConfig({
  test: {
    include: ['test/**/*.e2e.test.ts'],
    // Real registries too (inject('registries')), for the webhook's end-to-end tests.
    globalSetup: ['test/e2e/global-setup.ts', 'test/helpers/global-setup.ts'],
    // Each file starts its own control plane; on 2 cores they run one at a time.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    typecheck: { enabled: false },
  },
});
