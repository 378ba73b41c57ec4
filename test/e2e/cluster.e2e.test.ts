/**
 * Smoke test of the e2e control plane itself: the version its binaries report
 * answers, its feature gates agree with kube-features.ts, RBAC
 * is enforced, and kube-controller-manager turns Deployments into ReplicaSets and
 * Pods — and can be stopped and restarted on its own.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { deploymentCaughtUp } from './deployments.js';
import { KUBE_FEATURES, serves, type KubeFeature } from './kube-features.js';

interface ObjectList {
  items: { metadata: { name: string; ownerReferences?: { kind: string; name: string }[] }; status?: { phase?: string } }[];
}

const NAMESPACE = 'smoke';
const IMAGE = 'registry.invalid/smoke/app:1.0';

let cluster: Cluster;

async function list(kind: string, selector?: string): Promise<ObjectList> {
  const args = ['get', kind, '-n', NAMESPACE, '-o', 'json'];
  if (selector) args.push('-l', selector);
  return JSON.parse(await cluster.kubectlOk(args)) as ObjectList;
}

async function replicaSetsOf(deployment: string): Promise<string[]> {
  const { items } = await list('replicasets');
  return items
    .filter((rs) => rs.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === deployment))
    .map((rs) => rs.metadata.name);
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.kubectlOk(['create', 'namespace', NAMESPACE]);
});

afterAll(async () => {
  await cluster.stop();
});

describe('startCluster', () => {
  it('starts, on loopback, and says how long it took', () => {
    process.stderr.write(`[e2e smoke] cluster start took ${cluster.startupMs} ms\n`);
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves the Kubernetes version its binaries report', async () => {
    const version = JSON.parse(await cluster.kubectlOk(['version', '-o', 'json'])) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    expect(version.serverVersion.gitVersion).toBe(cluster.versions.kubernetes);
    expect(version.clientVersion.gitVersion).toBe(cluster.versions.kubernetes);
  });

  it("agrees with kube-features.ts on every feature gate of its table that this kube-apiserver still has", async (context) => {
    const metrics = await cluster.kubectlOk(['get', '--raw', '/metrics']);
    const enabled: Record<string, boolean> = {};
    for (const [, name = '', value] of metrics.matchAll(/^kubernetes_feature_enabled\{name="(\w+)",stage="\w*"\} ([01])$/gm)) {
      enabled[name] = value === '1';
    }
    expect(Object.keys(enabled).length, 'kubernetes_feature_enabled series').toBeGreaterThan(0);
    // A gate appears in its feature's alpha and is removed a few minors after GA.
    const known = (Object.keys(KUBE_FEATURES) as KubeFeature[]).filter((feature) => feature in enabled);
    context.skip(known.length === 0, `not applicable: kube-apiserver ${cluster.versions.kubernetes} has none of the table's gates`);
    const expected = Object.fromEntries(known.map((feature) => [feature, serves(cluster.versions.minor, feature)]));
    expect(Object.fromEntries(known.map((feature) => [feature, enabled[feature]]))).toEqual(expected);
  });

  it('enforces RBAC: a ServiceAccount without bindings cannot list secrets', async () => {
    await cluster.kubectlOk(['create', 'serviceaccount', 'nobody', '-n', NAMESPACE]);
    const asSa = await cluster.kubectl(['auth', 'can-i', 'list', 'secrets', '-n', NAMESPACE,
      `--as=system:serviceaccount:${NAMESPACE}:nobody`]);
    expect(asSa.stdout.trim()).toBe('no');
    expect(asSa.code).not.toBe(0);
    const asAdmin = await cluster.kubectl(['auth', 'can-i', 'list', 'secrets', '-n', NAMESPACE]);
    expect(asAdmin.stdout.trim()).toBe('yes');

    // The same with the ServiceAccount's own token, as the webhook run on the host would authenticate.
    const token = await cluster.createServiceAccountToken(NAMESPACE, 'nobody', { durationSeconds: 600 });
    expect(token.split('.')).toHaveLength(3);
    const tokenKubeconfig = await cluster.writeTokenKubeconfig('nobody', token);
    const whoami = await cluster.kubectlOk(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'],
      { kubeconfig: tokenKubeconfig });
    expect(whoami).toBe(`system:serviceaccount:${NAMESPACE}:nobody`);
    const denied = await cluster.kubectl(['get', 'secrets', '-n', NAMESPACE], { kubeconfig: tokenKubeconfig });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('Forbidden');
  });

  it('runs kube-controller-manager: a Deployment gets a ReplicaSet and Pending Pods', async () => {
    await cluster.kubectlOk(['create', 'deployment', 'web', `--image=${IMAGE}`, '--replicas=2', '-n', NAMESPACE]);
    const replicaSets = await waitFor('a ReplicaSet for deployment/web', async () => {
      const names = await replicaSetsOf('web');
      return names.length > 0 ? names : undefined;
    });
    expect(replicaSets).toHaveLength(1);
    const pods = await waitFor('2 Pods of deployment/web', async () => {
      const { items } = await list('pods', 'app=web');
      return items.length === 2 ? items : undefined;
    });
    // No scheduler, no kubelet: the Pods exist but never leave Pending.
    expect(pods.map((p) => p.status?.phase)).toEqual(['Pending', 'Pending']);
  });

  it('stops and restarts kube-controller-manager on its own', async () => {
    // Resolves once the process has exited: its port is closed, and nothing makes ReplicaSets.
    await cluster.stopControllerManager();
    expect(await connects(cluster.ports.controllerManager)).toBe(false);
    await cluster.kubectlOk(['create', 'deployment', 'late', `--image=${IMAGE}`, '-n', NAMESPACE]);
    expect(await replicaSetsOf('late')).toEqual([]);

    await cluster.startControllerManager();
    // Once the Deployment controller has caught up with both Deployments, each has its one ReplicaSet: the restart made no second.
    await waitFor('the Deployment controller to catch up with web and late', async () => ((await deploymentCaughtUp(cluster, NAMESPACE, 'web')) && (await deploymentCaughtUp(cluster, NAMESPACE, 'late')) ? true : undefined));
    expect(await replicaSetsOf('late')).toHaveLength(1);
    expect(await replicaSetsOf('web')).toHaveLength(1);
  });
});
