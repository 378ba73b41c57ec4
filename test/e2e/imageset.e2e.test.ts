/**
 * ImageSets against a real kube-apiserver (RBAC on) with manifests/ applied: the
 * webhook runs on the host as manifests/' ServiceAccount. First without the CRD (the
 * webhook says so and becomes ready), then with it: the CRD's schema and rule, an
 * ImageSet written by `digest-pinner imageset` pinning Pods whose registry nothing
 * listens on (the air-gapped mode), the informer following changes, conflicts
 * reported in status by the Lease holder, and RELATED_IMAGE_* values.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { issueCertificate } from './pki.js';
import { pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { runCli } from '../../src/cli/main.js';
import { applyManifests as applyHostManifests, eventually as poll, portOf, startHostWebhook, type ManifestDoc } from './host-webhook.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { testLog, type TestLog } from '../support/log.js';
import { LeaseElector, STATUS_LEASE_NAME } from '../../src/imageset/index.js';
import { loadKubeConfig } from '../../src/kube/index.js';

const registries = inject('registries');
const { plain } = registries;
/** Nothing listens on port 1: every request to this registry fails at once. */
const AIRGAP = '127.0.0.1:1';
const STRICT = 'airgap-strict';
const WARN = 'airgap-warn';
const IDENTITY = 'e2e-replica-a';

let cluster: Cluster;
let webhook: RunningServer | undefined;
let webhookPort = 0;
let webhookArgs: string[] = [];
let app: PushedImage;
/** A second real digest (another image of the same registry). */
let other: PushedImage;
let log: TestLog | undefined;
let logs = 0;
/** What the webhook running now (or last) has logged. */
const logText = (): string => log?.text() ?? '';

interface Item {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: {
    containers?: { image: string; env?: { name: string; value?: string }[] }[];
    template?: { spec: { containers: { image: string; env?: { name: string; value?: string }[] }[] } };
  };
  status?: { conditions?: { type: string; status: string; reason: string }[]; conflicts?: unknown[]; images?: number };
}

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await cluster.kubectlOk([...args, '-o', 'json'])) as T;
}

const eventually = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> =>
  poll(what, probe, { timeoutMs, context: () => logText().slice(-3000) });

function podYaml(namespace: string, name: string, image: string): string {
  return stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: [{ name: 'app', image }] } });
}

function imageSetYaml(name: string, images: { image: string; digest: string }[], anyTag?: boolean): string {
  return stringify({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'ImageSet', metadata: { name }, spec: { ...(anyTag === undefined ? {} : { anyTag }), images } });
}

/** The image a server-side dry run of a Pod stores, or the error kubectl printed. */
async function dryRun(namespace: string, image: string): Promise<{ image?: string; error?: string }> {
  const out = await cluster.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { stdin: podYaml(namespace, 'probe', image) });
  if (out.code !== 0) return { error: out.stderr };
  const image0 = (JSON.parse(out.stdout) as Item).spec.containers?.[0]?.image;
  return image0 === undefined ? {} : { image: image0 };
}

async function startWebhook(extraEnv: Record<string, string> = {}): Promise<void> {
  logs += 1;
  log = testLog(join(cluster.logDir, `webhook-${logs}.log`));
  const env = { HOSTNAME: IDENTITY, ...extraEnv };
  webhook = await startHostWebhook({ cluster, args: webhookArgs, port: webhookPort, log, env, poll: { context: () => logText().slice(-3000) } });
  webhookPort = portOf(webhook);
}

async function stopWebhook(): Promise<void> {
  await webhook?.close();
  webhook = undefined;
}

const applyManifests = (keep: (doc: ManifestDoc) => boolean): Promise<void> => applyHostManifests(cluster, webhookPort, keep);

const isCrd = (doc: ManifestDoc): boolean => doc.kind === 'CustomResourceDefinition';
const isWebhook = (doc: ManifestDoc): boolean => doc.kind === 'MutatingWebhookConfiguration';

beforeAll(async () => {
  [app, other] = await Promise.all([pushImage(plain, 'airgap/app', 'v1'), pushImage(plain, 'airgap/other', 'v1')]);
  cluster = await startCluster();
  const cert = await issueCertificate(cluster.pki.ca, { name: 'webhook', commonName: 'digest-pinner', usage: 'server', altNames: ['IP:127.0.0.1'] });
  // Everything but the CRD and the webhook configuration: RBAC and the ServiceAccount first.
  await applyManifests((doc) => !isCrd(doc) && !isWebhook(doc));
  const token = await cluster.createServiceAccountToken('digest-pinner', 'digest-pinner', { durationSeconds: 3600 });
  webhookArgs = [
    '--host', '127.0.0.1',
    '--tls-cert', cert.certFile,
    '--tls-key', cert.keyFile,
    '--kubeconfig', await cluster.writeTokenKubeconfig('digest-pinner', token),
    '--insecure-registry', plain.host,
    '--imageset-authoritative', AIRGAP,
    '--pin-related-images',
    '--lease-namespace', 'digest-pinner',
    '--log-level', 'info',
  ];
  for (const [ns, mode] of [[STRICT, 'strict'], [WARN, 'warn']] as const) {
    await cluster.kubectlOk(['create', 'namespace', ns]);
    await cluster.kubectlOk(['label', 'namespace', ns, `digest-pinner.io/mode=${mode}`]);
  }
}, 240_000);

afterAll(async () => {
  await stopWebhook();
  await cluster.stop();
});

describe('without the ImageSet CRD', () => {
  it('says so in its log, becomes ready, and pins from registries', async () => {
    await startWebhook();
    await applyManifests(isWebhook);
    expect(logText()).toContain('the ImageSet CRD (imagesets.digest-pinner.io) is not installed: pinning without ImageSets');
    const probe = await eventually('a dry run through the webhook', async () => {
      const answer = await dryRun(WARN, `${plain.host}/airgap/app:v1`);
      return answer.image?.includes('@') === true ? answer : undefined;
    });
    expect(probe.image).toBe(`${plain.host}/airgap/app:v1@${app.digest}`);
    // Authoritative and no ImageSets at all: fails per the mode, the registry is never asked.
    expect((await dryRun(STRICT, `${AIRGAP}/airgap/app:v1`)).error).toContain('not in any ImageSet');
    await stopWebhook();
  });
});

describe('with the CRD', () => {
  beforeAll(async () => {
    await stopWebhook();
    await applyManifests(isCrd);
    await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd/imagesets.digest-pinner.io']);
    await startWebhook();
  });

  describe('the schema', () => {
    it.each([
      ['an entry without a tag', imageSetYaml('bad-tag', [{ image: 'calico/node', digest: '' }].map((e) => ({ ...e, digest: `sha256:${'a'.repeat(64)}` }))), 'every image needs a tag'],
      ['a malformed digest', imageSetYaml('bad-digest', [{ image: 'calico/node:v1', digest: 'sha256:abc' }]), 'spec.images[0].digest'],
      ['an image with a digest', imageSetYaml('bad-image', [{ image: `calico/node:v1@sha256:${'a'.repeat(64)}`, digest: `sha256:${'a'.repeat(64)}` }]), 'spec.images[0].image'],
      ['an entry without a digest', stringify({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'ImageSet', metadata: { name: 'no-digest' }, spec: { images: [{ image: 'calico/node:v1' }] } }), 'spec.images[0].digest: Required value'],
      ['no spec.images', stringify({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'ImageSet', metadata: { name: 'no-images' }, spec: {} }), 'spec.images: Required value'],
    ])('rejects %s', async (_what, yaml, message) => {
      const result = await cluster.kubectl(['apply', '-f', '-'], { stdin: yaml });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(message);
    });

    it('accepts tag-less entries when spec.anyTag is true', async () => {
      await cluster.kubectlOk(['apply', '--dry-run=server', '-f', '-'], { stdin: imageSetYaml('any-tag', [{ image: 'calico/node', digest: app.digest }], true) });
    });
  });

  describe('air-gapped: an ImageSet alone', () => {
    it('pins a Pod whose registry nothing listens on, with no network', async () => {
      // The digest was read back from a real registry when the image was pushed; the
      // ImageSet is written by the CLI from a list, without asking any registry.
      const out = new PassThrough();
      let yaml = '';
      out.on('data', (chunk: Buffer) => (yaml += chunk.toString()));
      const io = { stdout: out, stderr: out, stdin: new PassThrough(), env: {}, cwd: cluster.workDir, homeDir: cluster.workDir, version: 'e2e', logDestination: () => testLog(join(cluster.logDir, 'cli.log')).destination };
      expect(await runCli(['imageset', '--name', 'airgap', `${AIRGAP}/airgap/app:v1@${app.digest}`], io)).toBe(0);
      expect(yaml).toContain(`image: ${AIRGAP}/airgap/app:v1`);
      await cluster.kubectlOk(['apply', '-f', '-'], { stdin: yaml });

      await eventually('the webhook to see the ImageSet', async () => ((await dryRun(STRICT, `${AIRGAP}/airgap/app:v1`)).image?.includes('@') === true ? true : undefined));
      await cluster.kubectlOk(['apply', '-f', '-'], { stdin: podYaml(STRICT, 'airgapped', `${AIRGAP}/airgap/app:v1`) });
      const pod = await getJson<Item>(['get', 'pod', 'airgapped', '-n', STRICT]);
      expect(pod.spec.containers?.[0]?.image).toBe(`${AIRGAP}/airgap/app:v1@${app.digest}`);
      expect(JSON.parse(pod.metadata.annotations?.['digest-pinner.io/original-images'] ?? '{}')).toEqual({ 'containers/app': `${AIRGAP}/airgap/app:v1` });
    });

    it('denies, in a strict namespace, an image of the authoritative registry that no ImageSet lists', async () => {
      const result = await cluster.kubectl(['apply', '-f', '-'], { stdin: podYaml(STRICT, 'missing', `${AIRGAP}/airgap/missing:v1`) });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('admission webhook "strict.digest-pinner.io" denied the request');
      expect(result.stderr).toContain(`containers/app image "${AIRGAP}/airgap/missing:v1" not pinned: not in any ImageSet, and ImageSets are authoritative for ${AIRGAP}`);
    });

    it('admits it unpinned with a warning in a warn namespace', async () => {
      const result = await cluster.kubectl(['apply', '-f', '-'], { stdin: podYaml(WARN, 'missing', `${AIRGAP}/airgap/missing:v1`) });
      expect(result.code).toBe(0);
      expect(result.stderr).toContain('not in any ImageSet');
    });

    it('reports the ImageSet Ready, without conflicts, in its status', async () => {
      const set = await eventually('status on the airgap ImageSet', async () => {
        const item = await getJson<Item>(['get', 'imageset', 'airgap']);
        return item.status?.conditions === undefined ? undefined : item;
      });
      expect(set.status?.images).toBe(1);
      expect(set.status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([['Ready', 'True', 'Loaded'], ['Conflict', 'False', 'NoConflicts']]);
      // Written once: the writer's own update comes back through the watch and is found up to date.
      // A marker ImageSet created now comes through the same watch after that update, and the writer
      // goes over every ImageSet, one pass at a time, before the marker has its status: a second
      // write of this one would have come first.
      const version = async () => (await getJson<{ metadata: { resourceVersion: string } }>(['get', 'imageset', 'airgap'])).metadata.resourceVersion;
      const before = await version();
      await cluster.kubectlOk(['apply', '-f', '-'], { stdin: imageSetYaml('marker', [{ image: `${AIRGAP}/marker/app:v1`, digest: other.digest }]) });
      await eventually('status on the marker ImageSet', async () => ((await getJson<Item>(['get', 'imageset', 'marker'])).status?.conditions === undefined ? undefined : true));
      expect(await version()).toBe(before);
      await cluster.kubectlOk(['delete', 'imageset', 'marker']);
    });
  });

  describe('the informer', () => {
    it('follows ImageSets created, updated and deleted', async () => {
      const image = `${AIRGAP}/moving/app:v1`;
      await cluster.kubectlOk(['apply', '-f', '-'], { stdin: imageSetYaml('moving', [{ image, digest: app.digest }]) });
      await eventually('the created ImageSet', async () => ((await dryRun(STRICT, image)).image === `${image}@${app.digest}` ? true : undefined));
      await cluster.kubectlOk(['apply', '-f', '-'], { stdin: imageSetYaml('moving', [{ image, digest: other.digest }]) });
      await eventually('the updated ImageSet', async () => ((await dryRun(STRICT, image)).image === `${image}@${other.digest}` ? true : undefined));
      await cluster.kubectlOk(['delete', 'imageset', 'moving']);
      await eventually('the deleted ImageSet', async () => ((await dryRun(STRICT, image)).error?.includes('not in any ImageSet') === true ? true : undefined));
    });

    it('takes precedence over a digest cached from the registry as soon as it lists the image', async () => {
      // Pinned from the registry, then from the resolver's cache (fresh for the cache TTL).
      const image = `${plain.host}/airgap/app:v1`;
      expect((await dryRun(WARN, image)).image).toBe(`${image}@${app.digest}`);
      expect((await dryRun(WARN, image)).image).toBe(`${image}@${app.digest}`);
      // An ImageSet that lists the same tag with another digest wins from the next admission on.
      await cluster.kubectlOk(['apply', '-f', '-'], { stdin: imageSetYaml('override', [{ image, digest: other.digest }]) });
      await eventually('the ImageSet over the cached digest', async () => ((await dryRun(WARN, image)).image === `${image}@${other.digest}` ? true : undefined));
      await cluster.kubectlOk(['delete', 'imageset', 'override']);
      await eventually('the registry again', async () => ((await dryRun(WARN, image)).image === `${image}@${app.digest}` ? true : undefined));
    });
  });

  describe('conflicts', () => {
    const image = `${AIRGAP}/conflict/app:v1`;

    it('are written to both ImageSets\' status by the Lease holder, and logged', async () => {
      await cluster.kubectlOk(['apply', '-f', '-'], { stdin: `${imageSetYaml('conflict-b', [{ image, digest: other.digest }])}---\n${imageSetYaml('conflict-a', [{ image, digest: app.digest }])}` });
      const lease = await getJson<{ spec: { holderIdentity: string } }>(['get', 'lease', 'digest-pinner-imageset-status', '-n', 'digest-pinner']);
      expect(lease.spec.holderIdentity).toMatch(new RegExp(`^${IDENTITY}_[0-9a-f]{8}$`));
      for (const name of ['conflict-a', 'conflict-b']) {
        const set = await eventually(`Conflict=True on ${name}`, async () => {
          const item = await getJson<Item>(['get', 'imageset', name]);
          return item.status?.conditions?.some((c) => c.type === 'Conflict' && c.status === 'True') === true ? item : undefined;
        });
        expect(set.status?.conflicts).toEqual([{ image, imageSets: ['conflict-a', 'conflict-b'], digests: [app.digest, other.digest].sort() }]);
      }
      expect(logText()).toContain(`ImageSets give different digests for ${image}`);
    });

    it('leave the image unpinned by ImageSets: denied on the authoritative registry', async () => {
      const result = await cluster.kubectl(['apply', '-f', '-'], { stdin: podYaml(STRICT, 'conflicted', image) });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('ImageSets conflict-a, conflict-b give it different digests');
    });

    it('clear from status once the ImageSets agree', async () => {
      await cluster.kubectlOk(['apply', '-f', '-'], { stdin: imageSetYaml('conflict-b', [{ image, digest: app.digest }]) });
      await eventually('Conflict=False on conflict-a', async () => {
        const item = await getJson<Item>(['get', 'imageset', 'conflict-a']);
        return item.status?.conditions?.some((c) => c.type === 'Conflict' && c.status === 'False') === true ? item : undefined;
      });
      expect((await dryRun(STRICT, image)).image).toBe(`${image}@${app.digest}`);
    });
  });

  describe('RELATED_IMAGE_* (--pin-related-images)', () => {
    it("pins an operator Deployment's RELATED_IMAGE_* values from the ImageSet", async () => {
      const labels = { app: 'operator' };
      await cluster.kubectlOk(['apply', '-f', '-'], {
        stdin: stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'operator', namespace: STRICT },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                containers: [{
                  name: 'manager',
                  image: `${AIRGAP}/airgap/app:v1`,
                  env: [{ name: 'RELATED_IMAGE_OPERAND', value: `${AIRGAP}/airgap/app:v1` }, { name: 'LOG_LEVEL', value: 'debug' }],
                }],
              },
            },
          },
        }),
      });
      const deployment = await getJson<Item>(['get', 'deployment', 'operator', '-n', STRICT]);
      const container = deployment.spec.template?.spec.containers[0];
      expect(container?.image).toBe(`${AIRGAP}/airgap/app:v1@${app.digest}`);
      expect(container?.env).toEqual([{ name: 'RELATED_IMAGE_OPERAND', value: `${AIRGAP}/airgap/app:v1@${app.digest}` }, { name: 'LOG_LEVEL', value: 'debug' }]);
      const pod = await eventually('the operator Pod', async () => {
        const list = await getJson<{ items: Item[] }>(['get', 'pods', '-n', STRICT, '-l', 'app=operator']);
        return list.items[0];
      });
      expect(pod.spec.containers?.[0]?.env?.[0]?.value).toBe(`${AIRGAP}/airgap/app:v1@${app.digest}`);
    });
  });
  // Last: it stops the webhook.
  describe('the status Lease', () => {
    it('elects one writer among replicas, and hands over when the holder stops', async () => {
      const kubeConfig = loadKubeConfig({ kubeconfig: webhookArgs[webhookArgs.indexOf('--kubeconfig') + 1], env: {} })?.kubeConfig;
      if (kubeConfig === undefined) throw new Error('no kubeconfig');
      const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
      // A second replica, as manifests/' ServiceAccount (the Role allows this Lease name only).
      const changes: boolean[] = [];
      const second = new LeaseElector({
        kubeConfig, log: quiet, namespace: 'digest-pinner', name: STATUS_LEASE_NAME, identity: 'e2e-replica-b', renewEveryMs: 300,
        onChange: (leading) => changes.push(leading),
      });
      const lease = async () => (await getJson<{ spec: { holderIdentity?: string; renewTime: string } }>(['get', 'lease', STATUS_LEASE_NAME, '-n', 'digest-pinner'])).spec;
      const holder = async () => (await lease()).holderIdentity ?? '';
      const renewedAt = (await lease()).renewTime;
      second.start();
      // The holder renews while the second replica looks (at once, then every 300 ms): a renewal
      // after the second started, still by the holder, shows the second stayed out; it never led.
      await eventually('the holder to renew the Lease', async () => ((await lease()).renewTime === renewedAt ? undefined : true));
      expect(await holder()).toMatch(new RegExp(`^${IDENTITY}_`));
      expect(second.leading()).toBe(false);
      expect(changes).toEqual([]);
      // The webhook gives the Lease up when it stops (the second replica paused meanwhile, so the
      // Lease is seen as the webhook left it), and another replica need not wait it out.
      await second.stop();
      await stopWebhook();
      expect(await holder()).toBe('');
      second.start();
      await eventually('the second replica to take over', () => Promise.resolve(second.leading() ? true : undefined));
      expect(await holder()).toBe('e2e-replica-b');
      expect(changes).toEqual([true]);
      await second.stop();
    });
  });
});
