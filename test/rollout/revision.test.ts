/** Which revision a Pod belongs to, what owns its record, what the record is called, and how its Pods are selected. */
import { describe, expect, it } from 'vitest';
import { inRevision, podSelector, recordName, recordOwner, revisionOf } from '../../src/rollout/revision.js';
import type { Revision } from '../../src/rollout/types.js';

const UID = '0d7c3f9e-0000-4000-8000-000000000001';

function pod(owner: Record<string, unknown> | undefined, labels: Record<string, string> = {}): unknown {
  return { metadata: { namespace: 'shop', labels, ...(owner === undefined ? {} : { ownerReferences: [{ controller: true, uid: UID, ...owner }] }) } };
}

describe('revisionOf', () => {
  it.each([
    ['ReplicaSet', 'apps/v1', 'web-5d8f7c9b4'],
    ['Job', 'batch/v1', 'nightly-29001'],
    ['ReplicationController', 'v1', 'legacy'],
  ])('takes a %s itself as the revision', (kind, apiVersion, name) => {
    expect(revisionOf(pod({ kind, apiVersion, name }), 'shop')).toEqual({ namespace: 'shop', kind, name, uid: UID, hash: undefined });
  });

  it.each(['StatefulSet', 'DaemonSet'])('takes a %s with its Pods\' controller-revision-hash', (kind) => {
    const found = revisionOf(pod({ kind, apiVersion: 'apps/v1', name: 'db' }, { 'controller-revision-hash': 'db-7b9c' }), 'shop');
    expect(found).toEqual({ namespace: 'shop', kind, name: 'db', uid: UID, hash: 'db-7b9c' });
  });

  it('has none for a bare Pod, another controller, a non-controller owner, a wrong apiVersion, a StatefulSet Pod without its hash, or no namespace', () => {
    expect(revisionOf(pod(undefined), 'shop')).toBeUndefined();
    expect(revisionOf(pod({ kind: 'Rollout', apiVersion: 'argoproj.io/v1alpha1', name: 'r' }), 'shop')).toBeUndefined();
    expect(revisionOf({ metadata: { ownerReferences: [{ kind: 'ReplicaSet', apiVersion: 'apps/v1', name: 'web', uid: UID }] } }, 'shop')).toBeUndefined();
    expect(revisionOf(pod({ kind: 'ReplicaSet', apiVersion: 'extensions/v1beta1', name: 'web' }), 'shop')).toBeUndefined();
    expect(revisionOf(pod({ kind: 'StatefulSet', apiVersion: 'apps/v1', name: 'db' }), 'shop')).toBeUndefined();
    // No namespace in the request nor in the Pod.
    expect(revisionOf({ metadata: { ownerReferences: [{ kind: 'ReplicaSet', apiVersion: 'apps/v1', name: 'web', uid: UID, controller: true }] } }, undefined)).toBeUndefined();
  });

  it('never throws on hostile JSON', () => {
    for (const value of [null, 42, 'pod', [], { metadata: { ownerReferences: 'x' } }, { metadata: { ownerReferences: [null, 1] } }]) {
      expect(revisionOf(value, 'shop')).toBeUndefined();
    }
  });
});

describe('recordOwner and recordName', () => {
  const revision = (kind: Revision['kind'], name: string, hash?: string): Revision => ({ namespace: 'shop', kind, name, uid: UID, hash });

  it('owns a ReplicaSet\'s or Job\'s record by the controller itself', () => {
    expect(recordOwner(revision('ReplicaSet', 'web-5d8f7c9b4'))).toEqual({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b4' });
    expect(recordName(revision('ReplicaSet', 'web-5d8f7c9b4'))).toBe('replicaset.web-5d8f7c9b4');
    expect(recordName(revision('Job', 'nightly-29001'))).toBe('job.nightly-29001');
  });

  it('owns a StatefulSet\'s by the ControllerRevision its hash names, and a DaemonSet\'s by `<name>-<hash>`', () => {
    expect(recordOwner(revision('StatefulSet', 'db', 'db-7b9c'))).toEqual({ apiVersion: 'apps/v1', kind: 'ControllerRevision', name: 'db-7b9c' });
    expect(recordOwner(revision('DaemonSet', 'agent', '6f5d'))).toEqual({ apiVersion: 'apps/v1', kind: 'ControllerRevision', name: 'agent-6f5d' });
    expect(recordName(revision('DaemonSet', 'agent', '6f5d'))).toBe('controllerrevision.agent-6f5d');
  });

  it('names a record past 253 characters by the owner name\'s hash, the same each time', () => {
    const long = revision('ReplicaSet', 'a'.repeat(250));
    expect(recordName(long)).toMatch(/^replicaset\.[0-9a-f]{40}$/);
    expect(recordName(long)).toBe(recordName({ ...long }));
  });
});

describe('podSelector and inRevision', () => {
  const replicaSet: Revision = { namespace: 'shop', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: UID, hash: undefined };

  it('selects by the controller\'s own label, else every label of the Pod (ReplicationController)', () => {
    expect(podSelector(replicaSet, { app: 'web', 'pod-template-hash': '5d8f7c9b4' })).toBe('pod-template-hash=5d8f7c9b4');
    expect(podSelector({ ...replicaSet, kind: 'ReplicationController' }, { tier: 'b', app: 'a' })).toBe('app=a,tier=b');
  });

  it('selects a ReplicaSet made without a Deployment (no pod-template-hash) by every label of the Pod', () => {
    expect(podSelector(replicaSet, { app: 'web', tier: 'front' })).toBe('app=web,tier=front');
  });

  it('has no selector when the labels cannot make one', () => {
    expect(podSelector(replicaSet, { 'pod-template-hash': 'bad value,x=y' })).toBeUndefined();
    expect(podSelector({ ...replicaSet, kind: 'ReplicationController' }, {})).toBeUndefined();
  });

  it('counts a listed Pod in the revision only with the same controller uid', () => {
    const sibling = pod({ kind: 'ReplicaSet', apiVersion: 'apps/v1', name: 'web-5d8f7c9b4' }, { 'pod-template-hash': '5d8f7c9b4' });
    expect(inRevision(sibling, replicaSet)).toBe(true);
    expect(inRevision(sibling, { ...replicaSet, uid: 'another' })).toBe(false);
  });
});
