/** RelatedImageNamespaces: which Namespaces opt in to RELATED_IMAGE_* pinning, fed with Namespace objects as the API server sends them. */
import type { V1Namespace } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { PIN_RELATED_IMAGES_ANNOTATION, RelatedImageNamespaces } from '../../src/kube/index.js';

/** A Namespace as kube-apiserver returns it in a list or watch event. */
function namespace(name: string, annotations?: Record<string, string>): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      uid: '6f1c2d3e-0000-4000-8000-000000000001',
      resourceVersion: '4211',
      creationTimestamp: new Date('2025-01-01T00:00:00Z'),
      labels: { 'kubernetes.io/metadata.name': name, 'digest-pinner.io/mode': 'warn' },
      ...(annotations === undefined ? {} : { annotations }),
      managedFields: [{ manager: 'kubectl-annotate', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1' }],
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

describe('RelatedImageNamespaces', () => {
  it(`keeps namespaces annotated ${PIN_RELATED_IMAGES_ANNOTATION}: "true", and only those`, () => {
    const cache = new RelatedImageNamespaces();
    expect(cache.upsert(namespace('operators', { [PIN_RELATED_IMAGES_ANNOTATION]: 'true' }))).toBe(true);
    expect(cache.upsert(namespace('plain'))).toBe(false);
    expect(cache.upsert(namespace('other-annotations', { 'kubectl.kubernetes.io/last-applied-configuration': '{}' }))).toBe(false);
    for (const value of ['false', 'True', 'yes', '1', '']) {
      expect(cache.upsert(namespace(`value-${value}`, { [PIN_RELATED_IMAGES_ANNOTATION]: value }))).toBe(false);
    }
    expect(cache.list()).toEqual(['operators']);
    expect(cache.has('operators')).toBe(true);
    expect(cache.has('plain')).toBe(false);
    expect(cache.has(undefined)).toBe(false);
  });

  it('follows the annotation being added, changed and removed, and the Namespace being deleted', () => {
    const cache = new RelatedImageNamespaces();
    cache.upsert(namespace('team'));
    expect(cache.has('team')).toBe(false);
    cache.upsert(namespace('team', { [PIN_RELATED_IMAGES_ANNOTATION]: 'true' }));
    expect(cache.has('team')).toBe(true);
    cache.upsert(namespace('team', { [PIN_RELATED_IMAGES_ANNOTATION]: 'false' }));
    expect(cache.has('team')).toBe(false);
    cache.upsert(namespace('team', { [PIN_RELATED_IMAGES_ANNOTATION]: 'true' }));
    cache.upsert(namespace('team'));
    expect(cache.has('team')).toBe(false);
    cache.upsert(namespace('team', { [PIN_RELATED_IMAGES_ANNOTATION]: 'true' }));
    cache.remove(namespace('team', { [PIN_RELATED_IMAGES_ANNOTATION]: 'true' }));
    expect(cache.list()).toEqual([]);
  });

  it('ignores objects without a name or with malformed annotations', () => {
    const cache = new RelatedImageNamespaces();
    expect(cache.upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { annotations: { [PIN_RELATED_IMAGES_ANNOTATION]: 'true' } } })).toBe(false);
    expect(cache.upsert({ apiVersion: 'v1', kind: 'Namespace' })).toBe(false);
    expect(cache.upsert(JSON.parse('{"metadata":{"name":"odd","annotations":"true"}}') as V1Namespace)).toBe(false);
    expect(cache.list()).toEqual([]);
  });
});
