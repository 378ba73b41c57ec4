import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CredentialLookup } from '../../src/admission/admit.js';
import { PullSecretCache } from '../../src/kube/cache.js';
import { clusterCredentialLookup, lookupCredentials, lookupCredentialsAsync, serviceAccountOf, type CredentialLookupReport } from '../../src/kube/credentials.js';
import { parseImage } from '../../src/reference/index.js';
import type { Credential } from '../../src/registry/types.js';
import { auth, dockerConfigJsonSecret, dockercfgSecret, otherSecret, serviceAccount } from './fixtures.js';

const NS = 'team-a';

/** The webhook's own docker config: credentials for `registry.webhook.example` only. */
const own = {
  lookup: (domain: string): Credential[] =>
    domain === 'registry.webhook.example' || domain === 'quay.io' ? [{ username: 'webhook', password: 'pw-webhook', source: 'docker config /etc/dp/config.json' }] : [],
};

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
  lookupCredentials(parseImage(image), { namespace: context.namespace ?? NS, kind: context.kind, podSpec: context.podSpec }, { cache, own });

describe('clusterCredentialLookup', () => {
  it('has exactly the admission stage CredentialLookup type', () => {
    const lookup = clusterCredentialLookup({ cache: new PullSecretCache(), own });
    expectTypeOf(lookup).toEqualTypeOf<CredentialLookup>();
    const assignable: CredentialLookup = lookup;
    expect(assignable).toBe(lookup);
  });

  it('resolves the chain and reports each lookup, without secret values', async () => {
    const reports: CredentialLookupReport[] = [];
    const lookup = clusterCredentialLookup({ cache: populatedCache(), own, onLookup: (r) => reports.push(r) });
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
  it('uses the pod imagePullSecrets in the namespace, matched to the registry, then anonymous', () => {
    const { chain } = chainFor('quay.io/team/app:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'legacy' }, { name: 'regcred' }] } });
    // One keyring over all the pod's secrets, as kubelet builds it: the more specific key first.
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred team`, `secret ${NS}/legacy legacy`, 'anonymous']);
  });

  it('reads legacy dockercfg secrets too', () => {
    const { chain } = chainFor('quay.io/elsewhere/app:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'legacy' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/legacy legacy`, 'anonymous']);
  });

  it('does not add the ServiceAccount secrets (kube-apiserver already did when the pod had none)', () => {
    const { chain } = chainFor('nginx:1', { kind: 'Pod', podSpec: { serviceAccountName: 'default', imagePullSecrets: [{ name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual(['anonymous']);
  });

  it('finds Docker Hub credentials for a familiar name', () => {
    const { chain } = chainFor('nginx:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'hub' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/hub hub`, 'anonymous']);
  });

  it('skips a referenced secret that does not exist, and says so', () => {
    const { chain, report } = chainFor('ghcr.io/app:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'missing' }, { name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred ghcr`, 'anonymous']);
    expect(report.missingSecrets).toEqual([`${NS}/missing`]);
  });

  it('never uses another namespace secret of the same name', () => {
    const { chain } = chainFor('quay.io/other/app:1', { namespace: 'team-c', kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual(['docker config /etc/dp/config.json webhook', 'anonymous']);
  });

  it('ignores malformed imagePullSecrets entries', () => {
    const podSpec = { imagePullSecrets: [null, 'regcred', { name: 7 }, { name: '' }, { name: 'regcred' }, { name: 'regcred' }] };
    const { chain, report } = chainFor('ghcr.io/app:1', { kind: 'Pod', podSpec });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred ghcr`, 'anonymous']);
    expect(report.secrets).toEqual([`${NS}/regcred`]);
  });

  it.each([undefined, null, 'spec', [], { imagePullSecrets: 'regcred' }])('copes with a pod spec of %j', (podSpec) => {
    expect(describeChain(chainFor('ghcr.io/app:1', { kind: 'Pod', podSpec }).chain)).toEqual(['anonymous']);
  });
});

describe('lookupCredentials for a workload template', () => {
  it.each(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ReplicationController', 'PodTemplate'])(
    '%s: the template secrets, then its ServiceAccount secrets',
    (kind) => {
      const podSpec = { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'regcred' }] };
      const { chain, report } = chainFor('quay.io/team/app:1', { kind, podSpec });
      expect(report.secrets).toEqual([`${NS}/regcred`, `${NS}/legacy`]);
      expect(describeChain(chain)).toEqual([`secret ${NS}/regcred team`, `secret ${NS}/legacy legacy`, 'anonymous']);
    },
  );

  it('uses the default ServiceAccount when none is named', () => {
    const { chain, report } = chainFor('nginx:1', { kind: 'Deployment', podSpec: { containers: [] } });
    expect(report.secrets).toEqual([`${NS}/hub`]);
    expect(describeChain(chain)).toEqual([`secret ${NS}/hub hub`, 'anonymous']);
  });

  it('honours the deprecated serviceAccount field', () => {
    const { report } = chainFor('nginx:1', { kind: 'Deployment', podSpec: { serviceAccount: 'builder' } });
    expect(report.secrets).toEqual([`${NS}/legacy`, `${NS}/regcred`]);
  });

  it('de-duplicates secrets named by both the template and the ServiceAccount', () => {
    const { report } = chainFor('nginx:1', { kind: 'Deployment', podSpec: { serviceAccountName: 'builder', imagePullSecrets: [{ name: 'regcred' }] } });
    expect(report.secrets).toEqual([`${NS}/regcred`, `${NS}/legacy`]);
  });

  it('reports a ServiceAccount that does not exist and goes on with the template secrets', () => {
    const { chain, report } = chainFor('ghcr.io/app:1', { kind: 'Deployment', podSpec: { serviceAccountName: 'ghost', imagePullSecrets: [{ name: 'regcred' }] } });
    expect(report.missingServiceAccount).toBe(`${NS}/ghost`);
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred ghcr`, 'anonymous']);
  });
});

describe('lookupCredentials: the webhook own credentials', () => {
  it('are used for a registry configured for the webhook when the tenant has no matching secret', () => {
    const { chain } = chainFor('registry.webhook.example/base/app:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual(['docker config /etc/dp/config.json webhook', 'anonymous']);
  });

  it('never stand in for a tenant secret that matches the registry', () => {
    const { chain } = chainFor('quay.io/team/private:1', { kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred team`, 'anonymous']);
  });

  it('are never offered for a registry the webhook is not configured for', () => {
    const { chain } = chainFor('private.example.com/app:1', { kind: 'Pod', podSpec: {} });
    expect(describeChain(chain)).toEqual(['anonymous']);
  });

  it('are used without a namespace (nothing to read tenant secrets from)', () => {
    const cache = populatedCache();
    const result = lookupCredentials(parseImage('quay.io/team/app:1'), { namespace: undefined, kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } }, { cache, own });
    expect(describeChain(result.chain)).toEqual(['docker config /etc/dp/config.json webhook', 'anonymous']);
  });
});

describe('PullSecretCache fed by informer events', () => {
  it('reflects an update of a secret', () => {
    const cache = populatedCache();
    const podSpec = { imagePullSecrets: [{ name: 'regcred' }] };
    const before = cache.secret(NS, 'regcred');
    cache.upsertSecret(dockerConfigJsonSecret(NS, 'regcred', { 'ghcr.io': auth('rotated') }, { uid: before?.uid, resourceVersion: '200' }));
    expect(describeChain(chainFor('ghcr.io/app:1', { kind: 'Pod', podSpec }, cache).chain)).toEqual([`secret ${NS}/regcred rotated`, 'anonymous']);
  });

  it('forgets a deleted secret and ServiceAccount', () => {
    const cache = populatedCache();
    const secret = cache.secret(NS, 'hub');
    cache.deleteSecret({ metadata: { namespace: NS, name: 'hub', uid: secret?.uid } });
    expect(cache.secret(NS, 'hub')).toBeUndefined();
    const { report } = chainFor('nginx:1', { kind: 'Deployment', podSpec: {} }, cache);
    expect(report.missingSecrets).toEqual([`${NS}/hub`]);

    cache.deleteServiceAccount(serviceAccount(NS, 'default', [], { uid: undefined }));
    expect(cache.serviceAccountPullSecrets(NS, 'default')).toEqual(['hub']);
    cache.deleteServiceAccount({ metadata: { namespace: NS, name: 'default', uid: '' } });
    expect(cache.serviceAccountPullSecrets(NS, 'default')).toBeUndefined();
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

describe('lookupCredentialsAsync (own credentials that run helpers or providers)', () => {
  const ECR = '123.dkr.ecr.eu-west-1.amazonaws.com';
  const asked: string[] = [];
  const ownAsync = {
    lookup: (): Credential[] => [],
    forImage: (ref: { name: string }): Promise<Credential[]> => {
      asked.push(ref.name);
      return Promise.resolve(ref.name.startsWith(`${ECR}/`) ? [{ username: 'AWS', password: 'pw-ecr', source: 'kubelet credential provider ecr' }] : []);
    },
  };

  it('asks forImage when no tenant secret matched the registry', async () => {
    const { chain, report } = await lookupCredentialsAsync(parseImage(`${ECR}/team/app:1`), { namespace: NS, kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } }, { cache: populatedCache(), own: ownAsync });
    expect(describeChain(chain)).toEqual(['kubelet credential provider ecr AWS', 'anonymous']);
    expect(report.sources).toEqual(['kubelet credential provider ecr', 'anonymous']);
  });

  it('never asks it when a tenant secret matched', async () => {
    asked.length = 0;
    const { chain } = await lookupCredentialsAsync(parseImage('ghcr.io/app:1'), { namespace: NS, kind: 'Pod', podSpec: { imagePullSecrets: [{ name: 'regcred' }] } }, { cache: populatedCache(), own: ownAsync });
    expect(describeChain(chain)).toEqual([`secret ${NS}/regcred ghcr`, 'anonymous']);
    expect(asked).toEqual([]);
  });

  it('is what clusterCredentialLookup uses', async () => {
    const lookup = clusterCredentialLookup({ cache: populatedCache(), own: ownAsync });
    const chain = await lookup(parseImage(`${ECR}/x:1`), { namespace: NS, kind: 'Pod', podSpec: {} });
    expect(describeChain(chain)).toEqual(['kubelet credential provider ecr AWS', 'anonymous']);
  });
});
