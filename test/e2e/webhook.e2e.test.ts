/**
 * digest-pinner against its real client: kube-apiserver (RBAC on) and kube-controller-manager.
 * manifests/ is applied as shipped (RBAC included); the webhook runs on the host with the
 * ServiceAccount token of manifests/' ServiceAccount and the configuration points at it by URL.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { deploymentCaughtUp } from './deployments.js';
import { issueCertificate } from './pki.js';
import { pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { applyManifests, eventually as poll, MANIFESTS, portOf, startHostWebhook } from './host-webhook.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { testLog, type TestLog } from '../support/log.js';

const registries = inject('registries');
const { plain, basic } = registries;
const WARN = 'team-warn';
const STRICT = 'team-strict';
const PLAIN = 'team-plain';

let cluster: Cluster;
let webhook: RunningServer | undefined;
let webhookPort = 0;
let webhookArgs: string[] = [];
let app: PushedImage;
let privateImage: PushedImage;
let log: TestLog | undefined;
const logText = (): string => log?.text() ?? '';

interface Item {
  metadata: { name: string; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] };
  spec: { containers?: { image: string }[]; template?: { spec: { containers: { image: string }[] } } };
}

const appRef = () => `${plain.host}/${app.repository}:${app.tag}`;
const pinnedApp = () => `${appRef()}@${app.digest}`;

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await cluster.kubectlOk([...args, '-o', 'json'])) as T;
}

const eventually = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => poll(what, probe, { timeoutMs });

/** Waits until the Deployment controller has caught up with the Deployment (deploymentCaughtUp). */
async function settledDeployment(namespace: string, name: string): Promise<void> {
  await eventually(`the Deployment controller to catch up with deployment/${name}`, async () => ((await deploymentCaughtUp(cluster, namespace, name)) ? true : undefined));
}

function podYaml(namespace: string, name: string, image: string, extra: Record<string, unknown> = {}): string {
  return stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [{ name: 'app', image }], ...extra } });
}

function deploymentYaml(namespace: string, name: string, image: string, replicas = 2, podSpec: Record<string, unknown> = {}): string {
  const labels = { app: name };
  return stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { ...podSpec, containers: [{ name: 'app', image }] } } },
  });
}

async function startWebhook(): Promise<void> {
  log ??= testLog(join(cluster.logDir, 'webhook.log'));
  webhook = await startHostWebhook({ cluster, args: webhookArgs, port: webhookPort, log, poll: { timeoutMs: 60_000, context: () => logText().slice(-3000) } });
  webhookPort = portOf(webhook);
}

async function stopWebhook(): Promise<void> {
  await webhook?.close();
  webhook = undefined;
}

beforeAll(async () => {
  [app, privateImage] = await Promise.all([pushImage(plain, 'e2e/app', 'v1'), pushImage(basic, 'e2e/private', 'v1')]);
  cluster = await startCluster();
  const cert = await issueCertificate(cluster.pki.ca, { name: 'webhook', commonName: 'digest-pinner', usage: 'server', altNames: ['IP:127.0.0.1'] });
  // RBAC and the ServiceAccount come from manifests/; the first apply only needs them.
  await cluster.kubectlOk(['apply', '-k', MANIFESTS]);
  const token = await cluster.createServiceAccountToken('digest-pinner', 'digest-pinner', { durationSeconds: 3600 });
  const kubeconfig = await cluster.writeTokenKubeconfig('digest-pinner', token);
  webhookArgs = [
    '--host', '127.0.0.1',
    '--tls-cert', cert.certFile,
    '--tls-key', cert.keyFile,
    '--kubeconfig', kubeconfig,
    '--insecure-registry', plain.host,
    '--ca-file', registries.caFile,
    '--log-level', 'warn',
  ];
  await startWebhook();
  await applyManifests(cluster, webhookPort);
  for (const [ns, mode] of [[WARN, 'warn'], [STRICT, 'strict'], [PLAIN, undefined]] as const) {
    await cluster.kubectlOk(['create', 'namespace', ns]);
    if (mode !== undefined) await cluster.kubectlOk(['label', 'namespace', ns, `digest-pinner.io/mode=${mode}`]);
    // Pods need the namespace's default ServiceAccount, which kube-controller-manager creates.
    await eventually(`the default ServiceAccount of ${ns}`, async () => ((await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', ns])).code === 0 ? true : undefined));
  }
  await writeFile(join(cluster.workDir, 'webhook-args.txt'), webhookArgs.join(' '));
}, 240_000);

afterAll(async () => {
  await stopWebhook();
  await cluster.stop();
});

describe('a warn namespace', () => {
  it('stores a Pod pinned to the digest the registry reports', async () => {
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: podYaml(WARN, 'pinned', appRef()) });
    const pod = await getJson<Item>(['get', 'pod', 'pinned', '-n', WARN]);
    expect(pod.spec.containers?.[0]?.image).toBe(pinnedApp());
    expect(JSON.parse(pod.metadata.annotations?.['digest-pinner.io/original-images'] ?? '{}')).toEqual({ 'containers/app': appRef() });
  });

  it('pins a Deployment, and its ReplicaSet and Pods all carry the same digest', async () => {
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: deploymentYaml(WARN, 'web', appRef()) });
    const deployment = await getJson<Item>(['get', 'deployment', 'web', '-n', WARN]);
    expect(deployment.spec.template?.spec.containers[0]?.image).toBe(pinnedApp());
    const pods = await eventually('two pods of web', async () => {
      const list = await getJson<{ items: Item[] }>(['get', 'pods', '-n', WARN, '-l', 'app=web']);
      return list.items.length === 2 ? list.items : undefined;
    });
    for (const pod of pods) expect(pod.spec.containers?.[0]?.image).toBe(pinnedApp());
    const sets = await getJson<{ items: Item[] }>(['get', 'replicasets', '-n', WARN, '-l', 'app=web']);
    expect(sets.items).toHaveLength(1);
    expect(sets.items[0]?.spec.template?.spec.containers[0]?.image).toBe(pinnedApp());
  });

  it('shows the pinned result on kubectl apply --dry-run=server, and stores nothing', async () => {
    const out = await cluster.kubectlOk(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { stdin: podYaml(WARN, 'dry', appRef()) });
    expect((JSON.parse(out) as Item).spec.containers?.[0]?.image).toBe(pinnedApp());
    const get = await cluster.kubectl(['get', 'pod', 'dry', '-n', WARN]);
    expect(get.code).not.toBe(0);
  });

  it('admits an unresolvable image unchanged with a warning naming it', async () => {
    const missing = `${plain.host}/e2e/app:no-such-tag`;
    const result = await cluster.kubectl(['apply', '-f', '-'], { stdin: podYaml(WARN, 'unresolvable', missing) });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`Warning: digest-pinner: containers/app image "${missing}" not pinned`);
    const pod = await getJson<Item>(['get', 'pod', 'unresolvable', '-n', WARN]);
    expect(pod.spec.containers?.[0]?.image).toBe(missing);
  });

  it('an UPDATE that does not touch images changes no image and rolls nothing out', async () => {
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: deploymentYaml(WARN, 'stable', appRef(), 1) });
    const before = await getJson<Item>(['get', 'deployment', 'stable', '-n', WARN]);
    await cluster.kubectlOk(['label', 'deployment', 'stable', '-n', WARN, 'touched=yes']);
    await cluster.kubectlOk(['annotate', 'deployment', 'stable', '-n', WARN, 'note=unrelated']);
    const after = await getJson<Item>(['get', 'deployment', 'stable', '-n', WARN]);
    // The spec, template included, is untouched (kube-apiserver bumps a Deployment's
    // generation on annotation changes too, so generation proves nothing here).
    expect(after.spec).toEqual(before.spec);
    await settledDeployment(WARN, 'stable');
    expect((await getJson<{ items: Item[] }>(['get', 'replicasets', '-n', WARN, '-l', 'app=stable'])).items).toHaveLength(1);
  });
});

describe('namespaces that did not opt in', () => {
  it('leaves an unlabelled namespace untouched', async () => {
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: podYaml(PLAIN, 'untouched', appRef()) });
    const pod = await getJson<Item>(['get', 'pod', 'untouched', '-n', PLAIN]);
    expect(pod.spec.containers?.[0]?.image).toBe(appRef());
    expect(pod.metadata.annotations?.['digest-pinner.io/original-images']).toBeUndefined();
  });
});

describe('a strict namespace', () => {
  it('pins what resolves', async () => {
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: podYaml(STRICT, 'ok', appRef()) });
    const pod = await getJson<Item>(['get', 'pod', 'ok', '-n', STRICT]);
    expect(pod.spec.containers?.[0]?.image).toBe(pinnedApp());
  });

  it('denies an unresolvable image with a readable message', async () => {
    const missing = `${plain.host}/e2e/app:no-such-tag`;
    const result = await cluster.kubectl(['apply', '-f', '-'], { stdin: podYaml(STRICT, 'denied', missing) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('admission webhook "strict.digest-pinner.io" denied the request');
    expect(result.stderr).toContain(`containers/app image "${missing}" not pinned: registry answered 404`);
  });
});

describe('pull secrets from the cluster', () => {
  const privateRef = () => `${basic.host}/${privateImage.repository}:${privateImage.tag}`;
  const auth = () => Buffer.from(`${basic.username ?? ''}:${basic.password ?? ''}`).toString('base64');

  async function createPullSecret(namespace: string, name: string): Promise<void> {
    const config = JSON.stringify({ auths: { [basic.host]: { auth: auth() } } });
    await cluster.kubectlOk(['create', 'secret', 'generic', name, '-n', namespace, '--type=kubernetes.io/dockerconfigjson', `--from-literal=.dockerconfigjson=${config}`]);
  }

  /** The webhook's watch sees a new Secret after a moment: dry-run until it does. */
  async function pinnedOnDryRun(yaml: string): Promise<string> {
    return eventually('the webhook to see the pull secret', async () => {
      const out = await cluster.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { stdin: yaml });
      const image = out.code === 0 ? (JSON.parse(out.stdout) as Item).spec.containers?.[0]?.image : undefined;
      return image?.includes('@sha256:') === true ? image : undefined;
    }, 20_000);
  }

  it("resolves a private image through the pod's imagePullSecret", async () => {
    await createPullSecret(WARN, 'regcred');
    const yaml = podYaml(WARN, 'private-pod', privateRef(), { imagePullSecrets: [{ name: 'regcred' }] });
    expect(await pinnedOnDryRun(yaml)).toBe(`${privateRef()}@${privateImage.digest}`);
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: yaml });
    const pod = await getJson<Item>(['get', 'pod', 'private-pod', '-n', WARN]);
    expect(pod.spec.containers?.[0]?.image).toBe(`${privateRef()}@${privateImage.digest}`);
  });

  it("resolves a private image through its ServiceAccount's imagePullSecrets", async () => {
    await createPullSecret(STRICT, 'sa-regcred');
    await cluster.kubectlOk(['create', 'serviceaccount', 'builder', '-n', STRICT]);
    await cluster.kubectlOk(['patch', 'serviceaccount', 'builder', '-n', STRICT, '-p', '{"imagePullSecrets":[{"name":"sa-regcred"}]}']);
    const yaml = podYaml(STRICT, 'sa-pod', privateRef(), { serviceAccountName: 'builder', automountServiceAccountToken: false });
    expect(await pinnedOnDryRun(yaml)).toBe(`${privateRef()}@${privateImage.digest}`);
    const deployment = deploymentYaml(STRICT, 'sa-deploy', privateRef(), 1, { serviceAccountName: 'builder' });
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: deployment });
    const stored = await getJson<Item>(['get', 'deployment', 'sa-deploy', '-n', STRICT]);
    expect(stored.spec.template?.spec.containers[0]?.image).toBe(`${privateRef()}@${privateImage.digest}`);
  });

  it('fails cleanly without a secret', async () => {
    const result = await cluster.kubectl(['apply', '-f', '-'], { stdin: podYaml(STRICT, 'no-secret', privateRef()) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`containers/app image "${privateRef()}" not pinned: no credentials for ${basic.host}: no pull secret matched`);
    expect(result.stderr).toContain('registry answered 401');
  });
});

describe("the webhook's RBAC", () => {
  const as = ['--as', 'system:serviceaccount:digest-pinner:digest-pinner'];
  it.each([
    ['list', 'secrets', 'yes'],
    ['watch', 'secrets', 'yes'],
    ['watch', 'serviceaccounts', 'yes'],
    ['create', 'events.events.k8s.io', 'yes'],
    ['create', 'secrets', 'no'],
    ['update', 'secrets', 'no'],
    ['delete', 'pods', 'no'],
    ['create', 'pods', 'no'],
    ['get', 'configmaps', 'no'],
    ['patch', 'mutatingwebhookconfigurations', 'no'],
    ['create', 'serviceaccounts/token', 'no'],
  ])('%s %s: %s', async (verb, resource, expected) => {
    const result = await cluster.kubectl(['auth', 'can-i', verb, resource, '-A', ...as]);
    expect(result.stdout.trim()).toBe(expected);
  });

  it('is enough: the webhook ran on its ServiceAccount token and synced its caches', async () => {
    const ready = await webhook?.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready?.statusCode).toBe(200);
    expect(logText()).not.toMatch(/forbidden/i);
  });
});

describe('a Deployment created while the webhook was down', () => {
  it('gets pinned pods and exactly one ReplicaSet once the webhook and the controller are back', async () => {
    await cluster.stopControllerManager();
    await stopWebhook();
    // failurePolicy Ignore in warn namespaces: admitted unpinned while the webhook is away.
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: deploymentYaml(WARN, 'late', appRef()) });
    const stored = await getJson<Item>(['get', 'deployment', 'late', '-n', WARN]);
    expect(stored.spec.template?.spec.containers[0]?.image).toBe(appRef());
    await startWebhook();
    await cluster.startControllerManager();
    const pods = await eventually('two pods of late', async () => {
      const list = await getJson<{ items: Item[] }>(['get', 'pods', '-n', WARN, '-l', 'app=late']);
      return list.items.length === 2 ? list.items : undefined;
    });
    for (const pod of pods) expect(pod.spec.containers?.[0]?.image).toBe(pinnedApp());
    // Once the Deployment controller has caught up: a fight over the template would have added ReplicaSets.
    await settledDeployment(WARN, 'late');
    const sets = await getJson<{ items: Item[] }>(['get', 'replicasets', '-n', WARN, '-l', 'app=late']);
    expect(sets.items).toHaveLength(1);
    expect(sets.items[0]?.spec.template?.spec.containers[0]?.image).toBe(appRef());
  });
});

describe('warnings reach people', () => {
  it('records an Event on the workload when a controller-created pod could not be pinned', async () => {
    const missing = `${plain.host}/e2e/app:gone`;
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: deploymentYaml(WARN, 'broken', missing, 1) });
    // Each admission that could not pin it is told about: the Deployment's own, and the
    // ReplicaSet's and its Pod's, which regard the ReplicaSet (a Pod has no name yet, so its
    // Event goes to the workload that owns it).
    const regarded = await eventually('ImageNotPinned Events on the Deployment and its ReplicaSet', async () => {
      const list = await getJson<{ items: { reason: string; note?: string; regarding?: { kind: string; name: string } }[] }>(['get', 'events.events.k8s.io', '-n', WARN]);
      const found = list.items.filter((e) => e.reason === 'ImageNotPinned' && e.note?.includes(missing) === true);
      const kinds = new Set(found.map((e) => e.regarding?.kind));
      return kinds.has('Deployment') && kinds.has('ReplicaSet') ? found : undefined;
    });
    expect(regarded.find((e) => e.regarding?.kind === 'Deployment')?.regarding?.name).toBe('broken');
    expect(regarded.find((e) => e.regarding?.kind === 'ReplicaSet')?.regarding?.name).toMatch(/^broken-[a-z0-9]+$/);
  });

  it('records nothing for a dry run', async () => {
    const missing = `${plain.host}/e2e/app:dry-gone`;
    await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: podYaml(WARN, 'dry-broken', missing) });
    // The same failure for real, afterwards: once its Event is there, the dry run's would have come first.
    const later = `${plain.host}/e2e/app:after-dry-run`;
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: podYaml(WARN, 'after-dry-run', later) });
    const notes = async () => (await getJson<{ items: { note?: string }[] }>(['get', 'events.events.k8s.io', '-n', WARN])).items.map((e) => e.note ?? '');
    await eventually('the Event of the real admission', async () => ((await notes()).some((note) => note.includes(later)) ? true : undefined));
    expect((await notes()).filter((note) => note.includes(missing))).toEqual([]);
  });
});

describe('the validating policy in strict namespaces', () => {
  it('denies a pod whose final object still has an unpinned image, naming it', async () => {
    // The webhook skips this image (as for an injected sidecar) but the policy's skip list
    // does not: the policy sees the final object and denies it.
    await stopWebhook();
    webhookArgs.push('--skip', `${plain.host}/e2e/*`);
    await startWebhook();
    try {
      const result = await cluster.kubectl(['apply', '-f', '-'], { stdin: podYaml(STRICT, 'unpinned', appRef()) });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('images not pinned to a digest');
      expect(result.stderr).toContain(appRef());
    } finally {
      await stopWebhook();
      webhookArgs = webhookArgs.slice(0, -2);
      await startWebhook();
    }
  });
});
