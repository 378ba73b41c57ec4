import type { Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { ORIGINAL_IMAGES_ANNOTATION } from '../../src/patch/annotation.js';
import { buildPatch, encodePatch, type Pin } from '../../src/patch/build.js';
import { InvalidPinError } from '../../src/patch/errors.js';
import { podSpecLocation } from '../../src/workload/kinds.js';
import { imagesToPin } from '../../src/workload/operations.js';
import { findImageFields, type ImageField } from '../../src/workload/walker.js';
import { type AdmissionFixture, loadAdmissionReview } from '../fixtures/admission/load.js';
import { applyTo, at, changedPaths, pinnedOf, pinsFor } from './helpers.js';

const REGISTRY = 'registry.test:5000';
const SINGLE = `${REGISTRY}/dp/single:v1`;
const MULTI = `${REGISTRY}/dp/multi:v1`;
const V2 = `${REGISTRY}/dp/v2:v1`;
const KEY = 'digest-pinner.io~1original-images';

interface Case {
  readonly kind: string;
  readonly object: unknown;
  readonly pins: Pin[];
}

/** The request of a fixture with pins for every field imagesToPin picks that is not already pinned. */
function fixtureCase(name: AdmissionFixture): Case {
  const { request } = loadAdmissionReview(name, REGISTRY);
  const kind = request.kind.kind;
  const fields = imagesToPin({ kind, operation: request.operation, subResource: request.subResource, object: request.object, oldObject: request.oldObject });
  return { kind, object: request.object, pins: pinsFor(fields) };
}

function patched({ kind, object, pins }: Case): { operations: Operation[]; result: unknown } {
  const operations = buildPatch({ object, kind, pins });
  return { operations, result: applyTo(object, operations) };
}

function annotationOf(document: unknown, metadataPointer: string): unknown {
  return at(document, `${metadataPointer}/annotations/${KEY}`);
}

const field = (pointer: string, image: string, name = 'app'): ImageField => ({ pointer, image, location: 'containers', name });

const FIXTURES_WITH_PINS = [
  'pod-create', 'pod-dryrun', 'pod-ephemeralcontainers', 'pod-from-replicaset', 'deployment-create', 'deployment-update-image',
  'statefulset-create', 'daemonset-create', 'replicaset-owned-by-deployment', 'replicaset-standalone',
  'replicationcontroller-create', 'job-create', 'job-owned-by-cronjob', 'cronjob-create', 'podtemplate-create',
] as const;

describe('buildPatch', () => {
  it('pins a Pod’s container, init container and image volume, and leaves the pinned one alone', () => {
    const input = fixtureCase('pod-create');
    const { operations, result } = patched(input);
    const original = '{"containers/app":"' + MULTI + '","initContainers/migrate":"' + SINGLE + '","volumes/models":"' + V2 + '"}';
    expect(operations).toEqual([
      { op: 'test', path: '/spec/containers/0/image', value: MULTI },
      { op: 'replace', path: '/spec/containers/0/image', value: pinnedOf(MULTI, 0) },
      { op: 'test', path: '/spec/initContainers/0/image', value: SINGLE },
      { op: 'replace', path: '/spec/initContainers/0/image', value: pinnedOf(SINGLE, 1) },
      { op: 'test', path: '/spec/volumes/0/image/reference', value: V2 },
      { op: 'replace', path: '/spec/volumes/0/image/reference', value: pinnedOf(V2, 2) },
      { op: 'add', path: `/metadata/annotations/${KEY}`, value: original },
    ]);
    expect(at(result, '/spec/containers/0/image')).toBe(pinnedOf(MULTI, 0));
    expect(at(result, '/spec/containers/1/image')).toBe(at(input.object, '/spec/containers/1/image'));
    expect(at(result, '/spec/initContainers/0/image')).toBe(pinnedOf(SINGLE, 1));
    expect(at(result, '/spec/volumes/0/image/reference')).toBe(pinnedOf(V2, 2));
    expect(at(result, '/metadata/annotations')).toEqual({
      'kubectl.kubernetes.io/last-applied-configuration': at(input.object, '/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration'),
      [ORIGINAL_IMAGES_ANNOTATION]: original,
    });
  });

  it('leaves everything but the pinned fields and the annotation as it was', () => {
    const input = fixtureCase('pod-create');
    const { result } = patched(input);
    const expected = structuredClone(input.object) as {
      metadata: { annotations: Record<string, string> };
      spec: { containers: { image: string }[]; initContainers: { image: string }[]; volumes: { image?: { reference: string } }[] };
    };
    const [app] = expected.spec.containers;
    const [migrate] = expected.spec.initContainers;
    const [models] = expected.spec.volumes;
    if (app === undefined || migrate === undefined || models?.image === undefined) throw new Error('fixture changed shape');
    app.image = pinnedOf(MULTI, 0);
    migrate.image = pinnedOf(SINGLE, 1);
    models.image.reference = pinnedOf(V2, 2);
    expected.metadata.annotations[ORIGINAL_IMAGES_ANNOTATION] = `{"containers/app":"${MULTI}","initContainers/migrate":"${SINGLE}","volumes/models":"${V2}"}`;
    expect(result).toEqual(expected);
  });

  it('annotates a Deployment’s pod template, adding its annotations, and not the Deployment', () => {
    const input = fixtureCase('deployment-create');
    const { operations, result } = patched(input);
    const value = `{"containers/app":"${MULTI}","containers/metrics":"${SINGLE}"}`;
    expect(operations.at(-1)).toEqual({ op: 'add', path: '/spec/template/metadata/annotations', value: { [ORIGINAL_IMAGES_ANNOTATION]: value } });
    expect(at(result, '/spec/template/metadata')).toEqual({ creationTimestamp: null, labels: { app: 'web' }, annotations: { [ORIGINAL_IMAGES_ANNOTATION]: value } });
    expect(at(result, '/metadata/annotations')).toEqual(at(input.object, '/metadata/annotations'));
    expect(at(result, '/spec/template/spec/containers/0/image')).toBe(pinnedOf(MULTI, 0));
    expect(at(result, '/spec/template/spec/containers/1/image')).toBe(pinnedOf(SINGLE, 1));
  });

  it('adds the annotation next to a template’s existing ones', () => {
    const { result } = patched(fixtureCase('statefulset-create'));
    expect(at(result, '/spec/template/metadata/annotations')).toEqual({
      'prometheus.io/scrape': 'true',
      [ORIGINAL_IMAGES_ANNOTATION]: `{"containers/db":"${V2}","initContainers/init-config":"${SINGLE}"}`,
    });
  });

  it('annotates a CronJob’s pod template inside its job template', () => {
    const { operations, result } = patched(fixtureCase('cronjob-create'));
    expect(operations.at(-1)?.path).toBe('/spec/jobTemplate/spec/template/metadata/annotations');
    expect(annotationOf(result, '/spec/jobTemplate/spec/template/metadata')).toBe(
      `{"containers/backup":"${SINGLE}","containers/notify":"curlimages/curl:8.8.0"}`,
    );
    expect(at(result, '/spec/jobTemplate/spec/template/spec/containers/1/image')).toBe(pinnedOf('curlimages/curl:8.8.0', 1));
  });

  it('annotates a PodTemplate under /template/metadata', () => {
    const { result } = patched(fixtureCase('podtemplate-create'));
    expect(annotationOf(result, '/template/metadata')).toBe(`{"containers/worker":"${MULTI}"}`);
    expect(at(result, '/template/spec/containers/0/image')).toBe(pinnedOf(MULTI, 0));
  });

  it('merges with the annotation of a Deployment pinned before, keeping the unchanged field’s entry', () => {
    const input = fixtureCase('deployment-update-image');
    const { operations, result } = patched(input);
    const path = `/spec/template/metadata/annotations/${KEY}`;
    expect(operations.slice(-2)).toEqual([
      { op: 'test', path, value: `{"containers/app":"${MULTI}","containers/metrics":"${SINGLE}"}` },
      { op: 'replace', path, value: `{"containers/app":"${V2}","containers/metrics":"${SINGLE}"}` },
    ]);
    expect(at(result, '/spec/template/spec/containers/0/image')).toBe(pinnedOf(V2, 0));
    expect(at(result, '/spec/template/spec/containers/1/image')).toBe(at(input.object, '/spec/template/spec/containers/1/image'));
  });

  it('adds a debug container’s entry to a Pod’s annotation', () => {
    const { result } = patched(fixtureCase('pod-ephemeralcontainers'));
    expect(annotationOf(result, '/metadata')).toBe(
      `{"containers/app":"${MULTI}","ephemeralContainers/debugger-4hx9w":"busybox:1.36","ephemeralContainers/debugger-q7t5z":"${SINGLE}"}`,
    );
    expect(at(result, '/spec/ephemeralContainers/1/image')).toBe(pinnedOf(SINGLE, 0));
  });

  it.each(FIXTURES_WITH_PINS)('changes only the pinned fields and the annotation of %s', (fixture) => {
    const input = fixtureCase(fixture);
    const { result } = patched(input);
    const metadata = podSpecLocation(input.kind)?.metadataPointer ?? '';
    const annotationPaths = [metadata, `${metadata}/annotations`, `${metadata}/annotations/${KEY}`];
    const changed = changedPaths(input.object, result);
    expect(changed.filter((path) => !annotationPaths.includes(path)).sort()).toEqual(input.pins.map((pin) => pin.field.pointer).sort());
    expect(changed.filter((path) => annotationPaths.includes(path))).toHaveLength(1);
  });

  it.each(FIXTURES_WITH_PINS)('finds nothing left to pin in patched %s', (fixture) => {
    const input = fixtureCase(fixture);
    const { result } = patched(input);
    const again = pinsFor(findImageFields(input.kind, result));
    expect(again).toEqual([]);
    expect(buildPatch({ object: result, kind: input.kind, pins: again })).toEqual([]);
    expect(imagesToPin({ kind: input.kind, operation: 'UPDATE', object: result, oldObject: result })).toEqual([]);
  });

  it('returns no operations when there is nothing to pin', () => {
    const { kind, object } = fixtureCase('pod-create');
    expect(buildPatch({ object, kind, pins: [] })).toEqual([]);
  });

  it('returns no operations for an unknown kind with nothing to pin', () => {
    expect(buildPatch({ object: {}, kind: 'ConfigMap', pins: [] })).toEqual([]);
  });

  it('puts a test of the old image before each replace, so a changed object rejects the patch', () => {
    const input = fixtureCase('deployment-create');
    const operations = buildPatch({ object: input.object, kind: input.kind, pins: input.pins });
    const moved = applyTo(input.object, [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'nginx:1.27' }]);
    expect(() => applyTo(moved, operations)).toThrow(/test operation failed/i);
  });

  it('does not change its input', () => {
    const input = fixtureCase('pod-ephemeralcontainers');
    const before = structuredClone(input);
    buildPatch({ object: input.object, kind: input.kind, pins: input.pins });
    expect(input).toEqual(before);
  });

  it('writes the same annotation whatever the order of the pins', () => {
    const input = fixtureCase('pod-create');
    const forward = buildPatch({ object: input.object, kind: input.kind, pins: input.pins });
    const backward = buildPatch({ object: input.object, kind: input.kind, pins: [...input.pins].reverse() });
    expect(backward.at(-1)).toEqual(forward.at(-1));
  });

  describe('metadata shapes', () => {
    const pod = (extra: Record<string, unknown>): unknown => ({ kind: 'Pod', apiVersion: 'v1', ...extra, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } });
    const pin: Pin = { field: field('/spec/containers/0/image', 'nginx:1.27'), pinned: pinnedOf('nginx:1.27', 0) };
    const recorded = '{"containers/app":"nginx:1.27"}';

    it('adds metadata to a Pod that has none', () => {
      const object = pod({});
      const operations = buildPatch({ object, kind: 'Pod', pins: [pin] });
      expect(operations.at(-1)).toEqual({ op: 'add', path: '/metadata', value: { annotations: { [ORIGINAL_IMAGES_ANNOTATION]: recorded } } });
      expect(at(applyTo(object, operations), '/metadata')).toEqual({ annotations: { [ORIGINAL_IMAGES_ANNOTATION]: recorded } });
    });

    it('replaces null metadata', () => {
      const object = pod({ metadata: null });
      expect(annotationOf(applyTo(object, buildPatch({ object, kind: 'Pod', pins: [pin] })), '/metadata')).toBe(recorded);
    });

    it('adds annotations to metadata that has none, keeping its other members', () => {
      const object = pod({ metadata: { name: 'web', labels: { app: 'web' } } });
      const result = applyTo(object, buildPatch({ object, kind: 'Pod', pins: [pin] }));
      expect(at(result, '/metadata')).toEqual({ name: 'web', labels: { app: 'web' }, annotations: { [ORIGINAL_IMAGES_ANNOTATION]: recorded } });
    });

    it('replaces null annotations', () => {
      const object = pod({ metadata: { annotations: null } });
      expect(annotationOf(applyTo(object, buildPatch({ object, kind: 'Pod', pins: [pin] })), '/metadata')).toBe(recorded);
    });

    it('adds template metadata to a Deployment whose template has none', () => {
      const { object } = fixtureCase('deployment-create');
      const bare = applyTo(object, [{ op: 'remove', path: '/spec/template/metadata' }]);
      const pins = pinsFor(findImageFields('Deployment', bare));
      const operations = buildPatch({ object: bare, kind: 'Deployment', pins });
      expect(operations.at(-1)?.op).toBe('add');
      expect(operations.at(-1)?.path).toBe('/spec/template/metadata');
      expect(at(applyTo(bare, operations), '/spec/template/metadata')).toEqual({
        annotations: { [ORIGINAL_IMAGES_ANNOTATION]: `{"containers/app":"${MULTI}","containers/metrics":"${SINGLE}"}` },
      });
    });

    it('escapes the / of the annotation key in the pointer', () => {
      const object = pod({ metadata: { annotations: {} } });
      expect(buildPatch({ object, kind: 'Pod', pins: [pin] }).at(-1)).toEqual({ op: 'add', path: '/metadata/annotations/digest-pinner.io~1original-images', value: recorded });
    });
  });

  describe('an existing annotation', () => {
    const podWith = (annotation: unknown, containers: unknown[] = [{ name: 'app', image: 'nginx:1.27' }]): unknown => ({
      metadata: { annotations: { [ORIGINAL_IMAGES_ANNOTATION]: annotation } },
      spec: { containers },
    });
    const pin: Pin = { field: field('/spec/containers/0/image', 'nginx:1.27'), pinned: pinnedOf('nginx:1.27', 0) };
    const written = (object: unknown): unknown => annotationOf(applyTo(object, buildPatch({ object, kind: 'Pod', pins: [pin] })), '/metadata');

    it.each(['not json', '', '{"containers/app":', '["containers/app"]', '"text"', 'null', '42'])(
      'is replaced when it is %j, which is no JSON object',
      (value) => {
        expect(written(podWith(value))).toBe('{"containers/app":"nginx:1.27"}');
      },
    );

    it('is replaced when it is not a string', () => {
      expect(written(podWith(7))).toBe('{"containers/app":"nginx:1.27"}');
    });

    it('loses entries that are not strings', () => {
      const object = podWith('{"containers/app":"old:1","containers/side":5}', [{ name: 'app', image: 'nginx:1.27' }, { name: 'side', image: 's:1' }]);
      expect(written(object)).toBe('{"containers/app":"nginx:1.27"}');
    });

    it('loses entries of fields the object no longer has', () => {
      const object = podWith('{"containers/gone":"g:1","initContainers/app":"i:1","containers/side":"s:0"}', [{ name: 'app', image: 'nginx:1.27' }, { name: 'side', image: `s@sha256:${'c'.repeat(64)}` }]);
      expect(written(object)).toBe('{"containers/app":"nginx:1.27","containers/side":"s:0"}');
    });

    it('has its entry for a re-pinned field overwritten', () => {
      expect(written(podWith('{"containers/app":"nginx:1.26"}'))).toBe('{"containers/app":"nginx:1.27"}');
    });
  });

  describe('pins that do not describe the object', () => {
    const object = { spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };

    it('rejects a pin whose field holds another image', () => {
      const call = (): Operation[] => buildPatch({ object, kind: 'Pod', pins: [{ field: field('/spec/containers/0/image', 'nginx:1.26'), pinned: 'x' }] });
      expect(call).toThrow(InvalidPinError);
      expect(call).toThrow('cannot pin the image at /spec/containers/0/image: the object holds "nginx:1.27" there, not "nginx:1.26"');
    });

    it('rejects a pin whose field is not there', () => {
      const call = (): Operation[] => buildPatch({ object, kind: 'Pod', pins: [{ field: field('/spec/containers/1/image', 'nginx:1.27'), pinned: 'x' }] });
      expect(call).toThrow('the object holds nothing there');
    });

    it('rejects a field pinned twice', () => {
      const pin: Pin = { field: field('/spec/containers/0/image', 'nginx:1.27'), pinned: 'x' };
      expect(() => buildPatch({ object, kind: 'Pod', pins: [pin, pin] })).toThrow('it is pinned twice');
    });

    it('rejects pins for a kind without a pod spec', () => {
      const pin: Pin = { field: field('/spec/containers/0/image', 'nginx:1.27'), pinned: 'x' };
      expect(() => buildPatch({ object, kind: 'ConfigMap', pins: [pin] })).toThrow('a ConfigMap has no pod spec');
    });

    it('carries a stable code and the pointer', () => {
      try {
        buildPatch({ object, kind: 'Pod', pins: [{ field: field('/spec/containers/0/image', 'other'), pinned: 'x' }] });
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidPinError);
        expect(error).toMatchObject({ code: 'DP_ERR_INVALID_PIN', name: 'InvalidPinError', pointer: '/spec/containers/0/image' });
      }
    });
  });
});

describe('encodePatch', () => {
  it('is the base64 of the JSON of the operations', () => {
    const operations: Operation[] = [{ op: 'replace', path: '/spec/containers/0/image', value: 'nginx:1.27@sha256:' + 'a'.repeat(64) }];
    const encoded = encodePatch(operations);
    expect(encoded).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'))).toEqual(operations);
  });

  it('encodes no operations as []', () => {
    expect(Buffer.from(encodePatch([]), 'base64').toString('utf8')).toBe('[]');
  });

  it('keeps non-ASCII text intact', () => {
    const operations: Operation[] = [{ op: 'add', path: '/metadata/annotations/note', value: 'café ☕' }];
    expect(JSON.parse(Buffer.from(encodePatch(operations), 'base64').toString('utf8'))).toEqual(operations);
  });
});
