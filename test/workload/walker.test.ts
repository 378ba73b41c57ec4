import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { POD_SPEC_KINDS } from '../../src/workload/kinds.js';
import { valueAt } from '../../src/workload/pointer.js';
import { fieldKey, findImageFields, type ImageField } from '../../src/workload/walker.js';
import { type AdmissionFixture, loadAdmissionReview } from '../fixtures/admission/load.js';

const REGISTRY = 'registry.test:5000';
const SINGLE = `${REGISTRY}/dp/single:v1`;
const MULTI = `${REGISTRY}/dp/multi:v1`;
const V2 = `${REGISTRY}/dp/v2:v1`;
const PAUSE = 'registry.k8s.io/pause:3.10@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a';
const ENVOY = 'docker.io/envoyproxy/envoy:v1.31.0@sha256:0bd1f5e8a6a4d4b2c9f3e7d1a5b8c2e6f0a4d8b2c6e0f4a8d2b6c0e4f8a2d6b0';

function walk(name: AdmissionFixture, which: 'object' | 'oldObject' = 'object'): ImageField[] {
  const { request } = loadAdmissionReview(name, REGISTRY);
  return findImageFields(request.kind.kind, request[which]);
}

const TEMPLATE = '/spec/template/spec';

describe('findImageFields', () => {
  it('finds containers, init containers and image volumes of a Pod, in that order', () => {
    expect(walk('pod-create')).toEqual([
      { pointer: '/spec/containers/0/image', image: MULTI, location: 'containers', name: 'app' },
      { pointer: '/spec/containers/1/image', image: PAUSE, location: 'containers', name: 'pause' },
      { pointer: '/spec/initContainers/0/image', image: SINGLE, location: 'initContainers', name: 'migrate' },
      { pointer: '/spec/volumes/0/image/reference', image: V2, location: 'volumes', name: 'models' },
    ]);
  });

  it('skips volumes without an image source (the kube-api-access projected volume)', () => {
    expect(walk('pod-create').filter((field) => field.location === 'volumes')).toHaveLength(1);
  });

  it('finds ephemeral containers', () => {
    expect(walk('pod-ephemeralcontainers')).toEqual([
      { pointer: '/spec/containers/0/image', image: `${MULTI}@sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270`, location: 'containers', name: 'app' },
      { pointer: '/spec/ephemeralContainers/0/image', image: 'busybox:1.36@sha256:768e5c6f5cb6db0794eec98dc7a967f40631746c32232b78a3105fb946f3ab83', location: 'ephemeralContainers', name: 'debugger-4hx9w' },
      { pointer: '/spec/ephemeralContainers/1/image', image: SINGLE, location: 'ephemeralContainers', name: 'debugger-q7t5z' },
    ]);
  });

  it('finds the containers of a controller-created Pod', () => {
    expect(walk('pod-from-replicaset')).toEqual([
      { pointer: '/spec/containers/0/image', image: MULTI, location: 'containers', name: 'app' },
      { pointer: '/spec/containers/1/image', image: ENVOY, location: 'containers', name: 'proxy' },
    ]);
  });

  it('finds a Deployment template’s containers', () => {
    expect(walk('deployment-create')).toEqual([
      { pointer: `${TEMPLATE}/containers/0/image`, image: MULTI, location: 'containers', name: 'app' },
      { pointer: `${TEMPLATE}/containers/1/image`, image: SINGLE, location: 'containers', name: 'metrics' },
    ]);
  });

  it('finds a StatefulSet template’s containers and init containers', () => {
    expect(walk('statefulset-create')).toEqual([
      { pointer: `${TEMPLATE}/containers/0/image`, image: V2, location: 'containers', name: 'db' },
      { pointer: `${TEMPLATE}/initContainers/0/image`, image: SINGLE, location: 'initContainers', name: 'init-config' },
    ]);
  });

  it.each([
    ['daemonset-create', 'agent', MULTI],
    ['replicaset-standalone', 'cache', SINGLE],
    ['replicationcontroller-create', 'worker', SINGLE],
    ['job-create', 'migrate', SINGLE],
  ] as const)('finds the container of %s under /spec/template/spec', (fixture, name, image) => {
    expect(walk(fixture)).toEqual([{ pointer: `${TEMPLATE}/containers/0/image`, image, location: 'containers', name }]);
  });

  it('finds the template of a controlled ReplicaSet too (skipping it is the admission layer’s call)', () => {
    expect(walk('replicaset-owned-by-deployment').map((field) => field.pointer)).toEqual([
      `${TEMPLATE}/containers/0/image`,
      `${TEMPLATE}/containers/1/image`,
    ]);
  });

  it('finds a CronJob’s containers inside its job template', () => {
    expect(walk('cronjob-create')).toEqual([
      { pointer: '/spec/jobTemplate/spec/template/spec/containers/0/image', image: SINGLE, location: 'containers', name: 'backup' },
      { pointer: '/spec/jobTemplate/spec/template/spec/containers/1/image', image: 'curlimages/curl:8.8.0', location: 'containers', name: 'notify' },
    ]);
  });

  it('finds the containers of a Job a CronJob created', () => {
    expect(walk('job-owned-by-cronjob').map((field) => [field.pointer, field.name])).toEqual([
      [`${TEMPLATE}/containers/0/image`, 'backup'],
      [`${TEMPLATE}/containers/1/image`, 'notify'],
    ]);
  });

  it('finds a PodTemplate’s containers under /template/spec', () => {
    expect(walk('podtemplate-create')).toEqual([
      { pointer: '/template/spec/containers/0/image', image: MULTI, location: 'containers', name: 'worker' },
    ]);
  });

  it('finds nothing in a kind without a pod spec, even when its data names an image', () => {
    expect(walk('configmap-create')).toEqual([]);
  });

  it('finds nothing in the null oldObject of a CREATE', () => {
    expect(walk('pod-create', 'oldObject')).toEqual([]);
  });

  it('finds image volumes in a workload template', () => {
    const object = { spec: { template: { spec: { volumes: [{ name: 'weights', image: { reference: 'quay.io/x/y:1' } }] } } } };
    expect(findImageFields('StatefulSet', object)).toEqual([
      { pointer: `${TEMPLATE}/volumes/0/image/reference`, image: 'quay.io/x/y:1', location: 'volumes', name: 'weights' },
    ]);
  });

  it('keeps the index of the entry in the pointer when earlier entries are skipped', () => {
    const object = { spec: { containers: [{ name: 'a' }, { name: 'b', image: 'b:1' }] } };
    expect(findImageFields('Pod', object)).toEqual([{ pointer: '/spec/containers/1/image', image: 'b:1', location: 'containers', name: 'b' }]);
  });

  it('reports an empty image, for the admission layer to judge', () => {
    expect(findImageFields('Pod', { spec: { containers: [{ name: 'a', image: '' }] } })).toEqual([
      { pointer: '/spec/containers/0/image', image: '', location: 'containers', name: 'a' },
    ]);
  });

  it('reports a blank image (OpenShift’s trigger placeholder) as written', () => {
    expect(findImageFields('Deployment', { spec: { template: { spec: { containers: [{ name: 'a', image: ' ' }] } } } })[0]?.image).toBe(' ');
  });

  describe('on a malformed object', () => {
    it.each([
      ['a null object', null],
      ['a string object', 'Pod'],
      ['an array object', [{ spec: {} }]],
      ['no spec', { metadata: {} }],
      ['a null spec', { spec: null }],
      ['an array spec', { spec: [{ containers: [{ name: 'a', image: 'a' }] }] }],
      ['null containers', { spec: { containers: null } }],
      ['containers as an object', { spec: { containers: { name: 'a', image: 'a' } } }],
      ['containers as a string', { spec: { containers: 'a' } }],
      ['a null container', { spec: { containers: [null] } }],
      ['a container without image', { spec: { containers: [{ name: 'a' }] } }],
      ['a numeric image', { spec: { containers: [{ name: 'a', image: 42 }] } }],
      ['an object image', { spec: { containers: [{ name: 'a', image: { reference: 'a' } }] } }],
      ['a null image', { spec: { initContainers: [{ name: 'a', image: null }] } }],
      ['a container without name', { spec: { containers: [{ image: 'a' }] } }],
      ['a container with an empty name', { spec: { containers: [{ name: '', image: 'a' }] } }],
      ['a container with a numeric name', { spec: { containers: [{ name: 7, image: 'a' }] } }],
      ['a volume without name', { spec: { volumes: [{ image: { reference: 'a' } }] } }],
      ['an image volume without reference', { spec: { volumes: [{ name: 'v', image: { pullPolicy: 'Always' } }] } }],
      ['an image volume with a numeric reference', { spec: { volumes: [{ name: 'v', image: { reference: 1 } }] } }],
      ['a string image volume source', { spec: { volumes: [{ name: 'v', image: 'a' }] } }],
      ['null volumes', { spec: { volumes: null } }],
    ])('finds nothing with %s, without throwing', (_, object) => {
      expect(findImageFields('Pod', object)).toEqual([]);
    });

    it('finds nothing when the template is missing', () => {
      expect(findImageFields('Deployment', { spec: { replicas: 1 } })).toEqual([]);
    });

    it('finds nothing for an unknown kind that looks like a Pod', () => {
      expect(findImageFields('Widget', { spec: { containers: [{ name: 'a', image: 'a' }] } })).toEqual([]);
    });

    it('still finds the well-formed entries next to malformed ones', () => {
      const object = { spec: { containers: [null, 5, { name: 'ok', image: 'ok:1' }, { name: 'bad', image: false }] } };
      expect(findImageFields('Pod', object).map((field) => field.pointer)).toEqual(['/spec/containers/2/image']);
    });
  });
});

describe('findImageFields (property)', () => {
  const kind = fc.constantFrom(...POD_SPEC_KINDS, 'ConfigMap');
  /** JSON shaped loosely like a pod spec, so that the walker gets past the first step often. */
  const entry = fc.oneof(
    fc.jsonValue(),
    fc.record({ name: fc.oneof(fc.string(), fc.jsonValue()), image: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }),
    fc.record({ name: fc.string(), image: fc.oneof(fc.jsonValue(), fc.record({ reference: fc.oneof(fc.string(), fc.jsonValue()) })) }),
  );
  const list = fc.oneof(fc.jsonValue(), fc.array(entry, { maxLength: 4 }));
  const spec = fc.oneof(fc.jsonValue(), fc.record({ containers: list, initContainers: list, ephemeralContainers: list, volumes: list }, { requiredKeys: [] }));
  const object = fc.oneof(
    fc.jsonValue(),
    fc.record({ spec }),
    fc.record({ spec: fc.record({ template: fc.record({ spec }) }) }),
    fc.record({ template: fc.record({ spec }) }),
    fc.record({ spec: fc.record({ jobTemplate: fc.record({ spec: fc.record({ template: fc.record({ spec }) }) }) }) }),
  );

  it('never throws, and every pointer addresses the image it reports', () => {
    fc.assert(
      fc.property(kind, object, (k, o) => {
        for (const field of findImageFields(k, o)) {
          expect(valueAt(o, field.pointer)).toBe(field.image);
          expect(field.name).not.toBe('');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('fieldKey', () => {
  it('is location/name', () => {
    expect(fieldKey({ location: 'volumes', name: 'models' })).toBe('volumes/models');
  });

  it('tells apart a container and an init container of the same name', () => {
    expect(fieldKey({ location: 'containers', name: 'a' })).not.toBe(fieldKey({ location: 'initContainers', name: 'a' }));
  });
});
