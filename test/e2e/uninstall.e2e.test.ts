/**
 * Removing digest-pinner while Pods are being created (docs/upgrade.md): `helm uninstall`
 * with Helm 4 and with Helm 3, and the wrong order by hand (the release namespace deleted
 * first).
 *
 * kube-apiserver reaches the webhook as the chart configures it, through its Service: the
 * cluster's Service range is in 127.0.0.0/8, so the Service's ClusterIP is a local address,
 * and `serve` (in this process) listens on it, port 443, with the certificate `digest-pinner
 * certs` makes for the Service's names. kube-apiserver resolves the Service to its ClusterIP
 * as in any cluster, so once the Service is deleted every call fails, as it does in a cluster
 * once the Service or the webhook's Pods are gone. The webhook pins from an ImageSet
 * (registry.example.com is ImageSet-authoritative: no registry is asked).
 *
 * While `helm uninstall` runs, one loop per namespace creates Pods (server-side dry runs:
 * every admission step runs, nothing is stored), each 100 ms after the previous answer: in
 * the strict namespace in turn an image with a tag, one pinned by hand and one on the skip
 * list; in the warn namespace the image with a tag. A refusal is classified by its message.
 * The design (docs/upgrade.md) promises that no Pod the strict policy accepts (pinned,
 * skipped) and no Pod in a warn namespace is refused at any moment, whatever Helm deletes
 * first; an image with a tag in the strict namespace may be refused by the policy alone,
 * from the moment the webhook stops pinning until the binding is gone.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { eventually as poll, startHostWebhook } from './host-webhook.js';
import { failOpenCount } from './apiserver-metrics.js';
import { SKIP_LIST_VARIABLE, skipListLiteral } from '../../src/admission/index.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { CHART_DIR, HELM_BUILD_TIMEOUT_MS, helmBinary, helmCommands, type HelmMajor } from '../harness/helm.js';
import { runCommand } from '../support/cli.js';
import { testLog, type TestLog } from '../support/log.js';

const NAMESPACE = 'digest-pinner';
const RELEASE = 'digest-pinner';
const STRICT = 'uninstall-strict';
const WARN = 'uninstall-warn';
const REGISTRY = 'registry.example.com';
const IMAGE = `${REGISTRY}/app:1.0`;
const DIGEST = `sha256:${'c'.repeat(64)}`;
const PINNED = `${IMAGE}@${DIGEST}`;
const PINNED_BY_HAND = `${REGISTRY}/other@sha256:${'d'.repeat(64)}`;
const SKIPPED = `${REGISTRY}/skipped/tool:2`;
/** The CRDs every uninstall keeps (crds.keep), as `kubectl get -o name` names them. */
const KEPT_CRDS = ['imagesets', 'ledgerentries', 'pinrecords'].map((plural) => `customresourcedefinition.apiextensions.k8s.io/${plural}.digest-pinner.io`);
/** Skipped by Helm 3's list only. */
const SKIPPED_DEEP = `${REGISTRY}/skipped/deep/tool:2`;
/** The chart value `skip` each major installs with. */
const SKIP: Record<HelmMajor, string> = { 4: `${REGISTRY}/skipped/*`, 3: `${REGISTRY}/skipped/**` };
const LOOP_PAUSE_MS = 100;
const STEP_TIMEOUT_MS = 300_000;

let cluster: Cluster;
let api: Agent;
let workDir: string;
let pkiDir: string;
let webhook: RunningServer | undefined;
let log: TestLog;
const binaries = new Map<HelmMajor, string>();

const eventually = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
  poll(what, probe, { timeoutMs: 60_000, context: () => log.text().slice(-3000) });

const { helm, helmOk } = helmCommands(binaries, () => cluster.kubeconfigPath);

interface Admission {
  /** The namespace the Pod was created in. */
  readonly namespace: string;
  /** The image the Pod was created with. */
  readonly requested: string;
  readonly status: number;
  /** The admitted Pod's image; undefined when refused. */
  readonly image: string | undefined;
  readonly message: string;
}

/** Creates a Pod of `image` in a server-side dry run, as the admin; `labels` on the Pod. */
async function createPod(namespace: string, image: string, labels: Record<string, string> = {}): Promise<Admission> {
  const response = await request(`${cluster.server}/api/v1/namespaces/${namespace}/pods?dryRun=All`, {
    method: 'POST',
    dispatcher: api,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'p-', namespace, labels },
      spec: { containers: [{ name: 'app', image }] } }),
  });
  const body = (await response.body.json()) as { message?: string; spec?: { containers?: { image?: string }[] } };
  return { namespace, requested: image, status: response.statusCode, image: body.spec?.containers?.[0]?.image, message: body.message ?? '' };
}

/** Why kube-apiserver refused a Pod, in the words of docs/upgrade.md. */
function refusalClass(answer: Admission): string {
  const { message } = answer;
  if (message.includes('failed calling webhook')) return 'the webhook configured but unreachable';
  if (message.includes('digest-pinner: images not pinned to a digest')) return 'the strict policy: image not pinned';
  if (message.includes('denied the request')) return 'the webhook denied it';
  return `other: HTTP ${answer.status} ${message}`;
}

/** Refusals among `answers`, counted by namespace, image and class: `{}` when every Pod was admitted. */
function refusals(answers: readonly Admission[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers.filter((a) => a.status !== 201)) {
    const key = `${answer.namespace} ${answer.requested}: ${refusalClass(answer)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Pods created in `namespace` one after another, LOOP_PAUSE_MS apart, of each of `images` in turn, until stop(). */
class CreationLoop {
  readonly answers: Admission[] = [];
  private stopping = false;
  private readonly done: Promise<void>;
  private readonly waiters: { count: number; resolve: () => void }[] = [];

  constructor(readonly namespace: string, readonly images: readonly string[]) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for (let index = 0; !this.stopping; index += 1) {
      this.answers.push(await createPod(this.namespace, this.images[index % this.images.length] ?? IMAGE));
      for (const waiter of this.waiters.filter((w) => this.answers.length >= w.count)) waiter.resolve();
      await sleep(LOOP_PAUSE_MS);
    }
  }

  /** The first and the last answer for each image. */
  ends(): { first: (string | undefined)[]; last: (string | undefined)[] } {
    const of = (image: string): Admission[] => this.answers.filter((answer) => answer.requested === image);
    return { first: this.images.map((image) => of(image)[0]?.image), last: this.images.map((image) => of(image).at(-1)?.image) };
  }

  /** Resolves once `count` answers have been recorded. */
  reached(count: number): Promise<void> {
    if (this.answers.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Records at least one more answer for each image, of Pods created from now on (the one in flight may have started before), then stops. */
  async stop(): Promise<void> {
    await this.reached(this.answers.length + this.images.length + 1);
    this.stopping = true;
    await this.done;
  }
}

async function serviceClusterIp(): Promise<string> {
  return (await cluster.kubectlOk(['get', 'service', 'digest-pinner', '-n', NAMESPACE, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
}

async function caBundles(): Promise<(string | undefined)[]> {
  const config = JSON.parse(await cluster.kubectlOk(['get', 'mutatingwebhookconfiguration', 'digest-pinner', '-o', 'json'])) as
    { webhooks: { clientConfig: { caBundle?: string } }[] };
  return config.webhooks.map((entry) => entry.clientConfig.caBundle);
}

/**
 * `digest-pinner certs` as docs/install.md runs it: the serving certificate into the Secret and
 * pkiDir, the caBundle onto the webhook configuration. With `newCa`, the CA in pkiDir is
 * dropped first, so a new CA signs the new certificate (a rotation); otherwise it is reused.
 */
async function certs(newCa: boolean): Promise<string> {
  if (newCa) await Promise.all(['ca.crt', 'ca.key'].map((file) => rm(join(pkiDir, file), { force: true })));
  const result = await runCommand(['certs', '--service', 'digest-pinner', '--namespace', NAMESPACE, '--out', pkiDir,
    '--secret', 'digest-pinner-tls', '--patch-webhook', 'digest-pinner', '--kubeconfig', cluster.kubeconfigPath], { cwd: workDir });
  if (result.code !== 0) throw new Error(`digest-pinner certs exited ${String(result.code)}: ${result.stderr}`);
  return (await readFile(join(pkiDir, 'ca.crt'))).toString('base64');
}

/** serve on the Service's ClusterIP, port 443, as the chart's ServiceAccount, reading the strict policy's skip list, as the chart runs it. */
async function serveOnService(): Promise<void> {
  const token = await cluster.createServiceAccountToken(NAMESPACE, 'digest-pinner', { durationSeconds: 3600 });
  webhook = await startHostWebhook({
    cluster,
    log,
    port: 443,
    args: [
      '--host', await serviceClusterIp(),
      '--tls-cert', join(pkiDir, 'tls.crt'),
      '--tls-key', join(pkiDir, 'tls.key'),
      '--tls-reload-interval', '1s',
      '--kubeconfig', await cluster.writeTokenKubeconfig('digest-pinner', token),
      '--skip-policy', 'digest-pinner-strict',
      '--imageset-authoritative', REGISTRY,
      '--lease-namespace', NAMESPACE,
    ],
    poll: { timeoutMs: 60_000, context: () => log.text().slice(-3000) },
  });
}

async function stopWebhook(): Promise<void> {
  await webhook?.close();
  webhook = undefined;
}

/** A Pod in the strict namespace pinned by the webhook: kube-apiserver reaches it through the Service and trusts its certificate. */
async function pinnedThroughService(): Promise<true | undefined> {
  const answer = await createPod(STRICT, IMAGE);
  return answer.status === 201 && answer.image === PINNED ? true : undefined;
}

/** The strict policy's list, as kube-apiserver stores it. */
async function skipListText(): Promise<string | undefined> {
  const policy = JSON.parse(await cluster.kubectlOk(['get', 'validatingadmissionpolicy', 'digest-pinner-strict', '-o', 'json'])) as
    { spec: { variables: { name: string; expression: string }[] } };
  return skipListLiteral(policy.spec.variables.find((variable) => variable.name === SKIP_LIST_VARIABLE)?.expression ?? '')?.trim();
}

/** An image with a tag admitted as written in the strict namespace: neither the webhook nor the policy applies. */
async function admittedAsWritten(): Promise<true | undefined> {
  const answer = await createPod(STRICT, IMAGE);
  return answer.status === 201 && answer.image === IMAGE ? true : undefined;
}

/** helm install, the certificate, serve, the ImageSet; resolves once a strict Pod is pinned through the Service. */
async function install(major: HelmMajor): Promise<void> {
  await helmOk(major, ['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--create-namespace', '--set', `skip={${SKIP[major]}}`]);
  await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/imagesets.digest-pinner.io']);
  await cluster.kubectlOk(['apply', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'ImageSet',
    metadata: { name: 'uninstall-e2e' }, spec: { images: [{ image: IMAGE, digest: DIGEST }] } }) });
  await certs(false);
  await serveOnService();
  await eventually('a strict Pod pinned through the Service', pinnedThroughService);
}

/** What is left of the chart's default rendering, as `kind/name`. */
async function remaining(): Promise<string[]> {
  const manifest = await helmOk(4, ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE]);
  const found = await cluster.kubectlOk(['get', '-f', '-', '--ignore-not-found', '-o', 'name'], { stdin: manifest });
  return found.split('\n').filter((line) => line !== '').sort();
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'digest-pinner-uninstall-e2e-'));
  pkiDir = join(workDir, 'pki');
  const [helm4, helm3] = await Promise.all([helmBinary(4), helmBinary(3)]);
  binaries.set(4, helm4);
  binaries.set(3, helm3);
  // A /24 of its own in 127.0.0.0/8: a cluster another test runs beside this one is unlikely to hand out the same ClusterIP.
  cluster = await startCluster({ serviceClusterIpRange: `127.${randomInt(16, 250)}.${randomInt(0, 256)}.0/24` });
  const [ca, cert, key] = await Promise.all([readFile(cluster.caFile), readFile(cluster.pki.admin.certFile), readFile(cluster.pki.admin.keyFile)]);
  api = new Agent({ connect: { ca, cert, key } });
  log = testLog(join(cluster.logDir, 'webhook.log'));
  for (const [namespace, mode] of [[STRICT, 'strict'], [WARN, 'warn']] as const) {
    await cluster.kubectlOk(['create', 'namespace', namespace]);
    await cluster.kubectlOk(['label', 'namespace', namespace, `digest-pinner.io/mode=${mode}`]);
    // Pods need the namespace's default ServiceAccount, which kube-controller-manager creates.
    await eventually(`the default ServiceAccount of ${namespace}`,
      async () => ((await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', namespace])).code === 0 ? true : undefined));
  }
}, HELM_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await stopWebhook();
  await api.close();
  await cluster.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe.each([4, 3] as const)('Helm %i', (major) => {
  it('installs (over what an earlier install and uninstall did), and kube-apiserver calls the webhook through its Service', async () => {
    await install(major);
    expect(await createPod(WARN, IMAGE)).toMatchObject({ status: 201, image: PINNED });
    expect(await skipListText()).toBe(SKIP[major]);
    // The policy reads the list of this install, not one kube-apiserver kept from an earlier one.
    const deep = await createPod(STRICT, SKIPPED_DEEP);
    if (major === 3) expect(deep).toMatchObject({ status: 201, image: SKIPPED_DEEP });
    else expect(refusalClass(deep)).toBe('the webhook denied it');
  }, STEP_TIMEOUT_MS);

  it('upgrades after a CA rotation, keeping the rotated caBundle', async () => {
    const before = await certs(false);
    const rotated = await certs(true);
    expect(rotated).not.toBe(before);
    // serve reloads the new certificate from disk; kube-apiserver has the new caBundle.
    await eventually('a strict Pod pinned with the rotated certificate', pinnedThroughService);
    // The same values as the install (docs/upgrade.md), and one change.
    await helmOk(major, ['upgrade', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--set', `skip={${SKIP[major]}}`,
      '--set', 'webhook.strict.timeoutSeconds=12']);
    const config = JSON.parse(await cluster.kubectlOk(['get', 'mutatingwebhookconfiguration', 'digest-pinner', '-o', 'json'])) as
      { webhooks: { timeoutSeconds: number }[] };
    expect(config.webhooks.map((entry) => entry.timeoutSeconds)).toEqual([10, 12]);
    expect(await caBundles()).toEqual([rotated, rotated]);
    expect(await createPod(STRICT, IMAGE)).toMatchObject({ status: 201, image: PINNED });
  }, STEP_TIMEOUT_MS);

  it('uninstalls while Pods are created, refusing none the strict policy accepts and none in a warn namespace', async () => {
    const strict = new CreationLoop(STRICT, [IMAGE, PINNED_BY_HAND, SKIPPED]);
    const warn = new CreationLoop(WARN, [IMAGE]);
    const loops = [strict, warn];
    await Promise.all(loops.map((loop) => loop.reached(2 * loop.images.length)));
    const [marks, failedOpen] = [loops.map((loop) => loop.answers.length), await failOpenCount(cluster, 'strict.digest-pinner.io')];
    const uninstalled = await helm(major, ['uninstall', RELEASE, '--namespace', NAMESPACE]);
    const during = loops.map((loop, index) => loop.answers.length - (marks[index] ?? 0));
    // kube-apiserver drops the deleted binding on its next policy refresh, about a second later.
    await eventually('nothing of digest-pinner in the path', admittedAsWritten);
    await Promise.all(loops.map((loop) => loop.stop()));
    await stopWebhook();
    expect(uninstalled.code, uninstalled.stderr).toBe(0);
    const answers = loops.flatMap((loop) => loop.answers);
    const mayBeRefused = (answer: Admission): boolean => answer.namespace === STRICT && answer.requested === IMAGE;
    process.stderr.write(`[uninstall e2e] helm ${major}, Kubernetes ${cluster.versions.kubernetes}: ${answers.length} Pods created, `
      + `${during.join(' and ')} (strict, warn) while helm uninstall ran; strict entry failed open `
      + `${(await failOpenCount(cluster, 'strict.digest-pinner.io')) - failedOpen} times; refused: ${JSON.stringify(refusals(answers))}\n`);
    expect(refusals(answers.filter((answer) => !mayBeRefused(answer)))).toEqual({});
    expect(answers.filter((answer) => mayBeRefused(answer) && answer.status !== 201).map(refusalClass)
      .filter((why) => why !== 'the strict policy: image not pinned')).toEqual([]);
    // Pinned before, as written after: the webhook was in the path, and then nothing was.
    expect(strict.ends()).toEqual({ first: [PINNED, PINNED_BY_HAND, SKIPPED], last: [IMAGE, PINNED_BY_HAND, SKIPPED] });
    expect(warn.ends()).toEqual({ first: [PINNED], last: [IMAGE] });
    expect(during.every((count) => count > 0), 'Pods created while helm uninstall ran').toBe(true);
    expect(await remaining()).toEqual(KEPT_CRDS);
  }, STEP_TIMEOUT_MS);
});

describe('the release namespace deleted first', () => {
  it('installs, and the webhook pins through its Service', async () => {
    await install(4);
  }, STEP_TIMEOUT_MS);

  it('then admits what strict mode admits while the webhook is down, and every Pod in warn namespaces', async () => {
    await cluster.kubectlOk(['delete', 'namespace', NAMESPACE, '--wait=true', '--timeout=120s']);
    // Its Pods went with the namespace: the host process stands in for them, and a kube-apiserver
    // connection kept alive to it would otherwise outlive the Service it was opened through.
    await stopWebhook();
    // The Service went with the namespace: the webhook configuration left behind fails open.
    const refused = await eventually('the webhook to be out of the path', async () => {
      const answer = await createPod(STRICT, IMAGE);
      return answer.status === 201 ? undefined : answer;
    });
    expect(refusalClass(refused)).toBe('the strict policy: image not pinned');
    expect(await createPod(STRICT, PINNED_BY_HAND)).toMatchObject({ status: 201, image: PINNED_BY_HAND });
    expect(await createPod(STRICT, SKIPPED)).toMatchObject({ status: 201, image: SKIPPED });
    expect(await createPod(STRICT, IMAGE, { 'digest-pinner.io/skip': 'true' })).toMatchObject({ status: 201, image: IMAGE });
    expect(await createPod(WARN, IMAGE)).toMatchObject({ status: 201, image: IMAGE });
    // Helm's record of the release was a Secret in that namespace.
    const uninstall = await helm(4, ['uninstall', RELEASE, '--namespace', NAMESPACE]);
    expect(uninstall.code).not.toBe(0);
    expect(uninstall.stderr).toContain('not found');
    expect(await remaining()).toEqual([
      'clusterrole.rbac.authorization.k8s.io/digest-pinner', 'clusterrolebinding.rbac.authorization.k8s.io/digest-pinner',
      ...KEPT_CRDS,
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/digest-pinner',
      'validatingadmissionpolicy.admissionregistration.k8s.io/digest-pinner-strict',
      'validatingadmissionpolicybinding.admissionregistration.k8s.io/digest-pinner-strict',
    ]);
  }, STEP_TIMEOUT_MS);

  it('admits unpinned images in strict namespaces once the binding is deleted, and is cleaned up by installing again and uninstalling', async () => {
    await stopWebhook();
    await cluster.kubectlOk(['delete', 'validatingadmissionpolicybinding', 'digest-pinner-strict']);
    await eventually('an unpinned strict Pod admitted', admittedAsWritten);
    // A new install takes over the objects left behind (same release name and namespace).
    await helmOk(4, ['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--create-namespace']);
    await helmOk(4, ['uninstall', RELEASE, '--namespace', NAMESPACE]);
    expect(await remaining()).toEqual(KEPT_CRDS);
    await eventually('an unpinned strict Pod admitted', admittedAsWritten);
  }, STEP_TIMEOUT_MS);
});
