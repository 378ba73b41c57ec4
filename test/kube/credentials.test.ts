import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { KubeletCredentialProviders, OwnCredentials, parseCredentialProviderConfig, parseDockerConfig } from '../../src/credentials/index.js';
import type { Credential, CredentialLookup } from '../../src/credentials/types.js';
import { PullSecretCache } from '../../src/kube/cache.js';
import { clusterCredentialLookup, lookupCredentials, serviceAccountOf, type CredentialLookupReport } from '../../src/kube/credentials.js';
import { parseImage } from '../../src/reference/index.js';
import { auth, FIXTURE_DIR, makeExecutable, runs } from '../credentials/fixtures.js';
import { dockerConfigJsonSecret, dockercfgSecret, otherSecret, serviceAccount } from './fixtures.js';

const NS = 'team-a';
const OWN_CONFIG = '/etc/dp/config.json';

/** The webhook's own docker config: credentials for `registry.webhook.example` and `quay.io` only. */
const ownCredentials = new OwnCredentials({
  dockerConfig: parseDockerConfig(JSON.stringify({ auths: { 'registry.webhook.example': auth('webhook'), 'quay.io': auth('webhook') } }), OWN_CONFIG),
});
/** How describeChain shows the webhook's own credential for `registry`. */
const ownEntry = (registry: string) => `docker config ${OWN_CONFIG} auths[${JSON.stringify(registry)}] webhook`;

/** Each credential as `source user`, anonymous as `anonymous`. */
const describeChain = (chain: readonly (Credential | undefined)[]) => chain.map((c) => (c === undefined ? 'anonymous' : `${c.source} ${c.username}`));

function populatedCache(): PullSecretCache {
  const cache = new PullSecretCache();
  cache.upsertSecret(dockerConfigJsonSecret(NS, 'regcred', { 'quay.io/team': auth('team'), 'ghcr.io': auth('ghcr') }));
  cache.upsertSecret(dockercfgSecret(NS, 'legacy', { 'https://quay.io': auth('legacy') }));
  cache.upsertSecret(dockerConfigJsonSecret(NS, 'hub', { 'https://index.docker.io/v1/': auth('hub') }));
  cache.upsertSecret(dockerConfigJsonSecret('team-b', 'regcred', { 'quay.io': auth('other-tenant') }));
  cache.upsertServiceAccount(serviceAccount(NS, 'default', ['hub']));
  cache.upsertServiceAccount(serviceAccount(NS, 'builder', ['legacy', 'regcred']));
  return cache;
}

const chainFor = (image: string, context: { namespace?: string; kind: string; podSpec: unknown }, cache = populatedCache()) =>
  lookupCredentials(parseImage(image), { namespace: context.namespace ?? NS, kind: context.kind, podSpec: context.podSpec }, { cache, ownCredentials });

describe('clusterCredentialLookup', () => {
  it('has exactly the admission stage CredentialLookup type', () => {
    const lookup = clusterCredentialLookup({ cache: new PullSecretCache(), ownCredentials });
    expectTypeOf(lookup).toEqualTypeOf<CredentialLookup>();
    const assignable: CredentialLookup = lookup;
    expect(assignable).toBe(lookup);
  });

  it('resolves the chain and reports each lookup, without secret values', async () => {
    const reports: CredentialLookupReport[] = [];
    const lookup = clusterCredentialLookup({ cache: populatedCache(), ownCredentials, onLookup: (r) => reports.push(r) });
    const chain = await lookup(parseImage('quay.io/team/app:1'), { namespace: NS, kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }, { name: 'gone' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred team`, 'anonymous']);
    expect(reports).toEqual([
      {
        image: 'quay.io/team/app',
        namespace: NS,
        kind: 'Pod',
        secrets: [`${NS}/regcred`, `${NS}/gone`],
        missingSecrets: [`${NS}/gone`],
        missingServiceAccount: undefined,
        sources: [`secret ${NS}/regcred`, 'anonymous'],
      },
    ]);
    expect(JSON.stringify(reports)).not.toContain('pw-');
  });
});

describe('lookupCredentials for a Pod', () => {
  it('uses the pod imagePullSecrets in the namespace, matched to the registry, then anonymous', async () => {
    const { chain } = await chainFor('quay.io/team/app:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'legacy' }, { name: 'regcred' }] } });
    // One keyring over all the pod's secrets, as kubelet builds it: the more specific key first.
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred team`, `secret ${NS}/legacy legacy`, 'anonymous']);
  });

  it('reads legacy dockercfg secrets too', async () => {
    const { chain } = await chainFor('quay.io/elsewhere/app:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'legacy' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/legacy legacy`, 'anonymous']);
  });

  it('does not add the ServiceAccount secrets (kube-apiserver already did when the pod had none)', async () => {
    const { chain } = await chainFor('nginx:1', { kind: 'Pod', podSpec: { serviceAccountName: 'default', imagePullSecrets: [{ name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual(['anonymous']);
  });

  it('finds Docker Hub credentials for a familiar name', async () => {
    const { chain } = await chainFor('nginx:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'hub' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/hub hub`, 'anonymous']);
  });

  it('skips a referenced secret that does not exist, and says so', async () => {
    const { chain, report } = await chainFor('ghcr.io/app:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'missing' }, { name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred ghcr`, 'anonymous']);
    expect(report.missingSecrets).toEqual([`${NS}/missing`]);
  });

  it('never uses another namespace secret of the same name', async () => {
    const { chain } = await chainFor('quay.io/other/app:1', { namespace: 'team-c', kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual([ownEntry('quay.io'), 'anonymous']);
  });

  it('ignores malformed imagePullSecrets entries', async () => {
    const podSpec = { imagePullSecrets: [null, 'regcred', { name: 7 }, { name: '' }, { name: 'regcred' }, { name: 'regcred' }] };
    const { chain, report } = await chainFor('ghcr.io/app:1', { kind: 'Pod', podSpec });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred ghcr`, 'anonymous']);
    expect(report.secrets).toEqual([`${NS}/regcred`]);
  });

  it.each([undefined, null, 'spec', [], { imagePullSecrets: 'regcred' }])('copes with a pod spec of %j', async (podSpec) => {
    expect(describeChain((await chainFor('ghcr.io/app:1', { kind: 'Pod', podSpec })).chain)).toEqual(['anonymous']);
  });
});

describe('lookupCredentials for a workload template', () => {
  it.each(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ReplicationController', 'PodTemplate'])(
    '%s: the template secrets, then its ServiceAccount secrets',
    async (kind) => {
      const podSpec = { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'regcred' }] };
      const { chain, report } = await chainFor('quay.io/team/app:1', { kind, podSpec });
      expect(report.secrets).toEqual([`${NS}/regcred`, `${NS}/legacy`]);
      expect(describeChain(chain)).toEqual([`secret ${NS}/regcred team`, `secret ${NS}/legacy legacy`, 'anonymous']);
    },
  );

  it('uses the default ServiceAccount when none is named', async () => {
    const { chain, report } = await chainFor('nginx:1', { kind: 'Deployment', podSpec: { containers: [] } });
    expect(report.secrets).toEqual([`${NS}/hub`]);
    expect(describeChain(chain)).toEqual([`secret ${NS}/hub hub`, 'anonymous']);
  });

  it('honours the deprecated serviceAccount field', async () => {
    const { report } = await chainFor('nginx:1', { kind: 'Deployment', podSpec: { serviceAccount: 'builder' } });
    expect(report.secrets).toEqual([`${NS}/legacy`, `${NS}/regcred`]);
  });

  it('de-duplicates secrets named by both the template and the ServiceAccount', async () => {
    const { report } = await chainFor('nginx:1', { kind: 'Deployment', podSpec: { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'regcred' }] } });
    expect(report.secrets).toEqual([`${NS}/regcred`, `${NS}/legacy`]);
  });

  it('reports a ServiceAccount that does not exist and goes on with the template secrets', async () => {
    const { chain, report } = await chainFor('ghcr.io/app:1', { kind: 'Deployment', podSpec: { serviceAccountName: 'ghost', imagePullSecrets: [{ name: 'regcred' }] } });
    expect(report.missingServiceAccount).toBe(`${NS}/ghost`);
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred ghcr`, 'anonymous']);
  });
});

describe('lookupCredentials: the webhook own credentials', () => {
  it('are used for a registry configured for the webhook when the tenant has no matching secret', async () => {
    const { chain } = await chainFor('registry.webhook.example/base/app:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual([ownEntry('registry.webhook.example'), 'anonymous']);
  });

  it('never stand in for a tenant secret that matches the registry', async () => {
    const { chain } = await chainFor('quay.io/team/private:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred team`, 'anonymous']);
  });

  it('are never offered for a registry the webhook is not configured for', async () => {
    const { chain } = await chainFor('private.example.com/app:1', { kind: 'Pod', podSpec: {} });
    expect(describeChain(chain)).toEqual(['anonymous']);
  });

  it('are used without a namespace (nothing to read tenant secrets from)', async () => {
    const cache = populatedCache();
    const result = await lookupCredentials(parseImage('quay.io/team/app:1'), { namespace: undefined, kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } }, { cache, ownCredentials });
    expect(describeChain(result.chain)).toEqual([ownEntry('quay.io'), 'anonymous']);
  });
});

describe('PullSecretCache fed by informer events', () => {
  it('reflects an update of a secret', async () => {
    const cache = populatedCache();
    const podSpec = { imagePullSecrets: [{ name: 'regcred' }] };
    const before = cache.secret(NS, 'regcred');
    cache.upsertSecret(dockerConfigJsonSecret(NS, 'regcred', { 'ghcr.io': auth('rotated') }, { uid: before?.uid, resourceVersion: '200' }));
    expect(describeChain((await chainFor('ghcr.io/app:1', { kind: 'Pod', podSpec }, cache)).chain)).toEqual([`secret ${NS}/regcred rotated`, 'anonymous']);
  });

  it('forgets a deleted secret and ServiceAccount', async () => {
    const cache = populatedCache();
    const secret = cache.secret(NS, 'hub');
    cache.deleteSecret({ metadata: { namespace: NS, name: 'hub', uid: secret?.uid } });
    expect(cache.secret(NS, 'hub')).toBeUndefined();
    const { report } = await chainFor('nginx:1', { kind: 'Deployment', podSpec: {} }, cache);
    expect(report.missingSecrets).toEqual([`${NS}/hub`]);

    cache.deleteServiceAccount(serviceAccount(NS, 'default', [], { uid: undefined }));
    expect(cache.serviceAccountPullSecrets(NS, 'default')).toEqual(['hub']);
    cache.deleteServiceAccount({ metadata: { namespace: NS, name: 'default', uid: '' } });
    expect(cache.serviceAccountPullSecrets(NS, 'default')).toBeUndefined();
  });

  it('marks a secret\'s credentials with its namespace (the tag ledger\'s tenant), both secret types', () => {
    const cache = new PullSecretCache();
    cache.upsertSecret(dockerConfigJsonSecret(NS, 'regcred', { 'quay.io': auth('json') }));
    cache.upsertSecret(dockercfgSecret('team-b', 'legacy', { 'quay.io': auth('cfg') }));
    expect(cache.keyring(NS, 'regcred')?.credentialsFor('quay.io/app').map((c) => c.tenant)).toEqual([NS]);
    expect(cache.keyring('team-b', 'legacy')?.credentialsFor('quay.io/app').map((c) => c.tenant)).toEqual(['team-b']);
  });

  it('keeps a re-created secret when the old one deletion arrives late (other uid)', () => {
    const cache = new PullSecretCache();
    const old = dockerConfigJsonSecret(NS, 'regcred', { 'quay.io': auth('old') }, { uid: 'uid-old' });
    const recreated = dockercfgSecret(NS, 'regcred', { 'quay.io': auth('new') }, { uid: 'uid-new' });
    cache.upsertSecret(old);
    cache.upsertSecret(recreated);
    cache.deleteSecret(old);
    expect(cache.keyring(NS, 'regcred')?.credentialsFor('quay.io/app').map((c) => c.username)).toEqual(['new']);
  });

  it('ignores Secrets that are not pull secrets, and drops one whose type changed', () => {
    const cache = new PullSecretCache();
    expect(cache.upsertSecret(otherSecret(NS, 'tls', 'kubernetes.io/tls')).problems).toEqual([`secret ${NS}/tls: type "kubernetes.io/tls" is not a pull-secret type, ignored`]);
    expect(cache.upsertSecret(otherSecret(NS, 'opaque', 'Opaque')).problems).toHaveLength(1);
    expect(cache.secretCount).toBe(0);
    cache.upsertSecret(dockerConfigJsonSecret(NS, 'x', { 'quay.io': auth('u') }));
    cache.upsertSecret(otherSecret(NS, 'x', 'Opaque'));
    expect(cache.secret(NS, 'x')).toBeUndefined();
  });

  it('reports malformed entries with the secret name and no values', () => {
    const cache = new PullSecretCache();
    const change = cache.upsertSecret(dockerConfigJsonSecret(NS, 'bad', { 'quay.io': { auth: 'bm90LWEtcGFpcg==' }, 'ghcr.io': auth('ok') }));
    expect(change).toEqual({ object: `${NS}/bad`, problems: [`secret ${NS}/bad: auths["quay.io"] skipped: "auth" does not decode to "username:password"`] });
    expect(cache.keyring(NS, 'bad')?.credentialsFor('ghcr.io/app')).toHaveLength(1);
  });

  it.each([undefined, null, {}, { metadata: {} }, { metadata: { name: 'x' } }, { metadata: { namespace: NS } }])('ignores an object without identity: %j', (object) => {
    const cache = new PullSecretCache();
    expect(cache.upsertSecret(object).object).toBeUndefined();
    expect(cache.upsertServiceAccount(object).object).toBeUndefined();
    cache.deleteSecret(object);
    cache.deleteServiceAccount(object);
    expect(cache.secretCount + cache.serviceAccountCount).toBe(0);
  });

  it('keeps only parsed credentials, not the secret data', () => {
    const cache = new PullSecretCache();
    cache.upsertSecret(dockerConfigJsonSecret(NS, 'regcred', { 'quay.io': auth('u') }));
    const held = cache.secret(NS, 'regcred');
    expect(Object.keys(held ?? {}).sort()).toEqual(['keyring', 'name', 'namespace', 'problems', 'type', 'uid']);
  });
});

describe('serviceAccountOf', () => {
  it.each([
    [{ serviceAccountName: 'a', serviceAccount: 'b' }, 'a'],
    [{ serviceAccount: 'b' }, 'b'],
    [{ serviceAccountName: '', serviceAccount: '' }, 'default'],
    [{ serviceAccountName: 3 }, 'default'],
    [undefined, 'default'],
  ])('%j → %s', (podSpec, name) => {
    expect(serviceAccountOf(podSpec)).toBe(name);
  });
});

describe('lookupCredentials: own credentials that run a kubelet credential provider', () => {
  const ECR = '123.dkr.ecr.eu-west-1.amazonaws.com';
  let dir: string;
  let countFile: string;
  let withProvider: OwnCredentials;

  beforeAll(async () => {
    await makeExecutable();
    dir = await mkdtemp(join(tmpdir(), 'dp-kube-credentials-'));
    countFile = join(dir, 'count');
    const [spec] = parseCredentialProviderConfig(
      JSON.stringify({
        apiVersion: 'kubelet.config.k8s.io/v1',
        kind: 'CredentialProviderConfig',
        providers: [{ name: 'test-provider', matchImages: ['*.dkr.ecr.*.amazonaws.com'], defaultCacheDuration: '0s', apiVersion: 'credentialprovider.kubelet.k8s.io/v1' }],
      }),
      '/etc/kubernetes/credential-providers.yaml',
    );
    const env = { PATH: process.env['PATH'], DP_TEST_REGISTRY: ECR, DP_TEST_USERNAME: 'AWS', DP_TEST_PASSWORD: 'pw-ecr', DP_TEST_COUNT_FILE: countFile };
    withProvider = new OwnCredentials({
      dockerConfig: parseDockerConfig('', OWN_CONFIG),
      providers: new KubeletCredentialProviders(spec === undefined ? [] : [spec], { binDir: FIXTURE_DIR, env, timeoutMs: 10_000 }),
    });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the provider when no tenant secret matched the registry', async () => {
    const { chain, report } = await lookupCredentials(parseImage(`${ECR}/team/app:1`), { namespace: NS, kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } }, { cache: populatedCache(), ownCredentials: withProvider });
    expect(describeChain(chain)).toEqual([`kubelet credential provider test-provider (${ECR}) AWS`, 'anonymous']);
    expect(report.sources).toEqual([`kubelet credential provider test-provider (${ECR})`, 'anonymous']);
  });

  it('never runs it when a tenant secret matched', async () => {
    const before = await runs(countFile);
    const { chain } = await lookupCredentials(parseImage('ghcr.io/app:1'), { namespace: NS, kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } }, { cache: populatedCache(), ownCredentials: withProvider });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred ghcr`, 'anonymous']);
    expect(await runs(countFile)).toBe(before);
  });

  it('is what clusterCredentialLookup uses', async () => {
    const lookup = clusterCredentialLookup({ cache: populatedCache(), ownCredentials: withProvider });
    const chain = await lookup(parseImage(`${ECR}/x:1`), { namespace: NS, kind: 'Pod', podSpec: {} });
    expect(describeChain(chain)).toEqual([`kubelet credential provider test-provider (${ECR}) AWS`, 'anonymous']);
  });
});
