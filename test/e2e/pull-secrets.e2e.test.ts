/**
 * The pull-secret informers against a real kube-apiserver (RBAC on), running as a
 * ServiceAccount with only the rules the webhook's ClusterRole grants: the cache syncs,
 * only pull-secret types ever reach the process, updates and deletes are reflected, and
 * the credential lookup gives the chain kubelet would use for a Pod and for a Deployment
 * template (through its ServiceAccount). A ServiceAccount without those rules never
 * syncs, and syncs once they are granted (the informers restart after failures).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { clusterCredentialLookup, loadKubeConfig, PullSecretCache, PullSecretInformers, type KubeLogger } from '../../src/kube/index.js';
import { parseImage } from '../../src/reference/index.js';
import { OwnCredentials, parseDockerConfig, type Credential } from '../../src/credentials/index.js';

const WEBHOOK_NS = 'digest-pinner';
const TEAM_A = 'team-a';
const TEAM_B = 'team-b';
const SECRET_MARKER = 'never-in-webhook-memory';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const auth = (user: string) => ({ auth: b64(`${user}:pw-${user}`) });

/** The ClusterRole the webhook needs for pull secrets (the rules this test proves sufficient). */
const PULL_SECRET_RULES = [
  { apiGroups: [''], resources: ['secrets', 'serviceaccounts'], verbs: ['get', 'list', 'watch'] },
];

const dockerConfigJson = (namespace: string, name: string, auths: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace },
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
});

const dockercfg = (namespace: string, name: string, config: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace },
  type: 'kubernetes.io/dockercfg',
  data: { '.dockercfg': b64(JSON.stringify(config)) },
});

let cluster: Cluster;

async function apply(...objects: readonly object[]): Promise<void> {
  await cluster.kubectlOk(['apply', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A kubeconfig for ServiceAccount `name` in the webhook namespace. */
async function serviceAccountKubeconfig(name: string): Promise<string> {
  await cluster.kubectlOk(['create', 'serviceaccount', name, '-n', WEBHOOK_NS]);
  return cluster.writeTokenKubeconfig(name, await cluster.createServiceAccountToken(WEBHOOK_NS, name, { durationSeconds: 3600 }));
}

async function grantPullSecretRules(serviceAccount: string): Promise<void> {
  await apply(
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `dp-${serviceAccount}` }, rules: PULL_SECRET_RULES },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `dp-${serviceAccount}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `dp-${serviceAccount}` },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: WEBHOOK_NS }],
    },
  );
}

interface LogLine {
  readonly level: string;
  readonly object: object;
  readonly message: string;
}

function collectingLogger(): KubeLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const push = (level: string) => (object: object, message: string) => { lines.push({ level, object, message }); };
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

function informersFor(kubeconfigPath: string, log: KubeLogger): { cache: PullSecretCache; informers: PullSecretInformers } {
  const loaded = loadKubeConfig({ kubeconfig: kubeconfigPath, env: {} });
  if (loaded === undefined) throw new Error('no kubeconfig');
  const cache = new PullSecretCache();
  const informers = new PullSecretInformers({ kubeConfig: loaded.kubeConfig, cache, log, restartDelayMs: { initial: 200, max: 1_000 }, pageSize: 2 });
  return { cache, informers };
}

const describeChain = (chain: readonly (Credential | undefined)[]) => chain.map((c) => (c === undefined ? 'anonymous' : `${c.source} ${c.username}`));
/** The webhook's own credentials: an empty docker config, so only the tenants' secrets count. */
const noOwnCredentials = new OwnCredentials({ dockerConfig: parseDockerConfig('', '/dev/null/config.json') });

beforeAll(async () => {
  cluster = await startCluster();
  for (const ns of [WEBHOOK_NS, TEAM_A, TEAM_B]) await cluster.kubectlOk(['create', 'namespace', ns]);
  await apply(
    dockerConfigJson(TEAM_A, 'regcred', { 'quay.io/team': auth('team'), 'ghcr.io': auth('ghcr') }),
    dockercfg(TEAM_A, 'legacy', { 'https://quay.io': auth('legacy') }),
    dockerConfigJson(TEAM_A, 'hub', { 'https://index.docker.io/v1/': auth('hub') }),
    dockerConfigJson(TEAM_B, 'regcred', { 'quay.io': auth('team-b') }),
    // Not pull secrets: must never reach the webhook.
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'opaque', namespace: TEAM_A }, type: 'Opaque', stringData: { password: SECRET_MARKER } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'tls', namespace: TEAM_A },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': SECRET_MARKER, 'tls.key': SECRET_MARKER },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: TEAM_A }, imagePullSecrets: [{ name: 'legacy' }, { name: 'regcred' }] },
  );
});

afterAll(async () => {
  await cluster.stop();
});

describe('PullSecretInformers against kube-apiserver', () => {
  let cache: PullSecretCache;
  let informers: PullSecretInformers;
  let kubeconfig: string;
  const log = collectingLogger();

  beforeAll(async () => {
    kubeconfig = await serviceAccountKubeconfig('webhook');
    await grantPullSecretRules('webhook');
    ({ cache, informers } = informersFor(kubeconfig, log));
  });

  afterAll(async () => {
    await informers.stop();
  });

  it('syncs all three informers with the ClusterRole rules alone', async () => {
    expect(informers.synced()).toBe(false);
    await informers.start();
    await informers.waitForSync(AbortSignal.timeout(30_000));
    expect(informers.synced()).toBe(true);
    expect(log.lines.filter((l) => l.message === 'informer synced')).toHaveLength(3);
    expect(log.lines.filter((l) => l.level !== 'info')).toEqual([]);
  });

  it('holds the dockerconfigjson and dockercfg secrets of every namespace, parsed', () => {
    expect(cache.secrets().map((s) => `${s.namespace}/${s.name} ${s.type}`).sort()).toEqual([
      `${TEAM_A}/hub kubernetes.io/dockerconfigjson`,
      `${TEAM_A}/legacy kubernetes.io/dockercfg`,
      `${TEAM_A}/regcred kubernetes.io/dockerconfigjson`,
      `${TEAM_B}/regcred kubernetes.io/dockerconfigjson`,
    ]);
    expect(cache.keyring(TEAM_A, 'legacy')?.credentialsFor('quay.io/x/y')).toEqual([{ username: 'legacy', password: 'pw-legacy', source: `secret ${TEAM_A}/legacy`, tenant: TEAM_A }]);
    expect(cache.serviceAccountPullSecrets(TEAM_A, 'builder')).toEqual(['legacy', 'regcred']);
  });

  it('never receives an Opaque or TLS secret, and keeps no secret data in the informers stores', async () => {
    // Created after the initial list: a watch event for them would arrive before this marker's.
    await apply(
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'opaque-late', namespace: TEAM_B }, type: 'Opaque', stringData: { v: SECRET_MARKER } },
      dockerConfigJson(TEAM_B, 'marker', { 'marker.example': auth('marker') }),
    );
    await waitFor('the marker secret', () => cache.secret(TEAM_B, 'marker'));

    const held = informers.heldObjects();
    const secrets = held.filter((h) => h.kind === 'Secret');
    expect(new Set(secrets.map((s) => s.type))).toEqual(new Set(['kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg']));
    expect(secrets.map((s) => s.name)).not.toContain('opaque');
    expect(secrets.map((s) => s.name)).not.toContain('tls');
    expect(secrets.map((s) => s.name)).not.toContain('opaque-late');
    // Parsed into the cache, then dropped from the store: no data, no annotations.
    for (const secret of secrets) expect(secret.fields).toEqual([]);
    for (const account of held.filter((h) => h.kind === 'ServiceAccount')) expect(account.fields.filter((f) => f !== 'imagePullSecrets')).toEqual([]);
    // And the cache itself holds nothing of the other secrets.
    expect(JSON.stringify(cache.secrets())).not.toContain(SECRET_MARKER);
    expect(cache.secret(TEAM_A, 'opaque')).toBeUndefined();
    expect(cache.secret(TEAM_A, 'tls')).toBeUndefined();
  });

  it('reflects an update of a secret and of a ServiceAccount', async () => {
    await apply(dockerConfigJson(TEAM_A, 'regcred', { 'quay.io/team': auth('rotated'), 'ghcr.io': auth('ghcr') }));
    await waitFor('the rotated credential', () => {
      const [first] = cache.keyring(TEAM_A, 'regcred')?.credentialsFor('quay.io/team/app') ?? [];
      return first?.username === 'rotated' ? first : undefined;
    });
    await apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: TEAM_A }, imagePullSecrets: [{ name: 'regcred' }] });
    await waitFor('the ServiceAccount update', () => (cache.serviceAccountPullSecrets(TEAM_A, 'builder')?.length === 1 ? true : undefined));
    expect(cache.serviceAccountPullSecrets(TEAM_A, 'builder')).toEqual(['regcred']);
  });

  it('forgets a deleted secret and ServiceAccount', async () => {
    await cluster.kubectlOk(['delete', 'secret', 'marker', '-n', TEAM_B]);
    await cluster.kubectlOk(['create', 'serviceaccount', 'short-lived', '-n', TEAM_B]);
    await waitFor('the new ServiceAccount', () => cache.serviceAccountPullSecrets(TEAM_B, 'short-lived'));
    await cluster.kubectlOk(['delete', 'serviceaccount', 'short-lived', '-n', TEAM_B]);
    await waitFor('the deletions', () => (cache.secret(TEAM_B, 'marker') === undefined && cache.serviceAccountPullSecrets(TEAM_B, 'short-lived') === undefined ? true : undefined));
    expect(informers.heldObjects().map((h) => `${h.namespace}/${h.name}`)).not.toContain(`${TEAM_B}/marker`);
  });

  it('gives a Pod its own imagePullSecrets, matched to the registry', async () => {
    const lookup = clusterCredentialLookup({ cache, ownCredentials: noOwnCredentials });
    const podSpec = { containers: [{ name: 'app', image: 'quay.io/team/app:1' }], imagePullSecrets: [{ name: 'legacy' }, { name: 'regcred' }, { name: 'absent' }] };
    const chain = await lookup(parseImage('quay.io/team/app:1'), { namespace: TEAM_A, kind: 'Pod', podSpec });
    expect(describeChain(chain)).toEqual([`secret ${TEAM_A}/regcred rotated`, `secret ${TEAM_A}/legacy legacy`, 'anonymous']);
    // The same names in another namespace are that namespace's secrets.
    const other = await lookup(parseImage('quay.io/team/app:1'), { namespace: TEAM_B, kind: 'Pod', podSpec });
    expect(describeChain(other)).toEqual([`secret ${TEAM_B}/regcred team-b`, 'anonymous']);
  });

  it('gives a Deployment template its secrets, then its ServiceAccount secrets (default when unnamed)', async () => {
    const lookup = clusterCredentialLookup({ cache, ownCredentials: noOwnCredentials });
    await apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'builder', namespace: TEAM_A }, imagePullSecrets: [{ name: 'legacy' }] });
    await waitFor('builder with legacy', () => (cache.serviceAccountPullSecrets(TEAM_A, 'builder')?.[0] === 'legacy' ? true : undefined));
    const viaBuilder = await lookup(parseImage('quay.io/elsewhere/app:1'), {
      namespace: TEAM_A,
      kind: 'Deployment',
      podSpec: { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'regcred' }], containers: [] },
    });
    expect(describeChain(viaBuilder)).toEqual([`secret ${TEAM_A}/legacy legacy`, 'anonymous']);

    // kube-controller-manager creates `default`; give it the Docker Hub secret.
    await waitFor('the default ServiceAccount', () => cache.serviceAccountPullSecrets(TEAM_A, 'default'));
    await cluster.kubectlOk(['patch', 'serviceaccount', 'default', '-n', TEAM_A, '--type=merge', '-p', JSON.stringify({ imagePullSecrets: [{ name: 'hub' }] })]);
    await waitFor('default with hub', () => (cache.serviceAccountPullSecrets(TEAM_A, 'default')?.[0] === 'hub' ? true : undefined));
    const viaDefault = await lookup(parseImage('nginx:1.27'), { namespace: TEAM_A, kind: 'Deployment', podSpec: { containers: [] } });
    expect(describeChain(viaDefault)).toEqual([`secret ${TEAM_A}/hub hub`, 'anonymous']);
  });

  it('stops cleanly', async () => {
    // A second set of informers keeps watching: once the Secret created after the stop reaches
    // it, it would have reached the stopped ones too.
    const witness = informersFor(kubeconfig, collectingLogger());
    await witness.informers.start();
    try {
      await witness.informers.waitForSync(AbortSignal.timeout(30_000));
      await informers.stop();
      const before = log.lines.length;
      await apply(dockerConfigJson(TEAM_B, 'after-stop', { 'quay.io': auth('late') }));
      await waitFor('the running informers to see the new Secret', () => witness.cache.secret(TEAM_B, 'after-stop'));
      expect(cache.secret(TEAM_B, 'after-stop')).toBeUndefined();
      expect(log.lines.slice(before).filter((l) => l.level !== 'info')).toEqual([]);
    } finally {
      await witness.informers.stop();
    }
  });
});

describe('PullSecretInformers without RBAC', () => {
  it('logs the refusal, keeps retrying, and syncs once the rules are granted', async () => {
    const log = collectingLogger();
    const kubeconfig = await serviceAccountKubeconfig('late-rbac');
    const { informers } = informersFor(kubeconfig, log);
    try {
      await informers.start();
      const refusals = () => log.lines.filter((l) => l.message === 'informer failed; restarting').map((l) => JSON.stringify(l.object));
      // Each informer refused, and at least one retried.
      await waitFor('refusals of all three informers, and a retry', () => (refusals().length >= 4 ? true : undefined));
      expect(informers.synced()).toBe(false);
      for (const [informer, resource] of [['secrets type=kubernetes.io/dockerconfigjson', 'secrets'], ['secrets type=kubernetes.io/dockercfg', 'secrets'], ['serviceaccounts', 'serviceaccounts']]) {
        expect(refusals().find((r) => r.includes(`"informer":"${informer}"`))).toContain(`HTTP 403: ${resource} is forbidden`);
      }

      await grantPullSecretRules('late-rbac');
      await informers.waitForSync(AbortSignal.timeout(30_000));
      expect(informers.synced()).toBe(true);
    } finally {
      await informers.stop();
    }
  });

  it('waitForSync gives up when its signal aborts', async () => {
    const kubeconfig = await serviceAccountKubeconfig('never');
    const { informers } = informersFor(kubeconfig, collectingLogger());
    try {
      await informers.start();
      await expect(informers.waitForSync(AbortSignal.timeout(300))).rejects.toThrow();
    } finally {
      await informers.stop();
    }
  });
});
