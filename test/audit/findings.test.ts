/** The findings of an audit, from listed objects (shaped as kube-apiserver serves them) and registry answers. */
import { describe, expect, it } from 'vitest';
import {
  auditedObjects,
  digestKey,
  goneFindings,
  movedFindings,
  pinnedTags,
  recordedDigests,
  splitFindings,
  unpinnedFindings,
  type ListedObject,
} from '../../src/audit/index.js';
import { parseRecord } from '../../src/rollout/record.js';
import type { StoredRecord } from '../../src/rollout/types.js';

const OLD = `sha256:${'a'.repeat(64)}`;
const NEW = `sha256:${'b'.repeat(64)}`;
const RS_UID = '0d7c3f9e-0000-4000-8000-000000000001';
const NOT_KNOWN = (): undefined => undefined;

function deployment(name: string, image: string): ListedObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    object: { metadata: { namespace: 'shop', name, uid: `uid-${name}` }, spec: { template: { metadata: {}, spec: { containers: [{ name: 'app', image }] } } } },
  };
}

function replicaSet(name: string, image: string, owner: string | undefined): ListedObject {
  const ownerReferences = owner === undefined ? [] : [{ apiVersion: 'apps/v1', kind: owner, name: 'web', uid: 'uid-web', controller: true }];
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', object: { metadata: { namespace: 'shop', name, uid: `uid-${name}`, ownerReferences }, spec: { template: { spec: { containers: [{ name: 'app', image }] } } } } };
}

interface PodOptions {
  readonly owner?: { kind: string; name: string; uid: string; apiVersion?: string };
  readonly hash?: string;
  /** The imageID its `app` container reports running. */
  readonly running?: string;
}

function pod(name: string, image: string, options: PodOptions = {}): ListedObject {
  const { owner } = options;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    object: {
      metadata: {
        namespace: 'shop',
        name,
        uid: `uid-${name}`,
        labels: options.hash === undefined ? {} : { 'controller-revision-hash': options.hash },
        ...(owner === undefined ? {} : { ownerReferences: [{ apiVersion: owner.apiVersion ?? 'apps/v1', kind: owner.kind, name: owner.name, uid: owner.uid, controller: true }] }),
      },
      spec: { containers: [{ name: 'app', image }] },
      ...(options.running === undefined ? {} : { status: { containerStatuses: [{ name: 'app', image, imageID: options.running }] } }),
    },
  };
}

const RS = { kind: 'ReplicaSet', name: 'web-5d8f', uid: RS_UID };

describe('auditedObjects', () => {
  it('leaves out ReplicaSets a Deployment controls and Jobs a CronJob controls, keeping bare ones and every Pod', () => {
    const cronJob: ListedObject = { apiVersion: 'batch/v1', kind: 'CronJob', object: { metadata: { namespace: 'shop', name: 'nightly' } } };
    const jobOfCron: ListedObject = { apiVersion: 'batch/v1', kind: 'Job', object: { metadata: { namespace: 'shop', name: 'nightly-1', ownerReferences: [{ kind: 'CronJob', name: 'nightly', controller: true }] } } };
    const bareJob: ListedObject = { apiVersion: 'batch/v1', kind: 'Job', object: { metadata: { namespace: 'shop', name: 'once' } } };
    const owned = replicaSet('web-5d8f', 'web:1', 'Deployment');
    const bare = replicaSet('lone', 'web:1', undefined);
    const byOperator = replicaSet('op', 'web:1', 'Rollout');
    const ownedPod = pod('web-5d8f-x', 'web:1', { owner: RS });
    expect(auditedObjects([cronJob, jobOfCron, bareJob, owned, bare, byOperator, ownedPod])).toEqual([cronJob, bareJob, bare, byOperator, ownedPod]);
  });
});

describe('unpinnedFindings', () => {
  it('reports each image field naming no digest, with its object and field, and an invalid reference under its own rule', () => {
    const findings = unpinnedFindings([deployment('web', 'registry.example/web:1'), deployment('pinned', `registry.example/web:1@${OLD}`), pod('bare', 'Not A Reference')]);
    expect(findings.map(({ kind, object, field, image }) => ({ kind, label: `${object.kind}/${object.namespace}/${object.name}`, field, image }))).toEqual([
      { kind: 'unpinned', label: 'Deployment/shop/web', field: 'containers/app', image: 'registry.example/web:1' },
      { kind: 'invalid', label: 'Pod/shop/bare', field: 'containers/app', image: 'Not A Reference' },
    ]);
    expect(findings[0]?.object).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'uid-web' });
  });

  it('finds nothing in objects without a name, namespace or pod spec, and never throws on hostile JSON', () => {
    const hostile: ListedObject[] = [null, 42, 'x', { metadata: { name: 'n' } }, { metadata: { namespace: 'shop', name: 'n' }, spec: 'x' }].map((object) => ({ apiVersion: 'v1', kind: 'Pod', object }));
    expect(unpinnedFindings(hostile)).toEqual([]);
  });
});

describe('pinnedTags and movedFindings', () => {
  const objects = [
    deployment('web', `registry.example/shop/web:1.4@${OLD}`),
    pod('p', `registry.example/shop/web:1.4@${OLD}`),
    deployment('digest-only', `registry.example/shop/api@${OLD}`),
    deployment('tag-only', 'registry.example/shop/db:2'),
  ];

  it('collects each tag a pinned reference names once, normalised; a reference pinned without its tag names none', () => {
    expect([...pinnedTags(objects).keys()]).toEqual(['registry.example/shop/web:1.4']);
  });

  it('reports every object pinned to a digest its tag no longer points to, with when it moved when known', () => {
    const movedAt = (image: string, digest: string, namespace: string): string | undefined =>
      image === 'registry.example/shop/web:1.4' && digest === OLD && namespace === 'shop' ? '2026-05-01T09:14:03Z' : undefined;
    const findings = movedFindings(objects, new Map([['registry.example/shop/web:1.4', NEW]]), movedAt);
    expect(findings.map((finding) => finding.object.name)).toEqual(['web', 'p']);
    expect(findings[0]).toMatchObject({ kind: 'tag-moved', field: 'containers/app', properties: { tag: 'registry.example/shop/web:1.4', pinned: OLD, current: NEW, movedAt: '2026-05-01T09:14:03Z' } });
    expect(findings[0]?.message).toContain('it moved at 2026-05-01T09:14:03Z');
  });

  it('says when it moved is not recorded without a ledger entry, and reports nothing for a tag that did not move or was not resolved', () => {
    const moved = movedFindings(objects, new Map([['registry.example/shop/web:1.4', NEW]]), NOT_KNOWN);
    expect(moved[0]?.message).toContain('when it moved is not recorded');
    expect(moved[0]?.properties).not.toHaveProperty('movedAt');
    expect(movedFindings(objects, new Map([['registry.example/shop/web:1.4', OLD]]), NOT_KNOWN)).toEqual([]);
    expect(movedFindings(objects, new Map(), NOT_KNOWN)).toEqual([]);
  });
});

describe('splitFindings', () => {
  const pods = (list: ListedObject[]): unknown[] => list.map((listed) => listed.object);

  it('reports a ReplicaSet whose Pods carry two digests, counting the Pods of each', () => {
    const findings = splitFindings(pods([
      pod('a', `web:1@${OLD}`, { owner: RS }),
      pod('b', `web:1@${OLD}`, { owner: RS }),
      pod('c', `web:1@${NEW}`, { owner: RS }),
    ]));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ kind: 'revision-split', field: 'containers/app', object: { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'web-5d8f', uid: RS_UID } });
    expect(findings[0]?.properties['digests']).toBe(`${OLD} (2 Pods: a, b); ${NEW} (1 Pod: c)`);
  });

  it('reads the digest a Pod runs (status imageID) when its spec is not pinned', () => {
    const findings = splitFindings(pods([
      pod('a', 'web:1', { owner: RS, running: `docker.io/library/web@${OLD}` }),
      pod('b', 'web:1', { owner: RS, running: `docker-pullable://docker.io/library/web@${NEW}` }),
      pod('pending', 'web:1', { owner: RS }),
    ]));
    expect(findings[0]?.properties['digests']).toBe(`${OLD} (1 Pod: a); ${NEW} (1 Pod: b)`);
  });

  it('keeps StatefulSet revisions apart by controller-revision-hash: two revisions on two digests are no split', () => {
    const sts = { kind: 'StatefulSet', name: 'db', uid: 'uid-db' };
    const apart = pods([pod('db-0', `db:1@${OLD}`, { owner: sts, hash: 'db-1' }), pod('db-1', `db:1@${NEW}`, { owner: sts, hash: 'db-2' })]);
    expect(splitFindings(apart)).toEqual([]);
    const split = splitFindings(pods([pod('db-0', `db:1@${OLD}`, { owner: sts, hash: 'db-1' }), pod('db-1', `db:1@${NEW}`, { owner: sts, hash: 'db-1' })]));
    expect(split[0]).toMatchObject({ object: { kind: 'StatefulSet', name: 'db' }, properties: { revisionHash: 'db-1' } });
  });

  it('finds nothing for agreeing Pods, two ReplicaSets on two digests, or bare Pods', () => {
    const other = { kind: 'ReplicaSet', name: 'web-77aa', uid: 'uid-other' };
    expect(splitFindings(pods([pod('a', `web:1@${OLD}`, { owner: RS }), pod('b', `web:1@${OLD}`, { owner: RS })]))).toEqual([]);
    expect(splitFindings(pods([pod('a', `web:1@${OLD}`, { owner: RS }), pod('b', `web:1@${NEW}`, { owner: other })]))).toEqual([]);
    expect(splitFindings(pods([pod('a', `web:1@${OLD}`), pod('b', `web:1@${NEW}`)]))).toEqual([]);
  });
});

describe('recordedDigests and goneFindings', () => {
  function record(name: string, image: string, digest: string): StoredRecord {
    const parsed = parseRecord({
      metadata: { namespace: 'shop', name, uid: `uid-${name}`, resourceVersion: '1' },
      spec: { revision: { kind: 'ReplicaSet', name: 'web-5d8f', uid: RS_UID }, pins: [{ field: 'containers/app', image, digest, source: 'registry', pinnedAt: '2026-05-01T09:14:03Z' }] },
    });
    if (parsed === undefined) throw new Error('fixture record does not parse');
    return parsed;
  }
  const records = [record('replicaset.web-5d8f', 'registry.example/shop/web:1.4', OLD), record('replicaset.web-77aa', 'registry.example/shop/web:1.4', OLD), record('replicaset.api', 'registry.example/shop/api:2', NEW)];

  it('asks for each recorded digest once, in its repository', () => {
    const digests = recordedDigests(records);
    expect([...digests.keys()]).toEqual([digestKey('registry.example/shop/web', OLD), digestKey('registry.example/shop/api', NEW)]);
    expect(digests.get(digestKey('registry.example/shop/api', NEW))?.ref.name).toBe('registry.example/shop/api');
  });

  it('reports each record pinning a digest the registry no longer serves, naming the PinRecord and its revision', () => {
    const findings = goneFindings(records, new Set([digestKey('registry.example/shop/web', OLD)]));
    expect(findings.map((finding) => finding.object.name)).toEqual(['replicaset.web-5d8f', 'replicaset.web-77aa']);
    expect(findings[0]).toMatchObject({
      kind: 'digest-gone',
      object: { apiVersion: 'digest-pinner.io/v1alpha1', kind: 'PinRecord', namespace: 'shop', uid: 'uid-replicaset.web-5d8f' },
      field: 'containers/app',
      properties: { digest: OLD, revision: 'ReplicaSet/web-5d8f' },
    });
    expect(goneFindings(records, new Set())).toEqual([]);
  });
});
