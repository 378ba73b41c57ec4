/** RELATED_IMAGE_* env values (operator-sdk): found only when asked for, only plain values, diffed on UPDATE like images. */
import { describe, expect, it } from 'vitest';
import { imagesToPin } from '../../src/workload/operations.js';
import { valueAt } from '../../src/workload/pointer.js';
import { findImageFields } from '../../src/workload/walker.js';

function deployment(env: unknown[], initEnv: unknown[] = []) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'operator' },
    spec: {
      template: {
        spec: {
          initContainers: [{ name: 'init', image: 'quay.io/op/init:v1', env: initEnv }],
          containers: [{ name: 'manager', image: 'quay.io/op/operator:v1', env }],
        },
      },
    },
  };
}

const ENV = [
  { name: 'WATCH_NAMESPACE', value: '' },
  { name: 'RELATED_IMAGE_AGENT', value: 'quay.io/op/agent:v1' },
  { name: 'RELATED_IMAGE_EMPTY', value: '' },
  { name: 'RELATED_IMAGE_BLANK', value: '  ' },
  { name: 'RELATED_IMAGE_FROM', valueFrom: { configMapKeyRef: { name: 'images', key: 'agent' } } },
  { name: 'related_image_lower', value: 'quay.io/op/lower:v1' },
  { name: 'RELATED_IMAGE_NUMBER', value: 5 },
  { name: 'RELATED_IMAGE_DB', value: 'postgres:16' },
];

describe('findImageFields with relatedImages', () => {
  it('finds RELATED_IMAGE_* plain values after the images, named <container>/<variable>', () => {
    const object = deployment(ENV, [{ name: 'RELATED_IMAGE_MIGRATE', value: 'quay.io/op/migrate:v1' }]);
    const fields = findImageFields('Deployment', object, { relatedImages: true }).filter((field) => field.location === 'env');
    expect(fields).toEqual([
      { pointer: '/spec/template/spec/containers/0/env/1/value', image: 'quay.io/op/agent:v1', location: 'env', name: 'manager/RELATED_IMAGE_AGENT' },
      { pointer: '/spec/template/spec/containers/0/env/7/value', image: 'postgres:16', location: 'env', name: 'manager/RELATED_IMAGE_DB' },
      { pointer: '/spec/template/spec/initContainers/0/env/0/value', image: 'quay.io/op/migrate:v1', location: 'env', name: 'init/RELATED_IMAGE_MIGRATE' },
    ]);
    for (const field of fields) expect(valueAt(object, field.pointer)).toBe(field.image);
  });

  it('finds none unless asked', () => {
    expect(findImageFields('Deployment', deployment(ENV)).filter((field) => field.location === 'env')).toEqual([]);
    expect(findImageFields('Deployment', deployment(ENV), { relatedImages: false }).map((field) => field.location)).toEqual(['containers', 'initContainers']);
  });

  it('never throws on malformed env lists', () => {
    for (const env of [null, 'x', [null], [{ name: 1, value: 'a:b' }], [{ value: 'a:b' }]]) {
      const object = { spec: { containers: [{ name: 'c', image: 'a:1', env }] } };
      expect(findImageFields('Pod', object, { relatedImages: true }).map((field) => field.location)).toEqual(['containers']);
    }
  });
});

describe('imagesToPin with relatedImages', () => {
  it('pins every RELATED_IMAGE_* value on CREATE', () => {
    const fields = imagesToPin({ kind: 'Deployment', operation: 'CREATE', object: deployment(ENV), oldObject: null, relatedImages: true });
    expect(fields.map((field) => `${field.location}/${field.name}`)).toEqual([
      'containers/manager', 'initContainers/init', 'env/manager/RELATED_IMAGE_AGENT', 'env/manager/RELATED_IMAGE_DB',
    ]);
  });

  it('pins only changed values on UPDATE', () => {
    const old = deployment(ENV);
    const changed = deployment(ENV.map((variable) => (variable.name === 'RELATED_IMAGE_DB' ? { ...variable, value: 'postgres:17' } : variable)));
    const fields = imagesToPin({ kind: 'Deployment', operation: 'UPDATE', object: changed, oldObject: old, relatedImages: true });
    expect(fields.map((field) => `${field.location}/${field.name}=${field.image}`)).toEqual(['env/manager/RELATED_IMAGE_DB=postgres:17']);
  });
});
