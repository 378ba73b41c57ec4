/**
 * One digest per rollout (docs/rollouts.md) against a real kube-apiserver and
 * kube-controller-manager (the ReplicaSet, Deployment, Job and garbage-collector controllers
 * run; no kubelet, so Pods stay Pending). The pods-only install (Deployment templates are not
 * pinned), `--cache-ttl 1ms` (shorter than any gap between a push and a scale-up): a
 * Deployment's Pods keep the digest of its first Pod after the tag is pushed again, where the
 * same steps with `--no-pin-records` give mixed digests; a rollout restart pins the new digest;
 * the record is owned by the ReplicaSet (or Job) and collected with it; a dry run writes none.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { pushImage, registryDigest } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import { applyManifests, portOf, startHostWebhook } from './host-webhook.js';
import { deploymentYaml, digests, PODS_ONLY, podsOnlyServeArgs, pushAndScale, rolloutReads, type Item, type PushedAndScaled } from './rollouts.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { KubeConfig } from '@kubernetes/client-node';
import { RecordStore, recordBytes } from '../../src/rollout/record-store.js';
import { parseRecord, recordObject } from '../../src/rollout/record.js';
import { pinKey, type Revision } from '../../src/rollout/types.js';
import type { KubeLogger } from '../../src/kube/informers.js';
import { deadlineOf } from '../support/deadline.js';
import { testLog, type TestLog } from '../support/log.js';

const registries = inject('registries');
const { plain } = registries;
const RECORDS = 'rollout-records';
const NO_RECORDS = 'rollout-off';
/** Not opted in until its workload runs: a revision with running Pods and no record. */
const LATE = 'rollout-late';
/** Sorts after the other namespaces, so a list of every record ends with its records. */
const SMALL_INDEX = 'rollout-small-index';

let cluster: Cluster;
let webhook: RunningServer | undefined;
let webhookPort = 0;
let webhookArgs: string[] = [];
let log: TestLog | undefined;
let logs = 0;
const logText = (): string => log?.text() ?? '';

const reads = rolloutReads({ kubectlOk: (args, options) => cluster.kubectlOk(args, options) }, () => logText().slice(-3000));
const { getJson, eventually, podsOf, replicaSets, records } = reads;

function jobYaml(namespace: string, name: string, image: string, parallelism: number): string {
  return stringify({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace },
    spec: { parallelism, completions: parallelism, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'app', image }] } } },
  });
}

async function startWebhook(extra: readonly string[] = []): Promise<void> {
  logs += 1;
  log = testLog(join(cluster.logDir, `rollout-webhook-${logs}.log`));
  webhook = await startHostWebhook({ cluster, args: [...webhookArgs, ...extra], port: webhookPort, log, poll: { timeoutMs: 60_000, context: () => logText().slice(-3000) } });
  webhookPort = portOf(webhook);
}

async function stopWebhook(): Promise<void> {
  await webhook?.close();
  webhook = undefined;
}

const deployPushScale = (namespace: string, repository: string): Promise<PushedAndScaled> => pushAndScale(reads, plain, { namespace, repository });

beforeAll(async () => {
  cluster = await startCluster();
  // RBAC, the ServiceAccount and the PinRecord CRD from the pods-only install; its webhook configuration once serving.
  webhookArgs = [
    ...(await podsOnlyServeArgs(cluster)),
    '--insecure-registry', plain.host,
    '--cache-ttl', '1ms',
    '--log-level', 'info',
  ];
  await startWebhook();
  await applyManifests(cluster, webhookPort, () => true, PODS_ONLY);
  for (const ns of [RECORDS, NO_RECORDS]) {
    await cluster.kubectlOk(['create', 'namespace', ns]);
    await cluster.kubectlOk(['label', 'namespace', ns, 'digest-pinner.io/mode=warn']);
  }
  await cluster.kubectlOk(['create', 'namespace', LATE]);
  for (const ns of [RECORDS, NO_RECORDS, LATE]) {
    await eventually(`the default ServiceAccount of ${ns}`, async () => ((await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', ns])).code === 0 ? true : undefined));
  }
}, 240_000);

afterAll(async () => {
  await stopWebhook();
  await cluster.stop();
});

describe('with PinRecords', () => {
  it('keeps every Pod of a ReplicaSet on its first digest after the tag is pushed again, in a record owned by the ReplicaSet', async () => {
    const { first, second, pods } = await deployPushScale(RECORDS, 'rollout/web');
    expect(digests(pods)).toEqual(Array.from({ length: 6 }, () => first));
    expect(second).not.toBe(first);
    const [set] = await replicaSets(RECORDS, 'web');
    const [record] = await records(RECORDS);
    expect(record?.metadata.name).toBe(`replicaset.${set?.metadata.name ?? ''}`);
    expect(record?.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: set?.metadata.name, uid: set?.metadata.uid, blockOwnerDeletion: false }]);
    expect(record?.spec.revision).toMatchObject({ kind: 'ReplicaSet', uid: set?.metadata.uid });
    expect(record?.spec.pins).toMatchObject([{ field: 'containers/app', image: `${plain.host}/rollout/web:v1`, digest: first, source: 'registry' }]);
    // The webhook confirms the pin once it sees a stored Pod carrying it.
    await eventually('the pin to be confirmed', async () => ((await records(RECORDS))[0]?.spec.pins[0]?.confirmedAt !== undefined ? true : undefined));
  });

  it('pins the new digest for every Pod of a restarted rollout, in a new record', async () => {
    const [old] = await replicaSets(RECORDS, 'web');
    await cluster.kubectlOk(['rollout', 'restart', 'deployment/web', '-n', RECORDS]);
    const fresh = await eventually('a second ReplicaSet', async () => {
      const sets = await replicaSets(RECORDS, 'web');
      return sets.length === 2 ? sets.find((set) => set.metadata.uid !== old?.metadata.uid) : undefined;
    });
    const pods = await podsOf(RECORDS, 'app=web', 6, fresh.metadata.uid);
    const now = await registryDigest(plain, 'rollout/web', 'v1');
    expect(digests(pods)).toEqual(Array.from({ length: 6 }, () => now));
    const names = (await records(RECORDS)).map((record) => record.metadata.name).sort();
    expect(names).toEqual([`replicaset.${fresh.metadata.name}`, `replicaset.${old?.metadata.name ?? ''}`].sort());
  });

  it('lets the garbage collector remove a record with its ReplicaSet', async () => {
    await cluster.kubectlOk(['delete', 'deployment', 'web', '-n', RECORDS, '--cascade=background']);
    await eventually('the records to be collected', async () => ((await records(RECORDS)).length === 0 ? true : undefined));
  });

  it('gives every Pod of a Job the same digest, in a record owned by the Job', async () => {
    const pushed = await pushImage(plain, 'rollout/job', 'v1');
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: jobYaml(RECORDS, 'batch', `${plain.host}/rollout/job:v1`, 3) });
    const job = await getJson<Item>(['get', 'job', 'batch', '-n', RECORDS]);
    const pods = await podsOf(RECORDS, `batch.kubernetes.io/controller-uid=${job.metadata.uid}`, 3);
    expect(digests(pods)).toEqual([pushed.digest, pushed.digest, pushed.digest]);
    const record = (await records(RECORDS)).find((item) => item.metadata.name === 'job.batch');
    expect(record?.metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: 'batch', uid: job.metadata.uid, blockOwnerDeletion: false }]);
    expect(record?.spec.pins.map((pin) => pin.digest)).toEqual([pushed.digest]);
  });

  it('gives every Pod of a StatefulSet revision the same digest, in a record owned by its ControllerRevision', async () => {
    const pushed = await pushImage(plain, 'rollout/db', 'v1');
    const labels = { app: 'db' };
    await cluster.kubectlOk(['apply', '-f', '-'], {
      stdin: stringify({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: RECORDS },
        // Parallel: Pods never become ready without a kubelet, and OrderedReady would wait for each.
        spec: { replicas: 3, serviceName: 'db', podManagementPolicy: 'Parallel', selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: `${plain.host}/rollout/db:v1` }] } } },
      }),
    });
    const pods = await podsOf(RECORDS, 'app=db', 3);
    expect(digests(pods)).toEqual([pushed.digest, pushed.digest, pushed.digest]);
    const hash = pods[0]?.metadata.labels?.['controller-revision-hash'] ?? '';
    const revision = await getJson<Item>(['get', 'controllerrevision', hash, '-n', RECORDS]);
    const record = (await records(RECORDS)).find((item) => item.metadata.name === `controllerrevision.${hash}`);
    expect(record?.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ControllerRevision', name: hash, uid: revision.metadata.uid, blockOwnerDeletion: false }]);
    expect(record?.spec.revision).toMatchObject({ kind: 'StatefulSet', name: 'db', hash });
    expect(record?.spec.pins.map((pin) => pin.digest)).toEqual([pushed.digest]);
  });

  it('adopts the digest a revision\'s running Pods agree on when it has no record (a namespace opted in late)', async () => {
    const first = await pushImage(plain, 'rollout/late', 'v1');
    const image = `${plain.host}/rollout/late:v1`;
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: deploymentYaml(LATE, 'late', image, 2) });
    const running = await podsOf(LATE, 'app=late', 2);
    expect(digests(running)).toEqual([undefined, undefined]);
    // The kubelet's part: the runtime pulled the tag's digest then.
    for (const pod of running) {
      const status = { containerStatuses: [{ name: 'app', image, imageID: `${plain.host}/rollout/late@${first.digest}`, ready: true, restartCount: 0, state: { running: { startedAt: '2030-01-01T00:00:00Z' } } }] };
      await cluster.kubectlOk(['patch', 'pod', pod.metadata.name, '-n', LATE, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
    }
    await cluster.kubectlOk(['label', 'namespace', LATE, 'digest-pinner.io/mode=warn']);
    // kube-apiserver calls the webhook for the namespace once it has seen the label.
    const probe = stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: LATE }, spec: { containers: [{ name: 'app', image }] } });
    await eventually('the webhook to admit Pods of the namespace', async () => {
      const out = await cluster.kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { stdin: probe });
      return (JSON.parse(out) as Item).spec.containers?.[0]?.image.includes('@') === true ? true : undefined;
    });
    const second = await pushImage(plain, 'rollout/late', 'v1');
    expect(second.digest).not.toBe(first.digest);
    const [set] = await replicaSets(LATE, 'late');
    await cluster.kubectlOk(['scale', 'deployment', 'late', '-n', LATE, '--replicas', '3']);
    const pods = await podsOf(LATE, 'app=late', 3, set?.metadata.uid);
    expect(digests(pods).filter((digest) => digest !== undefined)).toEqual([first.digest]);
    const [record] = await records(LATE);
    expect(record?.metadata.name).toBe(`replicaset.${set?.metadata.name ?? ''}`);
    expect(record?.spec.pins).toMatchObject([{ field: 'containers/app', image, digest: first.digest, source: 'siblings' }]);
    expect(record?.spec.pins[0]?.confirmedAt).toBeDefined();
  });

  it('writes no record for a dry run', async () => {
    const before = (await records(RECORDS)).map((record) => record.metadata.name);
    const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'dry-rs', uid: '00000000-0000-4000-8000-000000000001', controller: true };
    const pod = stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'dry', namespace: RECORDS, labels: { 'pod-template-hash': 'dry' }, ownerReferences: [owner] },
      spec: { containers: [{ name: 'app', image: `${plain.host}/rollout/job:v1` }] },
    });
    const out = await cluster.kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { stdin: pod });
    expect((JSON.parse(out) as Item).spec.containers?.[0]?.image).toContain('@sha256:');
    expect((await records(RECORDS)).map((record) => record.metadata.name)).toEqual(before);
  });
});

describe('with --no-pin-records', () => {
  it('gives the Pods of one ReplicaSet mixed digests once the tag is pushed again', async () => {
    await stopWebhook();
    await startWebhook(['--no-pin-records']);
    const { first, second, pods } = await deployPushScale(NO_RECORDS, 'rollout/off');
    // Pods are created in no set order: count them.
    const counts = new Map<string | undefined, number>();
    for (const digest of digests(pods)) counts.set(digest, (counts.get(digest) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ [first]: 3, [second]: 3 });
    expect(await records(NO_RECORDS)).toEqual([]);
  });
});

describe('with a record index too small for every record', () => {
  /** A ReplicaSet with no Pods (it owns a record the garbage collector must leave), as a Revision. */
  async function revisionOf(name: string): Promise<Revision> {
    const labels = { app: name };
    const set = stringify({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, namespace: SMALL_INDEX },
      spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'unused:v1' }] } } },
    });
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: set });
    const { metadata } = await getJson<Item>(['get', 'replicaset', name, '-n', SMALL_INDEX]);
    return { namespace: SMALL_INDEX, kind: 'ReplicaSet', name, uid: metadata.uid, hash: undefined };
  }

  const podOf = (revision: Revision, image: string): unknown => ({
    metadata: { name: `${revision.name}-pod`, namespace: SMALL_INDEX, labels: { app: revision.name }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: revision.name, uid: revision.uid, controller: true }] },
    spec: { containers: [{ name: 'app', image }] },
  });

  it('puts a revision\'s record read after a failed create back into the index, so its later Pods read it there', async () => {
    await cluster.kubectlOk(['create', 'namespace', SMALL_INDEX]);
    const pushed = await pushImage(plain, 'rollout/index', 'v1');
    const image = `${plain.host}/rollout/index:v1`;
    const field = 'containers/app';
    // Two revisions with a confirmed record each, as another replica wrote them.
    const written = [];
    for (const name of ['index-a', 'index-b']) {
      const revision = await revisionOf(name);
      const now = Date.now();
      const object = recordObject(revision, revision.uid, [{ field, image, digest: pushed.digest, source: 'registry', pinnedAt: now, confirmedAt: now }]);
      const stored = parseRecord(JSON.parse(await cluster.kubectlOk(['create', '-o', 'json', '-f', '-'], { stdin: JSON.stringify(object) })));
      if (stored === undefined) throw new Error(`record of ${name} not read back`);
      written.push({ revision, bytes: recordBytes(stored) });
    }
    const [a, b] = written;
    if (a === undefined || b === undefined) throw new Error('two records expected');
    // Room for one record: the list (by namespace, then name) ends with b's, which pushes a's out.
    const maxBytes = Math.floor(1.5 * Math.max(a.bytes, b.bytes));
    const operations: string[] = [];
    const lines: string[] = [];
    const log: KubeLogger = { info: (_object, message) => lines.push(message), warn: (_object, message) => lines.push(message), error: (_object, message) => lines.push(message) };
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfigPath);
    const store = new RecordStore({ kubeConfig, log, maxBytes, onOperation: (operation, count) => operations.push(`${operation} ${count}`) });
    try {
      await store.start();
      expect(store.synced()).toBe(true);
      expect(store.size).toBe(1);
      const deadline = (): ReturnType<typeof deadlineOf> => deadlineOf(AbortSignal.timeout(30_000));
      const pod = { object: podOf(a.revision, image), namespace: SMALL_INDEX, dryRun: false };
      const dropped = await store.open(pod, deadline());
      if (dropped === undefined) throw new Error(`no session for ${a.revision.name}: ${lines.join('; ')}`);
      expect(dropped.recorded(field, image)).toBeUndefined();
      // The admission resolved the image afresh; its create meets the record (409), which is read and wins.
      const settled = await dropped.settle([{ field, image, digest: pushed.digest, source: 'registry' }], AbortSignal.timeout(30_000));
      expect(settled).toEqual({ winners: new Map([[pinKey(field, image), pushed.digest]]), notes: [] });
      expect(operations).toEqual(['conflict 1']);
      // The next Pod of the revision finds the record in the index: adopted, nothing written.
      const later = await store.open(pod, deadline());
      expect(later?.recorded(field, image)).toEqual({ digest: pushed.digest, source: 'record' });
      expect(await later?.settle([], AbortSignal.timeout(30_000))).toEqual({ winners: new Map(), notes: [] });
      expect(operations).toEqual(['conflict 1', 'adopted 1']);
      // Still bounded: a's record took b's place.
      expect(store.size).toBe(1);
      expect(store.bytes).toBeLessThanOrEqual(maxBytes);
    } finally {
      await store.stop();
    }
  });
});
