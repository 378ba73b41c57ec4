/**
 * What the rollout e2e files share: the shapes of the objects they read back, a Deployment's
 * manifest, and reads that wait on the control plane (its controllers, the webhook's records)
 * rather than sleep.
 */
import { stringify } from 'yaml';
import { expect } from 'vitest';
import { pushImage } from '../helpers/registry.js';
import type { TestRegistry } from '../helpers/registry-types.js';
import type { Cluster } from './cluster.js';
import { deploymentCaughtUp } from './deployments.js';
import { applyManifests, eventually as poll, MANIFESTS } from './host-webhook.js';
import { issueCertificate } from './pki.js';

/** The pods-only install: templates are left alone, Pods pinned. */
export const PODS_ONLY = `${MANIFESTS}pods-only`;

/**
 * Applies the pods-only install's RBAC, ServiceAccount and CRDs (its webhook configuration is
 * applied once a webhook serves) and returns the flags a host webhook needs to serve as that
 * ServiceAccount: its address, a serving certificate the cluster's CA signs, its kubeconfig.
 */
export async function podsOnlyServeArgs(cluster: Cluster): Promise<string[]> {
  const cert = await issueCertificate(cluster.pki.ca, { name: 'webhook', commonName: 'digest-pinner', usage: 'server', altNames: ['IP:127.0.0.1'] });
  await applyManifests(cluster, 1, (doc) => doc.kind !== 'MutatingWebhookConfiguration', PODS_ONLY);
  const token = await cluster.createServiceAccountToken('digest-pinner', 'digest-pinner', { durationSeconds: 3600 });
  return ['--host', '127.0.0.1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--kubeconfig', await cluster.writeTokenKubeconfig('digest-pinner', token)];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A Pod, ReplicaSet, Job or ControllerRevision, as far as the tests read them. */
export interface Item {
  metadata: { name: string; uid: string; ownerReferences?: OwnerReference[]; labels?: Record<string, string> };
  spec: { containers?: { image: string }[] };
}

export interface PinRecordItem {
  metadata: { name: string; uid: string; ownerReferences?: OwnerReference[] };
  spec: { revision: { kind: string; name: string; uid: string; hash?: string }; pins: { field: string; image: string; digest: string; source: string; confirmedAt?: string }[] };
}

/** A Deployment of `replicas` Pods with one container, `app`. */
export function deploymentYaml(namespace: string, name: string, image: string, replicas: number): string {
  const labels = { app: name };
  return stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    // Recreate: Pods never become ready without a kubelet, so a rolling update would stall.
    spec: { replicas, strategy: { type: 'Recreate' }, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image }] } } },
  });
}

/** The digest each Pod's `app` container is pinned to (undefined: not pinned). */
export function digests(pods: readonly Item[]): (string | undefined)[] {
  return pods.map((pod) => pod.spec.containers?.[0]?.image.split('@')[1]);
}

/** Reads of one cluster; a timeout's error ends with `context()` (e.g. the tail of the webhook's log). */
export interface RolloutReads {
  readonly getJson: <T>(args: readonly string[]) => Promise<T>;
  readonly eventually: <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number) => Promise<T>;
  /** The Pods of `selector` once there are `count` of them, for `ownedBy` (a controller's uid) when given. */
  readonly podsOf: (namespace: string, selector: string, count: number, ownedBy?: string) => Promise<Item[]>;
  /** The Deployment's ReplicaSets, once the Deployment controller has caught up with it. */
  readonly replicaSets: (namespace: string, name: string) => Promise<Item[]>;
  readonly records: (namespace: string) => Promise<PinRecordItem[]>;
  readonly kubectlOk: Cluster['kubectlOk'];
}

/** `cluster` may be a stand-in that reaches the cluster a beforeAll starts later. */
export function rolloutReads(cluster: Pick<Cluster, 'kubectlOk'>, context: () => string): RolloutReads {
  const getJson = async <T>(args: readonly string[]): Promise<T> => JSON.parse(await cluster.kubectlOk([...args, '-o', 'json'])) as T;
  const eventually = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => poll(what, probe, { timeoutMs, context });
  return {
    getJson,
    eventually,
    podsOf: (namespace, selector, count, ownedBy) =>
      eventually(`${count} pods of ${selector}${ownedBy === undefined ? '' : ` owned by ${ownedBy}`}`, async () => {
        const list = await getJson<{ items: Item[] }>(['get', 'pods', '-n', namespace, '-l', selector]);
        const pods = list.items.filter((pod) => ownedBy === undefined || pod.metadata.ownerReferences?.some((owner) => owner.uid === ownedBy) === true);
        return pods.length === count ? pods : undefined;
      }),
    replicaSets: async (namespace, name) => {
      await eventually(`deployment/${name} to catch up`, async () => ((await deploymentCaughtUp(cluster, namespace, name)) ? true : undefined));
      return (await getJson<{ items: Item[] }>(['get', 'replicasets', '-n', namespace, '-l', `app=${name}`])).items;
    },
    records: async (namespace) => (await getJson<{ items: PinRecordItem[] }>(['get', 'pinrecords', '-n', namespace])).items,
    kubectlOk: (args, options) => cluster.kubectlOk(args, options),
  };
}

export interface PushAndScaleOptions {
  readonly namespace: string;
  readonly repository: string;
  /** The Deployment's name, and its Pods' `app` label (default `web`). */
  readonly name?: string;
  /** Runs after the second push, before the scale-up (e.g. restarts a webhook process). */
  readonly beforeScale?: () => Promise<void>;
}

export interface PushedAndScaled {
  /** The digests the tag pointed to, before and after the second push. */
  readonly first: string;
  readonly second: string;
  /** The 6 Pods of the Deployment's ReplicaSet. */
  readonly pods: Item[];
  readonly replicaSet: Item;
}

/**
 * Deploys 3 replicas of `repository:v1` (all pinned to the tag's digest), pushes the tag again,
 * scales to 6: the 6 Pods of the ReplicaSet, and the two digests the tag pointed to.
 */
export async function pushAndScale(reads: RolloutReads, registry: TestRegistry, options: PushAndScaleOptions): Promise<PushedAndScaled> {
  const { namespace, repository, name = 'web' } = options;
  const first = await pushImage(registry, repository, 'v1');
  await reads.kubectlOk(['apply', '-f', '-'], { stdin: deploymentYaml(namespace, name, `${registry.host}/${repository}:v1`, 3) });
  const [replicaSet] = await reads.replicaSets(namespace, name);
  if (replicaSet === undefined) throw new Error(`no ReplicaSet for deployment/${name}`);
  const before = await reads.podsOf(namespace, `app=${name}`, 3);
  expect(digests(before)).toEqual([first.digest, first.digest, first.digest]);
  const second = await pushImage(registry, repository, 'v1');
  expect(second.digest).not.toBe(first.digest);
  await options.beforeScale?.();
  await reads.kubectlOk(['scale', 'deployment', name, '-n', namespace, '--replicas', '6']);
  const pods = await reads.podsOf(namespace, `app=${name}`, 6, replicaSet.metadata.uid);
  return { first: first.digest, second: second.digest, pods, replicaSet };
}
