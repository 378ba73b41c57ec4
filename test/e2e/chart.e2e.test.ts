/**
 * charts/digest-pinner installed by Helm itself into a real kube-apiserver
 * (cluster.ts): Helm 4 installs, upgrades past a caBundle another field manager
 * set, and uninstalls; Helm 3 installs over what Helm 4 kept, and uninstalls.
 * kube-apiserver's audit log records every DELETE in the order it served them,
 * which is how the tests read each Helm's uninstall order (docs/upgrade.md,
 * "Uninstalling with Helm"). No Pod runs (there is no kubelet): the Service has no
 * endpoints, so a call to the webhook fails, and kube-apiserver counts it as failed
 * open (apiserver-metrics.ts), which is how the tests see that it calls the webhook.
 * test/e2e/uninstall.e2e.test.ts uninstalls while Pods are being created, with a
 * webhook reached through the Service. Last, the objects of other projects the chart can
 * render (cert-manager's, prometheus-operator's) are installed against CRDs
 * generated from those projects' Go API modules (generate-crds.sh).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { failOpenCount } from './apiserver-metrics.js';
import { run } from '../harness/exec.js';
import { CHART_DIR, HELM_BUILD_TIMEOUT_MS, helmBinary, helmCommands, type HelmMajor } from '../harness/helm.js';

const NAMESPACE = 'digest-pinner';
const RELEASE = 'digest-pinner';
const STRICT = 'strict-ns';
const CRD = 'imagesets.digest-pinner.io';
const RECORDS_CRD = 'pinrecords.digest-pinner.io';
const LEDGER_CRD = 'ledgerentries.digest-pinner.io';
/** The CRDs kept on uninstall (crds.keep), as `kubectl get -o name` names them, sorted. */
const KEPT = [CRD, LEDGER_CRD, RECORDS_CRD].map((name) => `customresourcedefinition.apiextensions.k8s.io/${name}`);
const PINNED = `registry.example.com/app@sha256:${'a'.repeat(64)}`;
const STEP_TIMEOUT_MS = 300_000;
const GENERATE_CRDS = join(import.meta.dirname, 'generate-crds.sh');
const OTHER_CRDS = ['certificates.cert-manager.io', 'issuers.cert-manager.io', 'servicemonitors.monitoring.coreos.com',
  'prometheusrules.monitoring.coreos.com'];

// Every DELETE, with who sent it; nothing else (the log stays small).
const AUDIT_POLICY = JSON.stringify({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'Metadata', verbs: ['delete'] }, { level: 'None' }],
});

interface AuditEvent {
  verb: string;
  stage: string;
  user: { username: string };
  objectRef?: { resource?: string; name?: string };
  responseStatus?: { code?: number };
}

let cluster: Cluster;
let workDir: string;
let otherCrdsDir: string;
let auditLog: string;
const binaries = new Map<HelmMajor, string>();

const { helmOk } = helmCommands(binaries, () => cluster.kubeconfigPath);

/** The bytes of the audit log so far: deletions() reads what comes after. */
async function auditMark(): Promise<number> {
  return (await readFile(auditLog)).length;
}

/** `resource/name` of each DELETE the admin (Helm here) sent after `mark`, in the order kube-apiserver served them. */
async function deletions(mark: number): Promise<string[]> {
  const lines = (await readFile(auditLog)).subarray(mark).toString('utf8').split('\n').filter((line) => line !== '');
  return lines.map((line) => JSON.parse(line) as AuditEvent)
    .filter((event) => event.verb === 'delete' && event.stage === 'ResponseComplete' && event.user.username === 'system:admin')
    .map((event) => `${event.objectRef?.resource ?? '?'}/${event.objectRef?.name ?? '?'}`)
    // Helm's own release records.
    .filter((key) => !key.startsWith('secrets/sh.helm.release.'));
}

/** The objects of the chart's default rendering that exist in the cluster, as `kind/name`. */
async function remaining(): Promise<string[]> {
  const manifest = await helmOk(4, ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE]);
  const found = await cluster.kubectlOk(['get', '-f', '-', '--ignore-not-found', '-o', 'name'], { stdin: manifest });
  return found.split('\n').filter((line) => line !== '').sort();
}

function pod(image: string): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'p-', namespace: STRICT },
    spec: { containers: [{ name: 'c', image }] } });
}

/** A server-side dry run of a Pod in the strict namespace: admission runs in full, nothing is stored. */
async function admitPod(image: string): Promise<{ ok: boolean; stderr: string }> {
  const result = await cluster.kubectl(['create', '--dry-run=server', '-o', 'name', '-f', '-'], { stdin: pod(image) });
  return { ok: result.code === 0, stderr: result.stderr };
}

/** Whether kube-apiserver calls the strict entry (and fails, as no webhook runs) for a Pod in the strict namespace. */
async function callsStrictEntry(): Promise<boolean> {
  const before = await failOpenCount(cluster, 'strict.digest-pinner.io');
  await admitPod(PINNED);
  return (await failOpenCount(cluster, 'strict.digest-pinner.io')) > before;
}

/** Polls until `probe` is true: kube-apiserver's admission caches follow the store within a second or so. */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Sets the caBundle as `digest-pinner certs --patch-webhook` does, then upgrades with another strict timeoutSeconds. */
async function upgradeAfterCaBundle(major: HelmMajor): Promise<unknown[]> {
  const caBundle = (await readFile(cluster.caFile)).toString('base64');
  const setCaBundle = [0, 1].map((index) => ({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle }));
  await cluster.kubectlOk(['patch', 'mutatingwebhookconfiguration', 'digest-pinner', '--type=json', '-p', JSON.stringify(setCaBundle)]);
  await helmOk(major, ['upgrade', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--set', 'webhook.strict.timeoutSeconds=12']);
  const config = JSON.parse(await cluster.kubectlOk(['get', 'mutatingwebhookconfiguration', 'digest-pinner', '-o', 'json'])) as
    { webhooks: { name: string; timeoutSeconds: number; clientConfig: { caBundle?: string } }[] };
  return config.webhooks.map((entry) => [entry.name, entry.timeoutSeconds, entry.clientConfig.caBundle]);
}

/** Both entries keep the caBundle; the strict one has the upgraded timeout. */
async function expectedAfterUpgrade(): Promise<unknown[]> {
  const caBundle = (await readFile(cluster.caFile)).toString('base64');
  return [['warn.digest-pinner.io', 10, caBundle], ['strict.digest-pinner.io', 12, caBundle]];
}

const indexOf = (list: readonly string[], key: string): number => {
  const index = list.indexOf(key);
  if (index === -1) throw new Error(`${key} was not deleted; deleted: ${list.join(', ')}`);
  return index;
};

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'digest-pinner-chart-e2e-'));
  const policy = join(workDir, 'audit-policy.json');
  auditLog = join(workDir, 'audit.log');
  await writeFile(policy, AUDIT_POLICY);
  const [helm4, helm3, generated] = await Promise.all([helmBinary(4), helmBinary(3),
    run('bash', [GENERATE_CRDS], { timeoutMs: HELM_BUILD_TIMEOUT_MS })]);
  binaries.set(4, helm4);
  binaries.set(3, helm3);
  otherCrdsDir = generated.trim().split('\n').at(-1) ?? '';
  cluster = await startCluster({ extraApiServerArgs: ['--audit-policy-file', policy, '--audit-log-path', auditLog] });
  await cluster.kubectlOk(['create', 'namespace', STRICT]);
  await cluster.kubectlOk(['label', 'namespace', STRICT, 'digest-pinner.io/mode=strict']);
  await eventually(`ServiceAccount ${STRICT}/default`,
    async () => (await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', STRICT])).code === 0);
}, HELM_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await cluster.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe('Helm 4', () => {
  it('installs the chart, and kube-apiserver calls the webhook it configures', async () => {
    await helmOk(4, ['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--create-namespace']);
    expect(await remaining()).toEqual([
      'clusterrole.rbac.authorization.k8s.io/digest-pinner', 'clusterrolebinding.rbac.authorization.k8s.io/digest-pinner',
      ...KEPT, 'deployment.apps/digest-pinner',
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/digest-pinner', 'networkpolicy.networking.k8s.io/digest-pinner',
      'poddisruptionbudget.policy/digest-pinner',
      'role.rbac.authorization.k8s.io/digest-pinner-lease', 'rolebinding.rbac.authorization.k8s.io/digest-pinner-lease',
      'service/digest-pinner', 'serviceaccount/digest-pinner',
      'validatingadmissionpolicy.admissionregistration.k8s.io/digest-pinner-strict',
      'validatingadmissionpolicybinding.admissionregistration.k8s.io/digest-pinner-strict',
    ]);
    await eventually('the strict entry to be called', callsStrictEntry);
  }, STEP_TIMEOUT_MS);

  it('upgrades (server-side apply) without touching a caBundle another field manager set', async () => {
    expect(await upgradeAfterCaBundle(4)).toEqual(await expectedAfterUpgrade());
  }, STEP_TIMEOUT_MS);

  it('uninstalls the webhook configuration first, keeping the CRD and its ImageSets', async () => {
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: JSON.stringify({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'ImageSet',
      metadata: { name: 'kept' }, spec: { images: [{ image: 'nginx:1.27', digest: `sha256:${'b'.repeat(64)}` }] } }) });
    const mark = await auditMark();
    const output = await helmOk(4, ['uninstall', RELEASE, '--namespace', NAMESPACE]);
    expect(output).toContain(`[CustomResourceDefinition] ${CRD}`);
    expect(output).toContain(`[CustomResourceDefinition] ${RECORDS_CRD}`);
    expect(output).toContain(`[CustomResourceDefinition] ${LEDGER_CRD}`);
    const deleted = await deletions(mark);
    expect(deleted[0]).toBe('mutatingwebhookconfigurations/digest-pinner');
    expect(deleted.at(-1)).toBe('validatingadmissionpolicybindings/digest-pinner-strict');
    expect(deleted).not.toContain(`customresourcedefinitions/${CRD}`);
    expect(deleted).not.toContain(`customresourcedefinitions/${RECORDS_CRD}`);
    expect(deleted).not.toContain(`customresourcedefinitions/${LEDGER_CRD}`);
    expect(await remaining()).toEqual(KEPT);
    expect(await cluster.kubectlOk(['get', 'imagesets', '-o', 'name'])).toBe('imageset.digest-pinner.io/kept\n');
    await eventually('nothing to check Pods in the strict namespace', async () => (await admitPod('nginx:1.27')).ok);
  }, STEP_TIMEOUT_MS);
});

describe('Helm 3', () => {
  it('installs over the CRD Helm 4 kept, and upgrades (three-way merge) without touching a caBundle another field manager set', async () => {
    await helmOk(3, ['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE]);
    await eventually('the strict entry to be called', callsStrictEntry);
    expect(await upgradeAfterCaBundle(3)).toEqual(await expectedAfterUpgrade());
  }, STEP_TIMEOUT_MS);

  it('uninstalls the Service and the Deployment before the webhook configuration', async () => {
    const mark = await auditMark();
    await helmOk(3, ['uninstall', RELEASE, '--namespace', NAMESPACE]);
    const deleted = await deletions(mark);
    // docs/upgrade.md: between these deletions every call to the webhook fails (open: the strict policy still denies what is not pinned).
    const webhookConfiguration = indexOf(deleted, 'mutatingwebhookconfigurations/digest-pinner');
    expect(indexOf(deleted, 'services/digest-pinner')).toBeLessThan(webhookConfiguration);
    expect(indexOf(deleted, 'deployments/digest-pinner')).toBeLessThan(webhookConfiguration);
    expect(deleted.at(-1)).toBe('validatingadmissionpolicybindings/digest-pinner-strict');
    expect(await remaining()).toEqual(KEPT);
    expect(await cluster.kubectlOk(['get', 'imagesets', '-o', 'name'])).toBe('imageset.digest-pinner.io/kept\n');
  }, STEP_TIMEOUT_MS);

  it('with crds.keep=false, removes everything', async () => {
    await helmOk(3, ['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--set', 'crds.keep=false']);
    await eventually('the strict entry to be called', callsStrictEntry);
    const mark = await auditMark();
    await helmOk(3, ['uninstall', RELEASE, '--namespace', NAMESPACE]);
    expect(await deletions(mark)).toEqual(expect.arrayContaining([`customresourcedefinitions/${CRD}`, `customresourcedefinitions/${RECORDS_CRD}`, `customresourcedefinitions/${LEDGER_CRD}`]));
    expect(await remaining()).toEqual([]);
    await eventually('nothing to check Pods in the strict namespace', async () => (await admitPod('nginx:1.27')).ok);
  }, STEP_TIMEOUT_MS);
});

describe('objects of other projects', () => {
  const values = ['--set', 'certificates.source=cert-manager', '--set', 'metrics.serviceMonitor.enabled=true',
    '--set', 'metrics.prometheusRule.enabled=true', '--set', 'networkPolicy.enabled=true',
    '--set-json', 'networkPolicy.webhookFrom=[{"ipBlock":{"cidr":"10.0.0.0/24"}}]'];
  const installed = async (): Promise<string[]> => (await cluster.kubectlOk(['get', 'certificates,issuers,servicemonitors,prometheusrules,networkpolicies',
    '-n', NAMESPACE, '-o', 'name'])).split('\n').filter((line) => line !== '').sort();

  it('installs the Issuers, Certificates, ServiceMonitor, PrometheusRule and NetworkPolicy, valid by their schemas, and uninstalls them', async () => {
    await cluster.kubectlOk(['apply', '--server-side', '-f', otherCrdsDir]);
    await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', ...OTHER_CRDS.map((name) => `crd/${name}`)]);
    // Strict field validation: a field the CRD does not define fails here rather than being dropped.
    const manifest = await helmOk(4, ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...values]);
    const dryRun = await cluster.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], { stdin: manifest });
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stderr).toBe('');
    await helmOk(4, ['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, ...values]);
    expect(await installed()).toEqual([
      'certificate.cert-manager.io/digest-pinner-ca', 'certificate.cert-manager.io/digest-pinner-tls',
      'issuer.cert-manager.io/digest-pinner-ca', 'issuer.cert-manager.io/digest-pinner-selfsigned',
      'networkpolicy.networking.k8s.io/digest-pinner', 'prometheusrule.monitoring.coreos.com/digest-pinner',
      'servicemonitor.monitoring.coreos.com/digest-pinner',
    ]);
    await helmOk(4, ['uninstall', RELEASE, '--namespace', NAMESPACE]);
    expect(await installed()).toEqual([]);
  }, STEP_TIMEOUT_MS);
});
