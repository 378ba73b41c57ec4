/** stripMetadata: what an informer's store keeps of each object's metadata. Against kube-apiserver: test/e2e/pull-secrets.e2e.test.ts. */
import { describe, expect, it } from 'vitest';
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { stripMetadata } from '../../src/kube/informers.js';

describe('stripMetadata', () => {
  it('keeps name, namespace, uid and resourceVersion, and nothing else', () => {
    const account: V1ServiceAccount = {
      metadata: {
        name: 'builder',
        namespace: 'team-a',
        uid: '0d9c7c1e-7d1b-4c53-9a55-1f1e0d3f6c11',
        resourceVersion: '4711',
        labels: { team: 'a' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"secret":"value"}' },
        managedFields: [{ manager: 'kubectl' }],
        creationTimestamp: new Date(0),
      },
      imagePullSecrets: [{ name: 'regcred' }],
    };
    stripMetadata(account);
    expect(account.metadata).toEqual({ name: 'builder', namespace: 'team-a', uid: '0d9c7c1e-7d1b-4c53-9a55-1f1e0d3f6c11', resourceVersion: '4711' });
    expect(account.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });

  it('leaves an object without metadata alone', () => {
    const object = { kind: 'ServiceAccount' };
    stripMetadata(object);
    expect(object).toEqual({ kind: 'ServiceAccount' });
  });
});
