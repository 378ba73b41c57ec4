/**
 * ImageNotPinned Events against a real kube-apiserver, created as a ServiceAccount that
 * may only `create` events.k8s.io events: the Event is stored and reads back (through
 * events.k8s.io/v1 and core/v1, and in `kubectl describe`), kube-apiserver accepts every
 * field the recorder fills (a note cut to 1 KiB, a Namespace fallback, a controller owner),
 * dry runs record nothing, duplicates are recorded once, and a refusal never throws.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import {
  apiEventSink,
  EventRecorder,
  loadKubeConfig,
  MAX_NOTE_BYTES,
  type AdmittedObject,
  type FailedImage,
  type RecordOutcome,
} from '../../src/kube/index.js';

const WEBHOOK_NS = 'digest-pinner';
const TEAM = 'team-a';

interface StoredEvent {
  metadata: { name: string; namespace: string };
  reason: string;
  type: string;
  note?: string;
  action: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { apiVersion: string; kind: string; namespace?: string; name: string; uid?: string };
}

let cluster: Cluster;
let kubeconfig: string;

async function serviceAccountKubeconfig(name: string, rules: readonly object[]): Promise<string> {
  await cluster.kubectlOk(['create', 'serviceaccount', name, '-n', WEBHOOK_NS]);
  if (rules.length > 0) {
    const manifest = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `dp-${name}` }, rules },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: `dp-${name}` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `dp-${name}` },
          subjects: [{ kind: 'ServiceAccount', name, namespace: WEBHOOK_NS }],
        },
      ],
    };
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: JSON.stringify(manifest) });
  }
  return cluster.writeTokenKubeconfig(name, await cluster.createServiceAccountToken(WEBHOOK_NS, name, { durationSeconds: 3600 }));
}

function recorderFor(path: string, outcomes: RecordOutcome[], errors: unknown[] = []): EventRecorder {
  const loaded = loadKubeConfig({ kubeconfig: path, env: {} });
  if (loaded === undefined) throw new Error('no kubeconfig');
  return new EventRecorder({
    sink: apiEventSink(loaded.kubeConfig),
    reportingInstance: 'digest-pinner-7c9f-xk2p',
    onRecorded: (outcome) => outcomes.push(outcome),
    onError: (error) => errors.push(error),
  });
}

async function events(namespace = TEAM): Promise<StoredEvent[]> {
  const list = JSON.parse(await cluster.kubectlOk(['get', 'events.v1.events.k8s.io', '-n', namespace, '-o', 'json'])) as { items: StoredEvent[] };
  return list.items.filter((e) => e.reportingController === 'digest-pinner.io/webhook');
}

const failure = (image: string, reason = 'manifest unknown: the tag does not exist'): FailedImage => ({
  where: 'containers/app',
  image,
  reason,
  code: 'DP_ERR_MANIFEST_UNKNOWN',
});

const deployment = (name: string, overrides: Partial<AdmittedObject> = {}): AdmittedObject => ({
  kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
  namespace: TEAM,
  name,
  object: { metadata: { name, namespace: TEAM } },
  dryRun: false,
  ...overrides,
});

beforeAll(async () => {
  cluster = await startCluster({ controllerManager: false });
  for (const ns of [WEBHOOK_NS, TEAM]) await cluster.kubectlOk(['create', 'namespace', ns]);
  kubeconfig = await serviceAccountKubeconfig('webhook', [{ apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] }]);
});

afterAll(async () => {
  await cluster.stop();
});

describe('EventRecorder against kube-apiserver', () => {
  it('creates an Event that reads back through events.k8s.io/v1 and core/v1', async () => {
    const outcomes: RecordOutcome[] = [];
    const recorder = recorderFor(kubeconfig, outcomes);
    recorder.recordFailures(deployment('web'), [failure('quay.io/team/web:1.0')]);
    await recorder.drain();
    expect(outcomes).toEqual(['created']);

    const [event, ...rest] = await events();
    expect(rest).toEqual([]);
    expect(event).toMatchObject({
      metadata: { namespace: TEAM },
      reason: 'ImageNotPinned',
      type: 'Warning',
      action: 'PinImage',
      reportingController: 'digest-pinner.io/webhook',
      reportingInstance: 'digest-pinner-7c9f-xk2p',
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: TEAM, name: 'web' },
      note: 'containers/app image "quay.io/team/web:1.0" not pinned to a digest: manifest unknown: the tag does not exist (DP_ERR_MANIFEST_UNKNOWN)',
    });

    const core = JSON.parse(await cluster.kubectlOk(['get', 'events.v1.', '-n', TEAM, '--field-selector', 'involvedObject.name=web', '-o', 'json'])) as {
      items: { reason: string; message: string; involvedObject: { kind: string } }[];
    };
    expect(core.items.map((e) => [e.reason, e.involvedObject.kind])).toEqual([['ImageNotPinned', 'Deployment']]);
  });

  it('shows in kubectl describe of an existing object (regarding carries its uid)', async () => {
    await cluster.kubectlOk(['create', 'deployment', 'described', '--image=quay.io/team/described:1', '-n', TEAM]);
    const object: unknown = JSON.parse(await cluster.kubectlOk(['get', 'deployment', 'described', '-n', TEAM, '-o', 'json']));
    const recorder = recorderFor(kubeconfig, []);
    recorder.recordFailures(deployment('described', { object }), [failure('quay.io/team/described:1')]);
    await recorder.drain();
    const described = await cluster.kubectlOk(['describe', 'deployment', 'described', '-n', TEAM]);
    expect(described).toMatch(/Warning\s+ImageNotPinned/);
    expect(described).toContain('quay.io/team/described:1');
  });

  it('regards the controller owner of a Pod without a name yet, else the Namespace', async () => {
    const recorder = recorderFor(kubeconfig, []);
    const pod = (ownerReferences: object[]): AdmittedObject => ({
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: TEAM,
      name: undefined,
      object: { metadata: { generateName: 'web-6b7d9c-', namespace: TEAM, ownerReferences } },
      dryRun: false,
    });
    recorder.recordFailures(pod([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-6b7d9c', uid: '3f1e2d4c-0000-4000-8000-000000000001', controller: true }]), [
      failure('quay.io/team/owned:1'),
    ]);
    recorder.recordFailures(pod([]), [failure('quay.io/team/orphan:1')]);
    await recorder.drain();
    const stored = await events();
    const regardingOf = (image: string) => stored.find((e) => e.note?.includes(image))?.regarding;
    expect(regardingOf('quay.io/team/owned:1')).toEqual({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      namespace: TEAM,
      name: 'web-6b7d9c',
      uid: '3f1e2d4c-0000-4000-8000-000000000001',
    });
    expect(regardingOf('quay.io/team/orphan:1')).toEqual({ apiVersion: 'v1', kind: 'Namespace', namespace: TEAM, name: TEAM });
  });

  it('records nothing for a dry run', async () => {
    const outcomes: RecordOutcome[] = [];
    const recorder = recorderFor(kubeconfig, outcomes);
    const before = (await events()).length;
    recorder.recordFailures(deployment('dry', { dryRun: true }), [failure('quay.io/team/dry:1')]);
    await expect(
      recorder.record({ dryRun: true, regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: TEAM, name: 'dry' }, failure: failure('quay.io/team/dry:2') }),
    ).resolves.toBe('dry-run');
    await recorder.drain();
    expect(outcomes).toEqual([]);
    expect(await events()).toHaveLength(before);
  });

  it('records the same object, image and failure once', async () => {
    const outcomes: RecordOutcome[] = [];
    const recorder = recorderFor(kubeconfig, outcomes);
    for (let i = 0; i < 5; i++) recorder.recordFailures(deployment('repeat'), [failure('quay.io/team/repeat:1')]);
    recorder.recordFailures(deployment('repeat'), [failure('quay.io/team/repeat:2')]);
    await recorder.drain();
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'deduplicated')).toHaveLength(4);
    const stored = (await events()).filter((e) => e.regarding.name === 'repeat');
    expect(stored.map((e) => e.note?.match(/repeat:\d/)?.[0]).sort()).toEqual(['repeat:1', 'repeat:2']);
  });

  it('is accepted with a note cut to 1 KiB and a long object name', async () => {
    const outcomes: RecordOutcome[] = [];
    const errors: unknown[] = [];
    const recorder = recorderFor(kubeconfig, outcomes, errors);
    const longName = `${'a'.repeat(230)}-b`;
    recorder.recordFailures(deployment(longName), [failure('quay.io/team/long:1', `registry said: ${'é'.repeat(3000)}`)]);
    await recorder.drain();
    expect(errors).toEqual([]);
    expect(outcomes).toEqual(['created']);
    const stored = (await events()).find((e) => e.regarding.name === longName);
    expect(Buffer.byteLength(stored?.note ?? '')).toBeLessThanOrEqual(MAX_NOTE_BYTES);
    expect(stored?.note?.endsWith('…')).toBe(true);
  });

  it('reports a refusal (no RBAC) without throwing', async () => {
    const outcomes: RecordOutcome[] = [];
    const errors: unknown[] = [];
    const denied = await serviceAccountKubeconfig('no-events', []);
    const recorder = recorderFor(denied, outcomes, errors);
    recorder.recordFailures(deployment('denied'), [failure('quay.io/team/denied:1')]);
    await recorder.drain();
    expect(outcomes).toEqual(['failed']);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('403');
    expect((await events()).filter((e) => e.regarding.name === 'denied')).toEqual([]);
  });
});
