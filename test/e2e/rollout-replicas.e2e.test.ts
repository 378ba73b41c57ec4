/**
 * One digest per rollout with two webhook processes (docs/rollouts.md), against a real
 * kube-apiserver and kube-controller-manager (no kubelet: Pods stay Pending). The processes
 * sit behind Debian's haproxy, which balances each request (kube-apiserver keeps its
 * connection alive), with `--cache-ttl 1ms`, shorter than any gap between a push and a
 * scale-up:
 *
 * - a Deployment's Pods keep their first digest after the tag is pushed again, whichever
 *   process admits them, and with one process restarted in between;
 * - a DaemonSet over Node objects created through the API: one digest, the record owned by
 *   its ControllerRevision;
 * - a first Pod rejected by a ValidatingAdmissionPolicy after the webhook: its pin is never
 *   confirmed, and once the grace (`--pin-grace`) has passed a later Pod resolves afresh;
 * - two processes admitting the first Pods of one revision at once, one of them primed with
 *   the old digest: one record create wins, the other process adopts it, both answer alike.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { startHaproxy, type RunningHaproxy } from './haproxy.js';
import { applyManifests, portOf, startHostWebhook } from './host-webhook.js';
import { deploymentYaml, digests, PODS_ONLY, podsOnlyServeArgs, pushAndScale, rolloutReads, type Item } from './rollouts.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import { loadAdmissionReview } from '../fixtures/admission/load.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { testLog, type TestLog } from '../support/log.js';

const registries = inject('registries');
const { plain } = registries;
const REPLICAS = 'replicas';
const DAEMONS = 'replicas-daemons';
const REJECTED = 'replicas-rejected';
const RACE = 'replicas-race';
/** Shorter than the writer's first look at the revision's Pods, so a pin no Pod carries is removed then. */
const PIN_GRACE = '1s';

/** One webhook process: it keeps its port across restarts (haproxy names it), each run logging to its own file. */
interface Replica {
  readonly name: string;
  port: number;
  server: RunningServer | undefined;
  log: TestLog | undefined;
  runs: number;
}

let cluster: Cluster;
let haproxy: RunningHaproxy | undefined;
let gate: FaultProxy | undefined;
let caFile = '';
let baseArgs: string[] = [];
const replicas: Replica[] = ['a', 'b'].map((name) => ({ name, port: 0, server: undefined, log: undefined, runs: 0 }));
const [replicaA, replicaB] = replicas as [Replica, Replica];

const logTails = (): string => replicas.map((replica) => `--- ${replica.name}:\n${replica.log?.text().slice(-2000) ?? ''}`).join('\n');
const reads = rolloutReads({ kubectlOk: (args, options) => cluster.kubectlOk(args, options) }, logTails);
const { getJson, eventually, podsOf, records } = reads;

async function start(replica: Replica, extra: readonly string[] = []): Promise<void> {
  replica.runs += 1;
  replica.log = testLog(join(cluster.logDir, `replicas-webhook-${replica.name}-${replica.runs}.log`));
  replica.server = await startHostWebhook({ cluster, args: [...baseArgs, ...extra], port: replica.port, log: replica.log, poll: { timeoutMs: 60_000, context: logTails } });
  replica.port = portOf(replica.server);
}

async function stop(replica: Replica): Promise<void> {
  await replica.server?.close();
  replica.server = undefined;
}

async function restart(replica: Replica, extra: readonly string[] = []): Promise<void> {
  await stop(replica);
  await start(replica, extra);
}

/** How many Pod admissions this run of the process logged for the record `record`. */
function admissionsFor(replica: Replica, record: string): number {
  return (replica.log?.lines() ?? []).filter((line) => line['msg'] === 'admission' && line['kind'] === 'Pod' && line['record'] === record).length;
}

async function labelledNamespace(name: string): Promise<void> {
  await cluster.kubectlOk(['create', 'namespace', name]);
  await cluster.kubectlOk(['label', 'namespace', name, 'digest-pinner.io/mode=warn']);
  await eventually(`the default ServiceAccount of ${name}`, async () => ((await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', name])).code === 0 ? true : undefined));
}

beforeAll(async () => {
  cluster = await startCluster();
  caFile = cluster.caFile;
  // RBAC, the ServiceAccount and the PinRecord CRD from the pods-only install; its webhook configuration once haproxy serves.
  const serveArgs = await podsOnlyServeArgs(cluster);
  // The race's registry: the plain registry behind a proxy that can hold manifest requests until both processes have sent theirs.
  gate = await startFaultProxy({ upstream: plain.host });
  baseArgs = [
    ...serveArgs,
    '--insecure-registry', plain.host,
    '--insecure-registry', gate.host,
    '--pin-grace', PIN_GRACE,
    '--log-level', 'info',
  ];
  for (const replica of replicas) await start(replica, ['--cache-ttl', '1ms']);
  haproxy = await startHaproxy(cluster, replicas.map((replica) => replica.port));
  await applyManifests(cluster, haproxy.port, () => true, PODS_ONLY);
  for (const ns of [REPLICAS, DAEMONS, REJECTED, RACE]) await labelledNamespace(ns);
}, 240_000);

afterAll(async () => {
  for (const replica of replicas) await stop(replica);
  await haproxy?.stop();
  await gate?.close();
  await cluster.stop();
});

describe('two webhook processes behind a proxy that balances each request', () => {
  it('keeps every Pod of a ReplicaSet on its first digest after the tag is pushed again, both processes admitting its Pods', async () => {
    const { first, pods, replicaSet } = await pushAndScale(reads, plain, { namespace: REPLICAS, repository: 'replicas/web' });
    expect(digests(pods)).toEqual(Array.from({ length: 6 }, () => first));
    const record = `replicaset.${replicaSet.metadata.name}`;
    const counts = replicas.map((replica) => admissionsFor(replica, record));
    expect(counts.every((count) => count > 0), `admissions of ${record} per process: ${counts.join(', ')}`).toBe(true);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(6);
  });

  it('does so with one process restarted between the push and the scale-up', async () => {
    const { first, pods, replicaSet } = await pushAndScale(reads, plain, {
      namespace: REPLICAS,
      repository: 'replicas/api',
      name: 'api',
      beforeScale: () => restart(replicaB, ['--cache-ttl', '1ms']),
    });
    expect(digests(pods)).toEqual(Array.from({ length: 6 }, () => first));
    // Round robin over the scale-up's 3 Pods: the restarted process, reading records from its fresh watch, admits at least one.
    expect(admissionsFor(replicaB, `replicaset.${replicaSet.metadata.name}`)).toBeGreaterThan(0);
  });
});

describe('a DaemonSet over Node objects created through the API', () => {
  const nodeYaml = (name: string): string => stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'replicas-e2e': 'true' } } });

  it('gives its Pods one digest, in a record owned by its ControllerRevision, and a Pod of a Node added after a push the same', async () => {
    for (const node of ['node-a', 'node-b']) await cluster.kubectlOk(['apply', '-f', '-'], { stdin: nodeYaml(node) });
    const first = await pushImage(plain, 'replicas/agent', 'v1');
    const labels = { app: 'agent' };
    await cluster.kubectlOk(['apply', '-f', '-'], {
      stdin: stringify({
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace: DAEMONS },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            // Nodes without a kubelet are tainted not-ready and unreachable: the agent runs there anyway.
            spec: { nodeSelector: { 'replicas-e2e': 'true' }, tolerations: [{ operator: 'Exists' }], containers: [{ name: 'app', image: `${plain.host}/replicas/agent:v1` }] },
          },
        },
      }),
    });
    const pods = await podsOf(DAEMONS, 'app=agent', 2);
    expect(digests(pods)).toEqual([first.digest, first.digest]);
    const hash = pods[0]?.metadata.labels?.['controller-revision-hash'] ?? '';
    const owner = `agent-${hash}`;
    const revision = await getJson<Item>(['get', 'controllerrevision', owner, '-n', DAEMONS]);
    const daemonSet = await getJson<Item>(['get', 'daemonset', 'agent', '-n', DAEMONS]);
    const [record] = await records(DAEMONS);
    expect(record?.metadata.name).toBe(`controllerrevision.${owner}`);
    expect(record?.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ControllerRevision', name: owner, uid: revision.metadata.uid, blockOwnerDeletion: false }]);
    expect(record?.spec.revision).toEqual({ kind: 'DaemonSet', name: 'agent', uid: daemonSet.metadata.uid, hash });
    expect(record?.spec.pins).toMatchObject([{ field: 'containers/app', image: `${plain.host}/replicas/agent:v1`, digest: first.digest, source: 'registry' }]);

    const second = await pushImage(plain, 'replicas/agent', 'v1');
    expect(second.digest).not.toBe(first.digest);
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: nodeYaml('node-c') });
    const all = await podsOf(DAEMONS, 'app=agent', 3);
    expect(digests(all)).toEqual([first.digest, first.digest, first.digest]);
  });
});

describe('a first Pod rejected by a policy after the webhook', () => {
  it('leaves its pin unconfirmed, and a Pod after the grace resolves afresh', async () => {
    const bad = await pushImage(plain, 'replicas/app', 'v1');
    const image = `${plain.host}/replicas/app:v1`;
    // A policy that refuses a digest known to be bad: it sees the Pod as the webhook pinned it.
    const message = `digest ${bad.digest} is known to be bad`;
    await cluster.kubectlOk(['apply', '-f', '-'], {
      stdin: [
        stringify({
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicy',
          metadata: { name: 'replicas-known-bad' },
          spec: {
            failurePolicy: 'Fail',
            matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
            validations: [{ expression: `!object.spec.containers.exists(c, c.image.endsWith('@${bad.digest}'))`, message }],
          },
        }),
        stringify({
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicyBinding',
          metadata: { name: 'replicas-known-bad' },
          spec: { policyName: 'replicas-known-bad', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': REJECTED } } } },
        }),
      ].join('---\n'),
    });
    // kube-apiserver enforces a policy once its informer has it: probe with a Pod pinned to the bad digest.
    const probe = stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace: REJECTED }, spec: { containers: [{ name: 'app', image: `${plain.host}/replicas/app@${bad.digest}` }] } });
    await eventually('the policy to deny the bad digest', async () => {
      const result = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { stdin: probe });
      return result.code !== 0 && result.stderr.includes(message) ? true : undefined;
    });

    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: deploymentYaml(REJECTED, 'app', image, 1) });
    const replicaSet = await eventually('the ReplicaSet of deployment/app', async () => (await getJson<{ items: Item[] }>(['get', 'replicasets', '-n', REJECTED, '-l', 'app=app'])).items[0]);
    const name = `replicaset.${replicaSet.metadata.name}`;
    // The ReplicaSet controller's Pod was pinned to the bad digest, recorded, then denied.
    await eventually('the ReplicaSet controller to report the denial', async () => {
      const status = await getJson<{ status: { conditions?: { type: string; message?: string }[] } }>(['get', 'replicaset', replicaSet.metadata.name, '-n', REJECTED]);
      return status.status.conditions?.some((condition) => condition.type === 'ReplicaFailure' && condition.message?.includes(message) === true) === true ? true : undefined;
    });
    const provisional = await eventually('the record of the denied Pod', async () => (await records(REJECTED)).find((record) => record.metadata.name === name));
    expect(provisional.spec.pins).toHaveLength(1);
    expect(provisional.spec.pins[0]).toMatchObject({ field: 'containers/app', image, digest: bad.digest, source: 'registry' });
    // No Pod ever carried it, so no process can have confirmed it.
    expect(provisional.spec.pins[0]?.confirmedAt).toBeUndefined();
    expect(await podsOf(REJECTED, 'app=app', 0)).toEqual([]);

    const fixed = await pushImage(plain, 'replicas/app', 'v1');
    expect(fixed.digest).not.toBe(bad.digest);
    // A change to the ReplicaSet makes its controller try again now rather than after its back-off.
    await cluster.kubectlOk(['scale', 'deployment', 'app', '-n', REJECTED, '--replicas', '2']);
    const pods = await podsOf(REJECTED, 'app=app', 2, replicaSet.metadata.uid);
    expect(digests(pods)).toEqual([fixed.digest, fixed.digest]);
    const confirmed = await eventually('the fresh pin to be confirmed', async () => {
      const record = (await records(REJECTED)).find((item) => item.metadata.name === name);
      return record?.spec.pins.every((pin) => pin.confirmedAt !== undefined) === true ? record : undefined;
    });
    expect(confirmed.spec.pins).toMatchObject([{ field: 'containers/app', image, digest: fixed.digest }]);
  }, 300_000);
});

describe('two processes admitting the first Pods of one revision at once', () => {
  const repository = 'replicas/race';

  /** A Pod review as kube-apiserver sends it, for a Pod of `owner` (a ReplicaSet) or a bare Pod. */
  function podReview(uid: string, owner: Item | undefined): unknown {
    const review = loadAdmissionReview('pod-from-replicaset', gate?.host ?? '');
    const object = review.request.object as { metadata: Record<string, unknown>; spec: { containers: { image: string }[] } };
    object.metadata['namespace'] = RACE;
    object.metadata['labels'] = { app: 'race' };
    object.metadata['ownerReferences'] = owner === undefined ? [] : [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }];
    const [app] = object.spec.containers;
    if (app !== undefined) app.image = `${gate?.host ?? ''}/${repository}:v1`;
    return { ...review, request: { ...review.request, uid, namespace: RACE, object } };
  }

  /** Sends a review straight to a process (not through kube-apiserver); the image its answer pins the `app` container to. */
  async function admit(replica: Replica, review: unknown): Promise<string | undefined> {
    const dispatcher = new Agent({ connect: { ca: await readFile(caFile, 'utf8') } });
    try {
      const response = await request(`${replica.server?.url ?? ''}/mutate`, { method: 'POST', body: JSON.stringify(review), headers: { 'content-type': 'application/json' }, dispatcher });
      const body = (await response.body.json()) as { response: { allowed: boolean; patch?: string } };
      expect(body.response.allowed).toBe(true);
      const patch = JSON.parse(Buffer.from(body.response.patch ?? 'W10=', 'base64').toString()) as { op: string; path: string; value?: unknown }[];
      const replaced = patch.find((op) => op.op === 'replace' && op.path === '/spec/containers/0/image');
      return typeof replaced?.value === 'string' ? replaced.value : undefined;
    } finally {
      await dispatcher.close();
    }
  }

  /** digest_pinner_record_operations_total of a process, by operation. */
  async function recordOperations(replica: Replica): Promise<Record<string, number>> {
    const text = await (await fetch(`${replica.server?.metricsUrl ?? ''}/metrics`)).text();
    const counts: Record<string, number> = {};
    for (const match of text.matchAll(/^digest_pinner_record_operations_total\{operation="(\w+)"\} (\d+)$/gm)) counts[match[1] ?? ''] = Number(match[2]);
    return counts;
  }

  it('creates one record, and both answers carry its digest, when one process is primed with the old digest', async () => {
    // A cache that outlives the push, so that the primed process would answer the old digest from it.
    for (const replica of replicas) await restart(replica, ['--cache-ttl', '1h']);
    const image = `${gate?.host ?? ''}/${repository}`;
    const old = await pushImage(plain, repository, 'v1');
    expect(await admit(replicaA, podReview('prime-1', undefined))).toBe(`${image}:v1@${old.digest}`);
    const fresh = await pushImage(plain, repository, 'v1');
    expect(fresh.digest).not.toBe(old.digest);
    // A bare Pod is answered from the cache: process a is primed.
    expect(await admit(replicaA, podReview('prime-2', undefined))).toBe(`${image}:v1@${old.digest}`);

    await cluster.kubectlOk(['apply', '-f', '-'], {
      stdin: stringify({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'race', namespace: RACE },
        // No Pods of its own: the test sends its first Pods' reviews itself.
        spec: { replicas: 0, selector: { matchLabels: { app: 'race' } }, template: { metadata: { labels: { app: 'race' } }, spec: { containers: [{ name: 'app', image: `${image}:v1` }] } } },
      }),
    });
    const replicaSet = await getJson<Item>(['get', 'replicaset', 'race', '-n', RACE]);
    const before = await Promise.all(replicas.map(recordOperations));
    // Each process's registry request waits until the other's has come: both have read the (absent) record by then.
    await gate?.set({ kind: 'gather', count: 2, pathIncludes: `/v2/${repository}/manifests/` });
    const answers = await Promise.all(replicas.map((replica, i) => admit(replica, podReview(`race-${i}`, replicaSet))));
    await gate?.set({ kind: 'pass' });
    const after = await Promise.all(replicas.map(recordOperations));

    // A revision's first Pod asks the registry, whatever the cache holds.
    expect(answers).toEqual([`${image}:v1@${fresh.digest}`, `${image}:v1@${fresh.digest}`]);
    const delta = (operation: string): number => replicas.reduce((sum, _, i) => sum + (after[i]?.[operation] ?? 0) - (before[i]?.[operation] ?? 0), 0);
    expect({ created: delta('created'), conflict: delta('conflict') }).toEqual({ created: 1, conflict: 1 });
    const [record] = await records(RACE);
    expect(record?.metadata.name).toBe('replicaset.race');
    expect(record?.spec.pins).toMatchObject([{ field: 'containers/app', image: `${image}:v1`, digest: fresh.digest, source: 'registry' }]);
  });
});
