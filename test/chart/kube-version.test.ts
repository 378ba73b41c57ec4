/**
 * The oldest Kubernetes minor digest-pinner claims is stated in the chart's
 * kubeVersion and in the docs, and proved by CI running the e2e suite on the
 * oldest harness module (test/e2e/harness/kube-1.N, DP_E2E_KUBE=1.N in .ci/run):
 * all of them must name the same minor.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO_DIR = join(import.meta.dirname, '../..');
const HARNESS_DIR = join(REPO_DIR, 'test/e2e/harness');
const DOCS = ['README.md', 'docs/install.md', 'docs/helm.md'];

const read = (path: string): string => readFileSync(join(REPO_DIR, path), 'utf8');

/** The minors of the harness modules named kube-1.N, oldest first. */
const harnessMinors = readdirSync(HARNESS_DIR)
  .flatMap((name) => /^kube-1\.(\d+)$/.exec(name)?.[1] ?? [])
  .map(Number)
  .sort((a, b) => a - b);
const oldest = harnessMinors[0];

describe('the Kubernetes floor', () => {
  it('has a harness module that pins a release of the minor its directory names', () => {
    expect(oldest).toBeDefined();
    const goMod = read(`test/e2e/harness/kube-1.${oldest}/go.mod`);
    expect(goMod).toMatch(new RegExp(`^require k8s\\.io/kubernetes v1\\.${oldest}\\.\\d+$`, 'm'));
  });

  it('is the minor CI runs the e2e suite on', () => {
    expect(read('.ci/run')).toMatch(new RegExp(`^oldest=1\\.${oldest}$`, 'm'));
  });

  it("is the chart's kubeVersion", () => {
    expect(read('charts/digest-pinner/Chart.yaml')).toMatch(new RegExp(`^kubeVersion: ">=1\\.${oldest}\\.0-0"$`, 'm'));
  });

  it.each(DOCS)('is the only "Kubernetes 1.N or later" in %s', (path) => {
    const claims = [...read(path).matchAll(/Kubernetes (1\.\d+) or\s+later/g)].map((match) => match[1]);
    expect(claims.length).toBeGreaterThan(0);
    expect(new Set(claims)).toEqual(new Set([`1.${oldest}`]));
  });
});
