/**
 * Every AdmissionReview fixture goes through POST /mutate over real HTTPS; images point at
 * a real Distribution registry, and each patched object is checked field by field against
 * the digests the registry itself reports.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { ADMISSION_FIXTURES, loadAdmissionReview, type AdmissionFixture } from '../fixtures/admission/load.js';
import { findImageFields, podSpecLocation, valueAt } from '../../src/workload/index.js';
import { ORIGINAL_IMAGES_ANNOTATION } from '../../src/patch/index.js';
import { pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import { decodedPatch, startTestWebhook, type TestWebhook } from '../support/webhook.js';

const registries = inject('registries');
const host = registries.plain.host;
const digests = new Map<string, string>();
let webhook: TestWebhook;

beforeAll(async () => {
  const pushed = await Promise.all([
    pushImage(registries.plain, 'dp/single', 'v1'),
    pushImage(registries.plain, 'dp/multi', 'v1', { multiArch: true }),
    pushImage(registries.plain, 'dp/v2', 'v1', { format: 'v2s2' }),
  ]);
  for (const image of pushed) digests.set(`${host}/${image.repository}:${image.tag}`, image.digest);
  // Docker Hub is out of reach here (no network): its images exercise the skip list instead.
  webhook = await startTestWebhook(registries, { skip: ['docker.io/**'] });
});
afterAll(async () => {
  await webhook.close();
});

/** Fixtures whose images are pinned wholesale; the others are checked by their own tests below. */
const CREATE_FIXTURES: readonly AdmissionFixture[] = [
  'pod-create',
  'pod-dryrun',
  'pod-from-replicaset',
  'deployment-create',
  'statefulset-create',
  'daemonset-create',
  'replicaset-standalone',
  'replicationcontroller-create',
  'job-create',
  'cronjob-create',
  'podtemplate-create',
];
const UNCHANGED_FIXTURES: readonly AdmissionFixture[] = [
  'configmap-create',
  'replicaset-owned-by-deployment',
  'job-owned-by-cronjob',
  'pod-update-unchanged-images',
];

function expectedImage(image: string): string {
  const digest = digests.get(image);
  return digest === undefined ? image : `${image}@${digest}`;
}

async function admitFixture(name: AdmissionFixture) {
  const review = loadAdmissionReview(name, host);
  const answer = await webhook.review('/mutate', review);
  return { review, answer, ops: decodedPatch(answer) };
}

function applied(object: unknown, ops: readonly unknown[]): unknown {
  return fastJsonPatch.applyPatch(structuredClone(object), ops as Operation[], true, false).newDocument;
}

describe('POST /mutate with every fixture', () => {
  it('covers every fixture', () => {
    expect([...CREATE_FIXTURES, ...UNCHANGED_FIXTURES, 'deployment-update-image', 'pod-ephemeralcontainers'].sort()).toEqual([...ADMISSION_FIXTURES].sort());
  });

  it.each(CREATE_FIXTURES)('%s: every tag pinned to the digest the registry reports, nothing else changed', async (name) => {
    const { review, answer, ops } = await admitFixture(name);
    expect(answer.response.uid).toBe(review.request.uid);
    expect(answer.response.allowed).toBe(true);
    expect(answer.response.warnings).toBeUndefined();
    expect(answer.response.patchType).toBe('JSONPatch');
    expect(ops).toBeDefined();
    const kind = review.request.kind.kind;
    const before = review.request.object;
    const after = applied(before, ops ?? []);
    const fields = findImageFields(kind, before);
    expect(fields.some((f) => digests.has(f.image))).toBe(true);
    const recorded: Record<string, string> = {};
    for (const field of fields) {
      expect(valueAt(after, field.pointer), field.pointer).toBe(expectedImage(field.image));
      if (digests.has(field.image)) recorded[`${field.location}/${field.name}`] = field.image;
    }
    // The annotation records what each pinned field asked for, on the pod template's metadata.
    const metadata = valueAt(after, podSpecLocation(kind)?.metadataPointer ?? '/metadata') as { annotations?: Record<string, string> };
    const annotation = metadata.annotations?.[ORIGINAL_IMAGES_ANNOTATION];
    expect(annotation).toBeDefined();
    expect(JSON.parse(annotation ?? '{}')).toMatchObject(recorded);
    // Undo the images and the annotation: the rest of the object is exactly what was sent.
    const restored = structuredClone(after) as Record<string, unknown>;
    for (const field of fields) fastJsonPatch.applyOperation(restored, { op: 'replace', path: field.pointer, value: field.image });
    const restoredMetadata = valueAt(restored, podSpecLocation(kind)?.metadataPointer ?? '/metadata') as { annotations?: Record<string, string> };
    const originalMetadata = valueAt(before, podSpecLocation(kind)?.metadataPointer ?? '/metadata') as { annotations?: Record<string, string> } | undefined;
    if (restoredMetadata.annotations !== undefined) {
      const { [ORIGINAL_IMAGES_ANNOTATION]: _dropped, ...rest } = restoredMetadata.annotations;
      if (originalMetadata?.annotations === undefined) delete restoredMetadata.annotations;
      else restoredMetadata.annotations = rest;
    }
    if (originalMetadata === undefined) fastJsonPatch.applyOperation(restored, { op: 'remove', path: podSpecLocation(kind)?.metadataPointer ?? '' });
    expect(restored).toEqual(before);
  });

  it.each(CREATE_FIXTURES)('%s: admitting the pinned object again yields no patch (idempotent)', async (name) => {
    const { review, ops } = await admitFixture(name);
    const pinned = { ...review, request: { ...review.request, uid: `${review.request.uid}-again`, object: applied(review.request.object, ops ?? []) } };
    const again = await webhook.review('/mutate', pinned);
    expect(again.response).toEqual({ uid: `${review.request.uid}-again`, allowed: true });
  });

  it.each(UNCHANGED_FIXTURES)('%s: allowed with no patch', async (name) => {
    const { review, answer } = await admitFixture(name);
    expect(answer).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } });
  });

  it('deployment-update-image: pins only the container whose image changed', async () => {
    const { review, ops } = await admitFixture('deployment-update-image');
    const after = applied(review.request.object, ops ?? []);
    for (const field of findImageFields('Deployment', review.request.object)) {
      const old = valueAt(review.request.oldObject, field.pointer);
      const expected = old === field.image ? field.image : expectedImage(field.image);
      expect(valueAt(after, field.pointer), field.pointer).toBe(expected);
    }
    const changed = (ops ?? []).filter((op) => (op as Operation).op === 'replace' && (op as Operation).path.endsWith('/image'));
    expect(changed).toHaveLength(1);
  });

  it('pod-ephemeralcontainers: pins only the new debug container', async () => {
    const { review, ops } = await admitFixture('pod-ephemeralcontainers');
    const imageOps = (ops ?? []).filter((op) => (op as Operation).op === 'replace' && (op as Operation).path.endsWith('/image')) as Operation[];
    expect(imageOps.map((op) => op.path)).toEqual(['/spec/ephemeralContainers/1/image']);
    const after = applied(review.request.object, ops ?? []);
    expect(valueAt(after, '/spec/ephemeralContainers/1/image')).toBe(expectedImage(`${host}/dp/single:v1`));
    expect(valueAt(after, '/spec/containers')).toEqual(valueAt(review.request.object, '/spec/containers'));
  });
});
