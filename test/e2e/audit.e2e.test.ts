/**
 * `digest-pinner audit` against a real kube-apiserver and kube-controller-manager (no kubelet:
 * Pods stay Pending) and a real registry, with the webhook's pods-only install on the host and
 * `--cache-ttl 1ms`. What it must find is made the way it happens: a Deployment whose template
 * names a tag (pods-only leaves templates alone); Pods pinned before the tag was pushed again
 * (when it moved read from the ledger entry the webhook wrote when it saw the move);
 * a ReplicaSet split by a scale-up after that push with `--no-pin-records`; a PinRecord whose
 * digest was then deleted from the registry. A namespace of pinned workloads gives nothing.
 * PolicyReports are written once their CRDs (generate-crds.sh, controller-gen) are installed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { deploymentCaughtUp } from './deployments.js';
import { pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import { deploymentYaml, PODS_ONLY, podsOnlyServeArgs } from './rollouts.js';
import { applyManifests, eventually as poll, portOf, startHostWebhook } from './host-webhook.js';
import { run } from '../harness/exec.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { runCommand, type Run } from '../support/cli.js';
import { sarifSchemaErrors } from '../support/sarif.js';
import { testLog, type TestLog } from '../support/log.js';

const { plain } = inject('registries');
const GENERATE_CRDS = join(import.meta.dirname, 'generate-crds.sh');
/** An unpinned Deployment, Pods behind a moved tag, a split ReplicaSet. */
const FOUND = 'audit-found';
/** A record whose digest the registry no longer serves. */
const GONE = 'audit-gone';
/** Pinned workloads whose tag did not move. */
const CLEAN = 'audit-clean';
/** Where the webhook keeps cluster-wide ledger entries: its Lease's namespace, the one manifests/ installs into. */
const LEDGER_NAMESPACE = 'digest-pinner';

let cluster: Cluster;
let webhook: RunningServer | undefined;
let webhookPort = 0;
let webhookArgs: string[] = [];
let log: TestLog | undefined;
let logs = 0;
let reportCrdsDir = '';
const logText = (): string => log?.text() ?? '';

interface Item {
  metadata: { name: string; uid: string; ownerReferences?: { uid: string }[] };
  spec: { containers?: { image: string }[] };
}

interface JsonFinding {
  ruleId: string;
  kind: string;
  object: { apiVersion: string; kind: string; namespace: string; name: string; uid?: string };
  field: string;
  properties: Record<string, string>;
}

interface ReportObject {
  summary: { fail: number; pass: number };
  results?: { rule: string; result: string; resources: { kind: string; name: string; namespace: string }[] }[];
}

const eventually = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  poll(what, probe, { timeoutMs, context: () => logText().slice(-3000) });

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await cluster.kubectlOk([...args, '-o', 'json'])) as T;
}

async function podsOf(namespace: string, app: string, count: number): Promise<Item[]> {
  return eventually(`${count} pods of ${app} in ${namespace}`, async () => {
    const pods = (await getJson<{ items: Item[] }>(['get', 'pods', '-n', namespace, '-l', `app=${app}`])).items;
    return pods.length === count ? pods : undefined;
  });
}

async function deploy(namespace: string, name: string, image: string, replicas: number): Promise<Item[]> {
  await cluster.kubectlOk(['apply', '-f', '-'], { stdin: deploymentYaml(namespace, name, image, replicas) });
  await eventually(`deployment/${name} to catch up`, async () => ((await deploymentCaughtUp(cluster, namespace, name)) ? true : undefined));
  return podsOf(namespace, name, replicas);
}

const digestOf = (pod: Item): string | undefined => pod.spec.containers?.[0]?.image.split('@')[1];

async function startWebhook(extra: readonly string[] = []): Promise<void> {
  logs += 1;
  log = testLog(join(cluster.logDir, `audit-webhook-${logs}.log`));
  webhook = await startHostWebhook({ cluster, args: [...webhookArgs, ...extra], port: webhookPort, log, poll: { timeoutMs: 60_000, context: () => logText().slice(-3000) } });
  webhookPort = portOf(webhook);
}

/** `digest-pinner audit` in-process, as the cluster's admin, trusting the plain-HTTP registry. */
function audit(args: readonly string[]): Promise<Run> {
  return runCommand(['audit', '--kubeconfig', cluster.kubeconfigPath, '--insecure-registry', plain.host, ...args], { cwd: cluster.workDir });
}

function findingsOf(result: Run): JsonFinding[] {
  return JSON.parse(result.stdout) as JsonFinding[];
}

/** Deletes a manifest from the registry by digest (its storage has deletes enabled). */
async function deleteManifest(repository: string, digest: string): Promise<void> {
  const response = await fetch(`http://${plain.host}/v2/${repository}/manifests/${digest}`, { method: 'DELETE' });
  expect(response.status).toBe(202);
}

interface LedgerEntryItem {
  spec: { image: string; digest: string; history?: { digest: string; movedAt: string }[] };
}

let found: { first: string; second: string; pods: Item[]; movedAt: string };
let gone: { first: string; second: string; record: string; pod: string };

beforeAll(async () => {
  const [generated] = await Promise.all([run('bash', [GENERATE_CRDS], { timeoutMs: 600_000 }), (async () => (cluster = await startCluster()))()]);
  reportCrdsDir = join(generated.trim().split('\n').at(-1) ?? '', 'reports');
  webhookArgs = [
    ...(await podsOnlyServeArgs(cluster)),
    '--insecure-registry', plain.host,
    '--cache-ttl', '1ms',
    '--log-level', 'info',
  ];
  await startWebhook();
  await applyManifests(cluster, webhookPort, () => true, PODS_ONLY);
  for (const ns of [FOUND, GONE, CLEAN]) {
    await cluster.kubectlOk(['create', 'namespace', ns]);
    await cluster.kubectlOk(['label', 'namespace', ns, 'digest-pinner.io/mode=warn']);
    await eventually(`the default ServiceAccount of ${ns}`, async () => ((await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', ns])).code === 0 ? true : undefined));
  }

  // With PinRecords: a record of the first digest, which is then pushed over and deleted.
  const goneFirst = await pushImage(plain, 'audit/gone', 'v1');
  const [gonePod] = await deploy(GONE, 'gone', `${plain.host}/audit/gone:v1`, 1);
  expect(gonePod === undefined ? undefined : digestOf(gonePod)).toBe(goneFirst.digest);
  const record = await eventually('the record of deployment/gone', async () => (await getJson<{ items: Item[] }>(['get', 'pinrecords', '-n', GONE])).items[0]);
  const goneSecond = await pushImage(plain, 'audit/gone', 'v1');
  await deleteManifest('audit/gone', goneFirst.digest);
  gone = { first: goneFirst.digest, second: goneSecond.digest, record: record.metadata.name, pod: gonePod?.metadata.name ?? '' };

  // Without PinRecords: the Pods made after the push get the new digest.
  await webhook?.close();
  await startWebhook(['--no-pin-records']);
  const first = await pushImage(plain, 'audit/web', 'v1');
  await deploy(FOUND, 'web', `${plain.host}/audit/web:v1`, 2);
  const second = await pushImage(plain, 'audit/web', 'v1');
  await cluster.kubectlOk(['scale', 'deployment', 'web', '-n', FOUND, '--replicas', '4']);
  const pods = await podsOf(FOUND, 'web', 4);
  expect(pods.map(digestOf).sort()).toEqual([first.digest, first.digest, second.digest, second.digest].sort());
  // The webhook's ledger (on by default) saw the move: its cluster-wide entry, in the webhook's namespace, says when.
  const image = `${plain.host}/audit/web:v1`;
  const entry = await eventually('the ledger entry of audit/web:v1 to move', async () => {
    const items = (await getJson<{ items: LedgerEntryItem[] }>(['get', 'ledgerentries', '-n', LEDGER_NAMESPACE])).items;
    return items.find((item) => item.spec.image === image && item.spec.digest === second.digest);
  });
  expect(entry.spec.history?.map((item) => item.digest)).toEqual([first.digest]);
  found = { first: first.digest, second: second.digest, pods, movedAt: entry.spec.history?.[0]?.movedAt ?? '' };

  const clean = await pushImage(plain, 'audit/clean', 'v1');
  await deploy(CLEAN, 'clean', `${plain.host}/audit/clean:v1@${clean.digest}`, 2);
}, 600_000);

afterAll(async () => {
  await webhook?.close();
  await cluster.stop();
});

describe('digest-pinner audit', () => {
  it('finds the unpinned Deployment, the Pods behind the moved tag and the split ReplicaSet, and exits 1', async () => {
    const result = await audit(['--namespace', FOUND, '--output', 'json']);
    expect(result.code).toBe(1);
    const findings = findingsOf(result);
    const set = (await getJson<{ items: Item[] }>(['get', 'replicasets', '-n', FOUND, '-l', 'app=web'])).items[0];
    const behind = found.pods.filter((pod) => digestOf(pod) === found.first).map((pod) => pod.metadata.name).sort();

    expect(findings.filter((finding) => finding.ruleId === 'DP001').map((finding) => finding.object)).toEqual([
      expect.objectContaining({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: FOUND, name: 'web' }),
    ]);
    const moved = findings.filter((finding) => finding.ruleId === 'DP003');
    expect(moved.map((finding) => `${finding.object.kind}/${finding.object.name}`).sort()).toEqual(behind.map((name) => `Pod/${name}`));
    // When it moved comes from the webhook's cluster-wide ledger entry, read beside the tenant's namespace.
    for (const finding of moved) expect(finding.properties).toEqual({ tag: `${plain.host}/audit/web:v1`, pinned: found.first, current: found.second, movedAt: found.movedAt });
    const split = findings.filter((finding) => finding.ruleId === 'DP004');
    expect(split).toHaveLength(1);
    expect(split[0]).toMatchObject({ object: { kind: 'ReplicaSet', name: set?.metadata.name, uid: set?.metadata.uid }, field: 'containers/app' });
    expect(split[0]?.properties['digests']).toContain(`${found.first} (2 Pods`);
    expect(split[0]?.properties['digests']).toContain(`${found.second} (2 Pods`);
    expect(findings).toHaveLength(1 + behind.length + 1);
    expect(result.stderr).toBe('');
  });

  it('reads the cluster-wide ledger entries from --ledger-namespace: elsewhere, when the tag moved is not known', async () => {
    const result = await audit(['--namespace', FOUND, '--ledger-namespace', CLEAN, '--output', 'json']);
    expect(result.code).toBe(1);
    const moved = findingsOf(result).filter((finding) => finding.ruleId === 'DP003');
    expect(moved).not.toEqual([]);
    for (const finding of moved) expect(finding.properties['movedAt']).toBeUndefined();
  });

  it('finds a PinRecord whose digest the registry no longer serves', async () => {
    const result = await audit(['--namespace', GONE, '--output', 'json']);
    expect(result.code).toBe(1);
    const findings = findingsOf(result);
    expect(findings.map((finding) => `${finding.ruleId} ${finding.object.kind}/${finding.object.name}`).sort()).toEqual(
      ['DP001 Deployment/gone', `DP003 Pod/${gone.pod}`, `DP005 PinRecord/${gone.record}`].sort(),
    );
    expect(findings.find((finding) => finding.ruleId === 'DP005')?.properties).toMatchObject({ digest: gone.first });
  });

  it('audits every namespace in turn without --namespace, finding in each what an audit of it alone finds', async () => {
    const all = await audit(['--output', 'json']);
    expect(all.code).toBe(1);
    for (const namespace of [FOUND, GONE, CLEAN]) {
      const alone = findingsOf(await audit(['--namespace', namespace, '--output', 'json']));
      expect(findingsOf(all).filter((finding) => finding.object.namespace === namespace)).toEqual(alone);
    }
  });

  it('finds nothing in a namespace of pinned workloads whose tag did not move, and exits 0', async () => {
    expect(await audit(['--namespace', CLEAN, '--output', 'json'])).toMatchObject({ code: 0, stdout: '[]\n', stderr: '' });
    expect(await audit(['--namespace', CLEAN])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });

  it('writes SARIF that validates against the SARIF 2.1.0 schema', async () => {
    const result = await audit(['--namespace', FOUND, '--output', 'sarif']);
    expect(result.code).toBe(1);
    const sarif = JSON.parse(result.stdout) as { runs: { results: { ruleId: string }[] }[] };
    expect(sarifSchemaErrors(sarif)).toEqual([]);
    expect(new Set(sarif.runs[0]?.results.map((entry) => entry.ruleId))).toEqual(new Set(['DP001', 'DP003', 'DP004']));
  });

  it('exits 2 with a clear message when the cluster cannot be read', async () => {
    const result = await runCommand(['audit', '--kubeconfig', join(cluster.workDir, 'missing.kubeconfig')], { cwd: cluster.workDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^digest-pinner: audit failed: kubeconfig .*missing\.kubeconfig cannot be used: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('audit --policy-reports', () => {
  it('says which report CRDs are not installed, and skips them', async () => {
    const result = await audit(['--namespace', CLEAN, '--policy-reports']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      'digest-pinner: PolicyReport (wgpolicyk8s.io/v1alpha2) not written: its CRD policyreports.wgpolicyk8s.io is not installed\n' +
        'digest-pinner: Report (openreports.io/v1alpha1) not written: its CRD reports.openreports.io is not installed\n',
    );
  });

  it('writes a PolicyReport and a Report per namespace, each result naming the object, where the CRDs are installed', async () => {
    await cluster.kubectlOk(['apply', '--server-side', '-f', reportCrdsDir]);
    await cluster.kubectlOk(['wait', '--for', 'condition=established', '--timeout', '60s', 'crd/policyreports.wgpolicyk8s.io', 'crd/reports.openreports.io']);
    const result = await audit(['--namespace', FOUND, '--policy-reports', '--output', 'json']);
    expect(result.code).toBe(1);
    const count = findingsOf(result).length;
    expect(await audit(['--namespace', CLEAN, '--policy-reports'])).toMatchObject({ code: 0 });
    for (const resource of ['policyreports.wgpolicyk8s.io', 'reports.openreports.io']) {
      const report = await getJson<ReportObject>(['get', resource, 'digest-pinner-audit', '-n', FOUND]);
      expect(report.summary).toMatchObject({ fail: count, pass: 0 });
      expect(report.results).toHaveLength(count);
      expect(report.results).toContainEqual(expect.objectContaining({ rule: 'image-not-pinned', result: 'fail', resources: [expect.objectContaining({ kind: 'Deployment', name: 'web', namespace: FOUND })] }));
      expect(report.results).toContainEqual(expect.objectContaining({ rule: 'revision-split', resources: [expect.objectContaining({ kind: 'ReplicaSet', namespace: FOUND })] }));
      const clean = await getJson<ReportObject>(['get', resource, 'digest-pinner-audit', '-n', CLEAN]);
      expect(clean.summary).toMatchObject({ fail: 0 });
      expect(clean.results ?? []).toEqual([]);
    }
    // A second run replaces the report rather than failing on the name.
    expect((await audit(['--namespace', FOUND, '--policy-reports'])).code).toBe(1);
  });
});
