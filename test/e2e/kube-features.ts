/**
 * Kubernetes features some e2e tests need that the oldest supported minor
 * lacks, each under its feature gate's name with the first minor whose
 * kube-apiserver serves it by default (k8s.io/kubernetes pkg/features). On an
 * older minor such a test is not applicable: it is skipped with a note naming
 * the version and the feature, and counted as skipped, never as passed.
 */
import { inject, type TestContext } from 'vitest';

export const KUBE_FEATURES = {
  ImageVolume: { since: 35, what: 'image volumes (spec.volumes[].image)' },
} as const satisfies Record<string, { readonly since: number; readonly what: string }>;

export type KubeFeature = keyof typeof KUBE_FEATURES;

/** Whether Kubernetes 1.`minor` serves `feature` by default. */
export function serves(minor: number, feature: KubeFeature): boolean {
  return minor >= KUBE_FEATURES[feature].since;
}

/** Skips the running test, as not applicable, when the cluster's minor lacks `feature`. */
export function needsFeature(context: TestContext, feature: KubeFeature): void {
  const { kubernetes, minor } = inject('kube');
  const { since, what } = KUBE_FEATURES[feature];
  context.skip(!serves(minor, feature), `not applicable: Kubernetes ${kubernetes} lacks ${what}, served from 1.${since}`);
}
