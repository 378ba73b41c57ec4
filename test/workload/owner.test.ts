import { describe, expect, it } from 'vitest';
import { hasControllerOwner, skipsControlledTemplate } from '../../src/workload/owner.js';
import { type AdmissionFixture, loadAdmissionReview } from '../fixtures/admission/load.js';

function request(name: AdmissionFixture): { kind: string; object: unknown } {
  const { request } = loadAdmissionReview(name, 'registry.test:5000');
  return { kind: request.kind.kind, object: request.object };
}

const owned = (ownerReferences: unknown): unknown => ({ metadata: { ownerReferences } });
const deploymentRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: '5f3b7d9e-1a2c-4e6f-8b0d-9c4a2e6f8b17' };

describe('hasControllerOwner', () => {
  it.each(['replicaset-owned-by-deployment', 'job-owned-by-cronjob', 'pod-from-replicaset', 'pod-ephemeralcontainers'] as const)(
    'is true for %s',
    (fixture) => {
      expect(hasControllerOwner(request(fixture).object)).toBe(true);
    },
  );

  it.each(['deployment-create', 'replicaset-standalone', 'cronjob-create', 'pod-create'] as const)('is false for %s', (fixture) => {
    expect(hasControllerOwner(request(fixture).object)).toBe(false);
  });

  it('is false for an owner that is not the controller', () => {
    expect(hasControllerOwner(owned([{ ...deploymentRef, controller: false }]))).toBe(false);
    expect(hasControllerOwner(owned([deploymentRef]))).toBe(false);
  });

  it('is true when any one owner is the controller', () => {
    expect(hasControllerOwner(owned([deploymentRef, { ...deploymentRef, kind: 'Rollout', controller: true }]))).toBe(true);
  });

  it('takes only the boolean true', () => {
    expect(hasControllerOwner(owned([{ ...deploymentRef, controller: 'true' }]))).toBe(false);
    expect(hasControllerOwner(owned([{ ...deploymentRef, controller: 1 }]))).toBe(false);
  });

  it.each([
    ['null ownerReferences', owned(null)],
    ['ownerReferences as an object', owned({ controller: true })],
    ['null entries', owned([null])],
    ['no metadata', {}],
    ['null metadata', { metadata: null }],
    ['a null object', null],
    ['a string object', 'x'],
  ])('is false with %s', (_, object) => {
    expect(hasControllerOwner(object)).toBe(false);
  });
});

describe('skipsControlledTemplate', () => {
  it('skips a ReplicaSet its Deployment created', () => {
    const { kind, object } = request('replicaset-owned-by-deployment');
    expect(skipsControlledTemplate(kind, object)).toBe(true);
  });

  it('skips a Job its CronJob created', () => {
    const { kind, object } = request('job-owned-by-cronjob');
    expect(skipsControlledTemplate(kind, object)).toBe(true);
  });

  it('skips a Deployment an operator controls', () => {
    const object = { ...(request('deployment-create').object as object), metadata: { ownerReferences: [{ ...deploymentRef, kind: 'Shop', apiVersion: 'example.com/v1', controller: true }] } };
    expect(skipsControlledTemplate('Deployment', object)).toBe(true);
  });

  it('never skips a Pod, controlled or not', () => {
    expect(skipsControlledTemplate('Pod', request('pod-from-replicaset').object)).toBe(false);
    expect(skipsControlledTemplate('Pod', request('pod-create').object)).toBe(false);
  });

  it.each(['replicaset-standalone', 'deployment-create', 'cronjob-create', 'job-create'] as const)('does not skip %s, which has no owner', (fixture) => {
    const { kind, object } = request(fixture);
    expect(skipsControlledTemplate(kind, object)).toBe(false);
  });
});
