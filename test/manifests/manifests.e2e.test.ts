/**
 * manifests/ through the real tools: `kubectl kustomize` renders every
 * kustomization, and a real kube-apiserver (test/e2e/cluster.ts) validates the
 * objects and evaluates their CEL: the webhook's matchConditions and the strict
 * ValidatingAdmissionPolicy with its skip list. No webhook server runs: the
 * Service has no endpoints, so a call to the webhook fails; both entries let
 * the request through (failurePolicy Ignore) and kube-apiserver counts the call
 * in apiserver_admission_webhook_fail_open_count, which is how the tests see
 * whether it called the webhook.
 *
 * One control plane, about 25 s. Tests of a field the cluster's Kubernetes minor
 * lacks (image volumes before 1.35) are skipped there as not applicable.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from '../e2e/cluster.js';
import { needsFeature } from '../e2e/kube-features.js';
import { failOpenCount } from '../e2e/apiserver-metrics.js';
import { find, MANIFESTS_DIR, objectsOf, type KubeObject } from './load.js';
import { DIGEST_VECTORS } from '../reference/digest-vectors.js';

const KUBECTL = join(inject('kube').binDir, 'kubectl');

const PINNED = `registry.example.com/app@sha256:${'a'.repeat(64)}`;
const STRICT = 'strict-ns';
const WARN = 'warn-ns';
const OWNER = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'owner', uid: '6f1f0a3c-2b1e-4a52-9d0e-3f1a2b3c4d5e' };

/** `kubectl kustomize DIR`, parsed. */
function kustomize(dir: string): KubeObject[] {
  const result = spawnSync(KUBECTL, ['kustomize', join(MANIFESTS_DIR, dir)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${result.stderr}`);
  return Array.from(parseAllDocuments(result.stdout), (document) => document.toJS() as KubeObject);
}

const byKey = (objects: readonly KubeObject[]): Map<string, KubeObject> =>
  new Map(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));

describe('kubectl kustomize', () => {
  it.each(['', 'pods-only', 'cert-manager', 'self-managed'])('renders %j to exactly the objects its files hold', (dir) => {
    expect(byKey(kustomize(dir))).toEqual(byKey(objectsOf(dir)));
  });

  it('renders the cert-manager annotation onto the webhook configuration', () => {
    const rendered = find(kustomize('cert-manager'), 'MutatingWebhookConfiguration', 'digest-pinner');
    expect(rendered.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'digest-pinner/digest-pinner-tls' });
  });
});

interface PodImages {
  containers: string[];
  init?: string[];
  volume?: string;
}

function pod(namespace: string, images: PodImages, labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'p-', namespace, labels },
    spec: {
      containers: images.containers.map((image, i) => ({ name: `c${i}`, image })),
      ...(images.init ? { initContainers: images.init.map((image, i) => ({ name: `i${i}`, image })) } : {}),
      ...(images.volume ? { volumes: [{ name: 'v', image: { reference: images.volume } }] } : {}),
    },
  };
}

function replicaSet(namespace: string, owner?: object): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { generateName: 'rs-', namespace, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: {
      selector: { matchLabels: { app: 'x' } },
      template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } },
    },
  };
}

describe('kube-apiserver', () => {
  let cluster: Cluster;

  /** Creates `object` with a server-side dry run: admission runs in full, nothing is stored. */
  const dryRun = async (object: object): Promise<{ ok: boolean; stderr: string }> => {
    const result = await cluster.kubectl(['create', '--dry-run=server', '-o', 'name', '-f', '-'], { stdin: JSON.stringify(object) });
    return { ok: result.code === 0, stderr: result.stderr };
  };
  const admitted = async (object: object): Promise<boolean> => (await dryRun(object)).ok;
  /** Whether kube-apiserver called the strict entry for `object` (a dry run): the call fails, and is counted. */
  const callsStrict = async (object: object): Promise<boolean> => {
    const before = await failOpenCount(cluster, 'strict.digest-pinner.io');
    await dryRun(object);
    return (await failOpenCount(cluster, 'strict.digest-pinner.io')) > before;
  };
  const eventually = async (what: string, probe: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };

  beforeAll(async () => {
    // With kube-controller-manager: it writes the policy's type-checking status, and
    // creates the `default` ServiceAccount a Pod needs to be admitted.
    cluster = await startCluster();
    await cluster.kubectlOk(['apply', '-f', join(MANIFESTS_DIR, 'namespace.yaml')]);
    for (const [namespace, mode] of [[STRICT, 'strict'], [WARN, 'warn'], ['kube-system', 'strict']] as const) {
      if (namespace !== 'kube-system') await cluster.kubectlOk(['create', 'namespace', namespace]);
      await cluster.kubectlOk(['label', 'namespace', namespace, `digest-pinner.io/mode=${mode}`]);
      await eventually(`ServiceAccount ${namespace}/default`,
        async () => (await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', namespace])).code === 0);
    }
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('accepts every object of the default rendering, pods-only and self-managed in a server-side dry run, without warnings', async () => {
    for (const dir of ['', 'pods-only', 'self-managed']) {
      const result = await cluster.kubectl(['apply', '--dry-run=server', '-k', join(MANIFESTS_DIR, dir)]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
    }
  });

  it('applies the default rendering, and type-checks the policy without warnings', async () => {
    await cluster.kubectlOk(['apply', '-k', MANIFESTS_DIR]);
    let status: { typeChecking?: { expressionWarnings?: unknown[] } } | undefined;
    await eventually('the policy to be type-checked', async () => {
      const policy = JSON.parse(await cluster.kubectlOk(['get', 'validatingadmissionpolicy', 'digest-pinner-strict', '-o', 'json'])) as
        { status?: typeof status };
      status = policy.status;
      return status?.typeChecking !== undefined;
    });
    expect(status?.typeChecking?.expressionWarnings ?? []).toEqual([]);
  });

  it("creates the webhook's Pods under the namespace's restricted Pod Security Standard", async () => {
    await eventually('two digest-pinner Pods', async () => {
      const pods = JSON.parse(await cluster.kubectlOk(['get', 'pods', '-n', 'digest-pinner', '-l', 'app.kubernetes.io/name=digest-pinner',
        '-o', 'json'])) as { items: unknown[] };
      return pods.items.length === 2;
    });
    const { ok, stderr } = await dryRun(pod('digest-pinner', { containers: [PINNED] }));
    expect(ok).toBe(false);
    expect(stderr).toContain('violates PodSecurity "restricted:latest"');
  });

  it("keeps the preStop sleep on the webhook's Pods (kube-apiserver drops a field whose feature is off)", async () => {
    const pods = JSON.parse(await cluster.kubectlOk(['get', 'pods', '-n', 'digest-pinner', '-l', 'app.kubernetes.io/name=digest-pinner',
      '-o', 'json'])) as { items: { spec: { containers: { lifecycle?: { preStop?: unknown } }[] } }[] };
    expect(pods.items.map((p) => p.spec.containers.map((c) => c.lifecycle?.preStop))).toEqual([[{ sleep: { seconds: 10 } }], [{ sleep: { seconds: 10 } }]]);
  });

  describe('webhook matchConditions and selectors', () => {
    it('calls the strict webhook (and fails, as it is not running) for a Pod and for a template nobody controls', async () => {
      for (const object of [pod(STRICT, { containers: ['nginx:1.27'] }), replicaSet(STRICT), replicaSet(STRICT, { ...OWNER, controller: false })]) {
        expect(await callsStrict(object)).toBe(true);
      }
    });

    it('does not call it for a template a controller owns', async () => {
      expect(await callsStrict(replicaSet(STRICT, { ...OWNER, controller: true }))).toBe(false);
      expect(await admitted(replicaSet(STRICT, { ...OWNER, controller: true }))).toBe(true);
    });

    it('does not call it for an object labelled digest-pinner.io/skip: "true", nor in kube-system', async () => {
      const optedOut = pod(STRICT, { containers: ['nginx:1.27'] }, { 'digest-pinner.io/skip': 'true' });
      expect(await callsStrict(optedOut)).toBe(false);
      expect(await admitted(optedOut)).toBe(true);
      expect(await callsStrict(pod('kube-system', { containers: ['nginx:1.27'] }))).toBe(false);
      expect(await admitted(pod('kube-system', { containers: ['nginx:1.27'] }))).toBe(true);
    });

    it('admits in a warn namespace although the webhook cannot be reached (failurePolicy: Ignore)', async () => {
      expect(await admitted(pod(WARN, { containers: ['nginx:1.27'] }))).toBe(true);
    });

    it('admits a pinned Pod in a strict namespace although the webhook cannot be reached, and leaves unpinned ones to the policy', async () => {
      expect(await admitted(pod(STRICT, { containers: [PINNED] }))).toBe(true);
      const { ok, stderr } = await dryRun(pod(STRICT, { containers: ['nginx:1.27'] }));
      expect(ok).toBe(false);
      expect(stderr).toContain('digest-pinner: images not pinned to a digest (namespace mode strict): nginx:1.27');
    });
  });

  describe('strict ValidatingAdmissionPolicy (webhook configuration removed, so the policy answers alone)', () => {
    beforeAll(async () => {
      await cluster.kubectlOk(['delete', 'mutatingwebhookconfiguration', 'digest-pinner']);
      await eventually('the webhook configuration to go', () => admitted(pod(STRICT, { containers: [PINNED] })));
    });

    it('denies a Pod with unpinned images, naming each in order', async () => {
      const { ok, stderr } = await dryRun(pod(STRICT, { containers: ['nginx:1.27', PINNED], init: ['busybox'] }));
      expect(ok).toBe(false);
      expect(stderr).toContain('digest-pinner: images not pinned to a digest (namespace mode strict): nginx:1.27, busybox');
    });

    it('denies an unpinned image volume, naming it after the containers', async (context) => {
      needsFeature(context, 'ImageVolume');
      const { ok, stderr } = await dryRun(pod(STRICT, { containers: ['nginx:1.27', PINNED], init: ['busybox'], volume: 'quay.io/x/y:1' }));
      expect(ok).toBe(false);
      expect(stderr).toContain('digest-pinner: images not pinned to a digest (namespace mode strict): nginx:1.27, busybox, quay.io/x/y:1');
    });

    it('admits a Pod whose every image is pinned, with or without a tag', async () => {
      expect(await admitted(pod(STRICT, { containers: [PINNED, `nginx:1.27@sha256:${'b'.repeat(64)}`], init: [PINNED] }))).toBe(true);
    });

    it('admits a Pod whose image volume is pinned too', async (context) => {
      needsFeature(context, 'ImageVolume');
      expect(await admitted(pod(STRICT, { containers: [PINNED], init: [PINNED], volume: PINNED }))).toBe(true);
    });

    it('does not take a malformed digest for a pin', async () => {
      expect(await admitted(pod(STRICT, { containers: ['nginx@sha256:abc'] }))).toBe(false);
    });

    it('takes for a pin exactly the digests the one digest rule accepts', async () => {
      // Pod validation refuses whitespace in an image before the policy runs.
      const images = DIGEST_VECTORS.filter(([, digest]) => !/\s/.test(digest)).map(([, digest, valid]) => ({ image: `nginx:1.27@${digest}`, valid }));
      expect(await admitted(pod(STRICT, { containers: images.filter((i) => i.valid).map((i) => i.image) }))).toBe(true);
      const { ok, stderr } = await dryRun(pod(STRICT, { containers: images.map((i) => i.image) }));
      expect(ok).toBe(false);
      const offending = images.filter((i) => !i.valid).map((i) => i.image);
      expect(stderr).toContain(`digest-pinner: images not pinned to a digest (namespace mode strict): ${offending.join(', ')}`);
    });

    it('admits opted-out Pods and Pods outside strict namespaces', async () => {
      expect(await admitted(pod(STRICT, { containers: ['nginx:1.27'] }, { 'digest-pinner.io/skip': 'true' }))).toBe(true);
      expect(await admitted(pod(WARN, { containers: ['nginx:1.27'] }))).toBe(true);
      expect(await admitted(pod('kube-system', { containers: ['nginx:1.27'] }))).toBe(true);
    });

    it('admits what the skip list matches, with the glob semantics of --skip on normalised references', async () => {
      const patterns = ['# a comment', '', '  docker.io/library/nginx  ', 'docker.io/istio/*', 'registry.example.com/team/**',
        'localhost:5000/app', 'docker.io/library/busybox:1.36', 'ghcr.io/o?g/tool', 'not[a(regex', 'Upper.example.com/x'].join('\n');
      // The list as the chart renders it: a raw string literal in the policy's variable skipList.
      const policy = JSON.parse(await cluster.kubectlOk(['get', 'validatingadmissionpolicy', 'digest-pinner-strict', '-o', 'json'])) as
        { spec: { variables: { name: string; expression: string }[] } };
      const index = policy.spec.variables.findIndex((variable) => variable.name === 'skipList');
      await cluster.kubectlOk(['patch', 'validatingadmissionpolicy', 'digest-pinner-strict', '--type=json', '-p',
        JSON.stringify([{ op: 'replace', path: `/spec/variables/${index}/expression`, value: `r'''\n${patterns}\n'''` }])]);
      const skipped = (image: string): Promise<boolean> => admitted(pod(STRICT, { containers: [image] }));
      await eventually('kube-apiserver to see the new list', () => skipped('nginx:1.27'));
      const cases: Record<string, boolean> = {
        'nginx': true, 'docker.io/nginx:1': true, 'index.docker.io/library/nginx:1': true, 'docker.io/library/nginx:1': true,
        'nginx-other:1': false, 'library/nginxx:1': false,
        'istio/proxyv2:1.20': true, 'docker.io/istio/proxyv2:1.20': true, 'istio/a/b:1': false,
        'registry.example.com/team/a/b:1': true, 'registry.example.com/other/a:1': false,
        'localhost:5000/app:1': true, 'localhost:5000/app': true, 'localhost:5000/app/sub:1': false, 'localhost:5001/app:1': false,
        'busybox:1.36': true, 'busybox:1.37': false,
        'ghcr.io/org/tool:v1': true, 'ghcr.io/o/g/tool:v1': false,
        'Upper.example.com/x:1': true, 'quay.io/x/y:1': false,
      };
      const actual: Record<string, boolean> = {};
      for (const image of Object.keys(cases)) actual[image] = await skipped(image);
      expect(actual).toEqual(cases);
    });

    describe('on an UPDATE, images the Pod did not have', () => {
      /** Creates a Pod (stored: updates need one) and resolves to its name. */
      const stored = async (images: PodImages, labels: Record<string, string> = {}): Promise<string> =>
        (await cluster.kubectlOk(['create', '-o', 'jsonpath={.metadata.name}', '-f', '-'], { stdin: JSON.stringify(pod(STRICT, images, labels)) })).trim();
      /** A JSON patch of Pod `name` in a server-side dry run. */
      const patch = (name: string, operations: object[]): Promise<{ code: number; stderr: string }> =>
        cluster.kubectl(['patch', 'pod', name, '-n', STRICT, '--dry-run=server', '--type=json', '-p', JSON.stringify(operations)]);
      /** `kubectl debug` as the API sees it: an UPDATE of pods/ephemeralcontainers, in a server-side dry run. */
      const debug = async (name: string, image: string): Promise<{ code: number; stderr: string }> => {
        const current = JSON.parse(await cluster.kubectlOk(['get', 'pod', name, '-n', STRICT, '-o', 'json'])) as { spec: Record<string, unknown> };
        current.spec['ephemeralContainers'] = [{ name: 'debug', image }];
        return cluster.kubectl(['replace', '--raw', `/api/v1/namespaces/${STRICT}/pods/${name}/ephemeralcontainers?dryRun=All`, '-f', '-'],
          { stdin: JSON.stringify(current) });
      };

      it('denies a container image changed to one not pinned, and admits one changed to a pinned image', async () => {
        const name = await stored({ containers: [PINNED] });
        // Images off the skip list the test above left in place.
        const unpinned = await patch(name, [{ op: 'replace', path: '/spec/containers/0/image', value: 'quay.io/team/app:2' }]);
        expect(unpinned.code).not.toBe(0);
        expect(unpinned.stderr).toContain('digest-pinner: images not pinned to a digest (namespace mode strict): quay.io/team/app:2');
        const pinned = await patch(name, [{ op: 'replace', path: '/spec/containers/0/image', value: `quay.io/team/app:2@sha256:${'b'.repeat(64)}` }]);
        expect(pinned.code, pinned.stderr).toBe(0);
      });

      it('denies an ephemeral container (kubectl debug) not pinned, and admits a pinned one', async () => {
        const name = await stored({ containers: [PINNED] });
        const unpinned = await debug(name, 'quay.io/team/debug:1');
        expect(unpinned.code).not.toBe(0);
        expect(unpinned.stderr).toContain('digest-pinner: images not pinned to a digest (namespace mode strict): quay.io/team/debug:1');
        const pinned = await debug(name, PINNED);
        expect(pinned.code, pinned.stderr).toBe(0);
      });

      it('admits an edit that changes no image (a label, a finalizer), whatever the Pod runs', async () => {
        // Created opted out, so its image was never checked; the edit brings it under the policy.
        const name = await stored({ containers: ['quay.io/team/app:2'] }, { 'digest-pinner.io/skip': 'true' });
        const edited = await patch(name, [
          { op: 'remove', path: '/metadata/labels/digest-pinner.io~1skip' },
          { op: 'add', path: '/metadata/finalizers', value: ['example.com/hold'] },
        ]);
        expect(edited.code, edited.stderr).toBe(0);
      });
    });
  });

  it('a later apply keeps the caBundle that `digest-pinner certs` or the cainjector set', async () => {
    await cluster.kubectlOk(['apply', '-k', MANIFESTS_DIR]);
    const caBundle = readFileSync(cluster.caFile).toString('base64');
    const setCaBundle = [0, 1].map((index) => ({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle }));
    await cluster.kubectlOk(['patch', 'mutatingwebhookconfiguration', 'digest-pinner', '--type=json', '-p', JSON.stringify(setCaBundle)]);
    await cluster.kubectlOk(['apply', '-k', MANIFESTS_DIR]);
    const applied = JSON.parse(await cluster.kubectlOk(['get', 'mutatingwebhookconfiguration', 'digest-pinner', '-o', 'json'])) as
      { webhooks: { clientConfig: { caBundle?: string } }[] };
    expect(applied.webhooks.map((entry) => entry.clientConfig.caBundle)).toEqual([caBundle, caBundle]);
  });

  it('pods-only, applied over the default rendering, stops sending templates nobody controls', async () => {
    await eventually('the default webhook configuration', () => callsStrict(replicaSet(STRICT)));
    await cluster.kubectlOk(['apply', '-k', join(MANIFESTS_DIR, 'pods-only')]);
    await eventually('the pods-only webhook configuration', async () => !(await callsStrict(replicaSet(STRICT))));
    expect(await callsStrict(pod(STRICT, { containers: ['nginx:1.27'] }))).toBe(true);
  });
});
