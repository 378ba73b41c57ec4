import { describe, expect, it } from 'vitest';
import { isWorkloadGroup, objectLabel, objectsOf } from '../../src/manifest/objects.js';

describe('objectsOf', () => {
  it('is the document itself for an object with a kind', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' } };
    expect(objectsOf(pod, 2)).toEqual([{ documentIndex: 2, pointer: '', identity: { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'ns' }, value: pod }]);
  });

  it('is the items of a v1 List, each at /items/N', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [{ kind: 'Pod', metadata: { name: 'a' } }, 'junk', { kind: 'Job', metadata: { name: 'b' } }] };
    expect(objectsOf(list, 0).map((object) => [object.pointer, objectLabel(object.identity)])).toEqual([
      ['/items/0', 'Pod/a'],
      ['/items/2', 'Job/b'],
    ]);
  });

  it('gives the items of a typed list without kind the kind the list is named after', () => {
    const list = { apiVersion: 'apps/v1', kind: 'DeploymentList', items: [{ metadata: { name: 'web' } }] };
    expect(objectsOf(list, 0)[0]?.identity).toEqual({ apiVersion: undefined, kind: 'Deployment', namespace: undefined, name: 'web' });
  });

  it('is the items of a KRM ResourceList, not its functionConfig', () => {
    const list = { apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items: [{ kind: 'Pod' }], functionConfig: { kind: 'ConfigMap' } };
    expect(objectsOf(list, 0).map((object) => object.identity.kind)).toEqual(['Pod']);
  });

  it('treats a kind ending in List without items as an object', () => {
    expect(objectsOf({ kind: 'AllowList', spec: {} }, 0).map((object) => object.pointer)).toEqual(['']);
  });

  it.each([null, 'text', [], { metadata: {} }, { kind: 3 }])('finds no object in %j', (value) => {
    expect(objectsOf(value, 0)).toEqual([]);
  });
});

describe('objectLabel', () => {
  it.each([
    [{ kind: 'Deployment', namespace: 'shop', name: 'web' }, 'Deployment/shop/web'],
    [{ kind: 'Namespace', namespace: undefined, name: 'shop' }, 'Namespace/shop'],
    [{ kind: 'Pod', namespace: undefined, name: undefined }, 'Pod'],
  ])('%j → %s', (identity, label) => {
    expect(objectLabel({ apiVersion: 'v1', ...identity })).toBe(label);
  });
});

describe('isWorkloadGroup', () => {
  it.each([
    ['v1', true],
    ['apps/v1', true],
    ['batch/v1', true],
    ['batch/v1beta1', true],
    ['extensions/v1beta1', true],
    [undefined, true],
    ['rollouts.example.com/v1', false],
    ['apps.example.com/v1', false],
  ])('%s → %s', (apiVersion, expected) => {
    expect(isWorkloadGroup({ apiVersion, kind: 'Deployment', namespace: undefined, name: undefined })).toBe(expected);
  });
});
