/**
 * RELATED_IMAGE_* per namespace against a real kube-apiserver (RBAC on) with manifests/
 * applied: the webhook runs on the host as manifests/' ServiceAccount, without
 * --pin-related-images. A namespace annotated digest-pinner.io/pin-related-images: "true"
 * gets its Deployments' RELATED_IMAGE_* values pinned; one without the annotation does
 * not, until it is annotated (the Namespace informer follows the change).
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { issueCertificate } from './pki.js';
import { pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { applyManifests, eventually as poll, portOf, startHostWebhook, type ManifestDoc } from './host-webhook.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { testLog, type TestLog } from '../support/log.js';

const { plain } = inject('registries');
const ANNOTATION = 'digest-pinner.io/pin-related-images';
const ON = 'related-on';
const OFF = 'related-off';

let cluster: Cluster;
let webhook: RunningServer | undefined;
let operand: PushedImage;
let log: TestLog | undefined;
const logText = (): string => log?.text() ?? '';

interface Env { name: string; value?: string }
interface Deployment {
  spec: { template: { spec: { containers: { image: string; env?: Env[] }[] } } };
}

const eventually = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> =>
  poll(what, probe, { timeoutMs, context: () => logText().slice(-3000) });

function deploymentYaml(namespace: string, name: string): string {
  const labels = { app: name };
  return stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: 0,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{
            name: 'manager',
            image: `${plain.host}/related/operand:v1`,
            env: [{ name: 'RELATED_IMAGE_OPERAND', value: `${plain.host}/related/operand:v1` }, { name: 'LOG_LEVEL', value: 'debug' }],
          }],
        },
      },
    },
  });
}

/** The first container of a Deployment as the API server stored it (or, with dryRun, would store it). */
async function applyDeployment(namespace: string, name: string, dryRun = false): Promise<{ image: string; env?: Env[] } | undefined> {
  const out = await cluster.kubectlOk(['apply', ...(dryRun ? ['--dry-run=server'] : []), '-o', 'json', '-f', '-'], { stdin: deploymentYaml(namespace, name) });
  return (JSON.parse(out) as Deployment).spec.template.spec.containers[0];
}

const isWebhook = (doc: ManifestDoc): boolean => doc.kind === 'MutatingWebhookConfiguration';

beforeAll(async () => {
  operand = await pushImage(plain, 'related/operand', 'v1');
  cluster = await startCluster();
  const cert = await issueCertificate(cluster.pki.ca, { name: 'webhook', commonName: 'digest-pinner', usage: 'server', altNames: ['IP:127.0.0.1'] });
  // RBAC and the ServiceAccount first; no ImageSet CRD (not needed here).
  await applyManifests(cluster, 0, (doc) => doc.kind !== 'CustomResourceDefinition' && !isWebhook(doc));
  const token = await cluster.createServiceAccountToken('digest-pinner', 'digest-pinner', { durationSeconds: 3600 });
  for (const ns of [ON, OFF]) {
    await cluster.kubectlOk(['create', 'namespace', ns]);
    await cluster.kubectlOk(['label', 'namespace', ns, 'digest-pinner.io/mode=warn']);
  }
  await cluster.kubectlOk(['annotate', 'namespace', ON, `${ANNOTATION}=true`]);

  log = testLog(join(cluster.logDir, 'webhook.log'));
  const args = [
    '--host', '127.0.0.1',
    '--tls-cert', cert.certFile, '--tls-key', cert.keyFile,
    '--kubeconfig', await cluster.writeTokenKubeconfig('digest-pinner', token),
    '--insecure-registry', plain.host,
    '--lease-namespace', 'digest-pinner',
  ];
  webhook = await startHostWebhook({ cluster, args, log, env: { HOSTNAME: 'e2e-related' }, poll: { context: () => logText().slice(-3000) } });
  await applyManifests(cluster, portOf(webhook), isWebhook);
  // The webhook configuration takes effect within a moment: wait for an image to be pinned.
  await eventually('the webhook to pin', async () => ((await applyDeployment(OFF, 'probe', true))?.image.includes('@') === true ? true : undefined));
}, 240_000);

afterAll(async () => {
  await webhook?.close();
  await cluster.stop();
});

describe('RELATED_IMAGE_* with the Namespace annotation (no --pin-related-images)', () => {
  it('syncs the Namespace informer before becoming ready', () => {
    expect(logText()).toMatch(/"informer":"namespaces".*"informer synced"/);
  });

  it(`pins the values in a namespace annotated ${ANNOTATION}: "true"`, async () => {
    const container = await applyDeployment(ON, 'operator');
    const pinned = `${plain.host}/related/operand:v1@${operand.digest}`;
    expect(container?.image).toBe(pinned);
    expect(container?.env).toEqual([{ name: 'RELATED_IMAGE_OPERAND', value: pinned }, { name: 'LOG_LEVEL', value: 'debug' }]);
  });

  it('leaves them alone in a namespace without the annotation (images still pinned)', async () => {
    const container = await applyDeployment(OFF, 'operator');
    expect(container?.image).toBe(`${plain.host}/related/operand:v1@${operand.digest}`);
    expect(container?.env).toEqual([{ name: 'RELATED_IMAGE_OPERAND', value: `${plain.host}/related/operand:v1` }, { name: 'LOG_LEVEL', value: 'debug' }]);
  });

  it('follows the annotation being added and removed', async () => {
    const pinned = `${plain.host}/related/operand:v1@${operand.digest}`;
    await cluster.kubectlOk(['annotate', 'namespace', OFF, `${ANNOTATION}=true`]);
    await eventually('the annotation to take effect', async () => ((await applyDeployment(OFF, 'later', true))?.env?.[0]?.value === pinned ? true : undefined));
    await cluster.kubectlOk(['annotate', 'namespace', OFF, `${ANNOTATION}=false`, '--overwrite']);
    await eventually('the annotation change to take effect', async () => ((await applyDeployment(OFF, 'later', true))?.env?.[0]?.value?.includes('@') === false ? true : undefined));
  });
});
