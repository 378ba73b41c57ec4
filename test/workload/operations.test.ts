import { describe, expect, it } from 'vitest';
import { EPHEMERAL_CONTAINERS_SUBRESOURCE, imagesToPin, type PinRequest } from '../../src/workload/operations.js';
import { findImageFields } from '../../src/workload/walker.js';
import { type AdmissionFixture, loadAdmissionReview } from '../fixtures/admission/load.js';

const REGISTRY = 'registry.test:5000';

function pinRequest(name: AdmissionFixture): PinRequest {
  const { request } = loadAdmissionReview(name, REGISTRY);
  return {
    kind: request.kind.kind,
    operation: request.operation,
    subResource: request.subResource,
    object: request.object,
    oldObject: request.oldObject,
  };
}

const pod = (containers: unknown, extra: Record<string, unknown> = {}): unknown => ({ spec: { containers, ...extra } });

describe('imagesToPin', () => {
  describe('CREATE', () => {
    it.each([
      'pod-create', 'pod-dryrun', 'pod-from-replicaset', 'deployment-create', 'statefulset-create', 'daemonset-create',
      'replicaset-owned-by-deployment', 'replicaset-standalone', 'replicationcontroller-create', 'job-create',
      'job-owned-by-cronjob', 'cronjob-create', 'podtemplate-create',
    ] as const)('pins every image field of %s', (fixture) => {
      const request = pinRequest(fixture);
      const fields = imagesToPin(request);
      expect(fields).toEqual(findImageFields(request.kind, request.object));
      expect(fields.length).toBeGreaterThan(0);
    });

    it('pins nothing in a ConfigMap', () => {
      expect(imagesToPin(pinRequest('configmap-create'))).toEqual([]);
    });

    it('treats an empty subResource as the main resource', () => {
      expect(imagesToPin({ ...pinRequest('pod-create'), subResource: '' })).toHaveLength(4);
    });
  });

  describe('UPDATE', () => {
    it('pins nothing when only labels changed', () => {
      expect(imagesToPin(pinRequest('pod-update-unchanged-images'))).toEqual([]);
    });

    it('pins only the container whose image changed', () => {
      expect(imagesToPin(pinRequest('deployment-update-image'))).toEqual([
        { pointer: '/spec/template/spec/containers/0/image', image: `${REGISTRY}/dp/v2:v1`, location: 'containers', name: 'app' },
      ]);
    });

    it('pins a container the old object lacks', () => {
      const fields = imagesToPin({
        kind: 'Pod', operation: 'UPDATE',
        object: pod([{ name: 'a', image: 'a:1' }, { name: 'b', image: 'b:1' }]),
        oldObject: pod([{ name: 'a', image: 'a:1' }]),
      });
      expect(fields.map((field) => field.name)).toEqual(['b']);
    });

    it('matches containers by name, not by index', () => {
      const fields = imagesToPin({
        kind: 'Pod', operation: 'UPDATE',
        object: pod([{ name: 'b', image: 'b:1' }, { name: 'a', image: 'a:1' }]),
        oldObject: pod([{ name: 'a', image: 'a:1' }, { name: 'b', image: 'b:1' }]),
      });
      expect(fields).toEqual([]);
    });

    it('pins a renamed container', () => {
      const fields = imagesToPin({
        kind: 'Pod', operation: 'UPDATE',
        object: pod([{ name: 'new', image: 'a:1' }]),
        oldObject: pod([{ name: 'old', image: 'a:1' }]),
      });
      expect(fields.map((field) => field.pointer)).toEqual(['/spec/containers/0/image']);
    });

    it('matches by location too: an init container is no counterpart of a container', () => {
      const fields = imagesToPin({
        kind: 'Pod', operation: 'UPDATE',
        object: pod([{ name: 'a', image: 'a:1' }]),
        oldObject: { spec: { initContainers: [{ name: 'a', image: 'a:1' }] } },
      });
      expect(fields.map((field) => field.location)).toEqual(['containers']);
    });

    it('pins a changed image volume and leaves the unchanged container alone', () => {
      const object = pod([{ name: 'a', image: 'a:1' }], { volumes: [{ name: 'm', image: { reference: 'm:2' } }] });
      const oldObject = pod([{ name: 'a', image: 'a:1' }], { volumes: [{ name: 'm', image: { reference: 'm:1' } }] });
      expect(imagesToPin({ kind: 'Pod', operation: 'UPDATE', object, oldObject })).toEqual([
        { pointer: '/spec/volumes/0/image/reference', image: 'm:2', location: 'volumes', name: 'm' },
      ]);
    });

    it('pins an image whose old counterpart was not a string', () => {
      const fields = imagesToPin({ kind: 'Pod', operation: 'UPDATE', object: pod([{ name: 'a', image: 'a:1' }]), oldObject: pod([{ name: 'a', image: 7 }]) });
      expect(fields).toHaveLength(1);
    });

    it('pins every field when there is no oldObject', () => {
      const request = pinRequest('deployment-update-image');
      expect(imagesToPin({ ...request, oldObject: undefined })).toHaveLength(2);
      expect(imagesToPin({ ...request, oldObject: null })).toHaveLength(2);
    });

    it('leaves a changed pinned image to the admission layer’s filter (it is reported)', () => {
      const fields = imagesToPin({
        kind: 'Pod', operation: 'UPDATE',
        object: pod([{ name: 'a', image: `a@sha256:${'b'.repeat(64)}` }]),
        oldObject: pod([{ name: 'a', image: 'a:1' }]),
      });
      expect(fields).toHaveLength(1);
    });

    it('ignores ephemeral containers already in the old object on a main-resource update', () => {
      const ephemeral = { ephemeralContainers: [{ name: 'debugger', image: 'busybox:1.36' }] };
      const object = pod([{ name: 'a', image: 'a:1' }], ephemeral);
      expect(imagesToPin({ kind: 'Pod', operation: 'UPDATE', object, oldObject: object })).toEqual([]);
    });
  });

  describe('UPDATE of pods/ephemeralcontainers', () => {
    it('pins only the new debug container', () => {
      expect(imagesToPin(pinRequest('pod-ephemeralcontainers'))).toEqual([
        { pointer: '/spec/ephemeralContainers/1/image', image: `${REGISTRY}/dp/single:v1`, location: 'ephemeralContainers', name: 'debugger-q7t5z' },
      ]);
    });

    it('ignores changes to regular containers in the same request', () => {
      const request = pinRequest('pod-ephemeralcontainers');
      const changed = structuredClone(request.object) as { spec: { containers: { image: string }[] } };
      const [first] = changed.spec.containers;
      if (first === undefined) throw new Error('fixture has no container');
      first.image = 'other:1';
      expect(imagesToPin({ ...request, object: changed }).map((field) => field.name)).toEqual(['debugger-q7t5z']);
    });

    it('pins every ephemeral container when the old Pod had none', () => {
      const request = pinRequest('pod-ephemeralcontainers');
      expect(imagesToPin({ ...request, oldObject: pod([]) }).map((field) => field.name)).toEqual(['debugger-4hx9w', 'debugger-q7t5z']);
    });

    it('matches by name: an existing debug container is never re-pinned', () => {
      const request = pinRequest('pod-ephemeralcontainers');
      expect(imagesToPin({ ...request, oldObject: request.object })).toEqual([]);
    });

    it('pins nothing for a kind other than Pod', () => {
      expect(imagesToPin({ ...pinRequest('pod-ephemeralcontainers'), kind: 'Deployment' })).toEqual([]);
    });

    it('pins nothing on CREATE', () => {
      expect(imagesToPin({ ...pinRequest('pod-ephemeralcontainers'), operation: 'CREATE' })).toEqual([]);
    });

    it('names the subresource as kube-apiserver does', () => {
      expect(EPHEMERAL_CONTAINERS_SUBRESOURCE).toBe(pinRequest('pod-ephemeralcontainers').subResource);
    });
  });

  describe('other operations and subresources', () => {
    it.each(['DELETE', 'CONNECT'] as const)('pins nothing on %s', (operation) => {
      expect(imagesToPin({ ...pinRequest('pod-create'), operation })).toEqual([]);
    });

    it.each(['status', 'scale', 'binding', 'resize'])('pins nothing on UPDATE of the %s subresource', (subResource) => {
      expect(imagesToPin({ ...pinRequest('deployment-update-image'), subResource })).toEqual([]);
    });

    it('pins nothing on CREATE of a subresource', () => {
      expect(imagesToPin({ ...pinRequest('pod-create'), subResource: 'eviction' })).toEqual([]);
    });
  });
});
