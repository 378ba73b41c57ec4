/** The answer memo over HTTPS against the real registry: a ReplicaSet's pods cost one resolution, and a tag pushed again is seen once the cache would see it. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { countRequests, pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import { pinnedImages, startTestWebhook, type TestWebhook } from '../support/webhook.js';

const registries = inject('registries');
const plain = registries.plain;
const TTL_MS = 60_000;

let serial = 0;
/** A Pod as a ReplicaSet creates it: the template's spec, a generated name, its own uid. */
function replicaPod(images: readonly string[]) {
  serial += 1;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `memo-uid-${serial}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'team-memo',
      operation: 'CREATE',
      dryRun: false,
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: 'web-7d9f-', name: `web-7d9f-${serial}`, namespace: 'team-memo', labels: { 'pod-template-hash': '7d9f' } },
        spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })), serviceAccountName: 'default' },
      },
      oldObject: null,
    },
  };
}

describe('answer memo', () => {
  let webhook: TestWebhook;
  const clock = { ms: Date.now() };
  beforeAll(async () => {
    webhook = await startTestWebhook(registries, { now: () => clock.ms, cacheTtlMs: TTL_MS });
  });
  afterAll(async () => {
    await webhook.close();
  });

  it("answers a ReplicaSet's further pods without asking the registry, with the same patch and each pod's uid", async () => {
    const images = await Promise.all([pushImage(plain, 'memo/web', 'v1'), pushImage(plain, 'memo/proxy', 'v1')]);
    const refs = [`${plain.host}/memo/web:v1`, `${plain.host}/memo/proxy:v1`];
    const heads = () => countRequests(plain, { method: 'HEAD', pathIncludes: '/v2/memo/' });
    const first = await webhook.review('/mutate', replicaPod(refs));
    const headsAfterFirst = await heads();
    const others = await Promise.all([1, 2, 3].map(() => webhook.review('/mutate', replicaPod(refs))));
    expect(pinnedImages(first)).toEqual(refs.map((ref, i) => `${ref}@${images[i]?.digest}`));
    for (const answer of others) {
      expect(answer.response.patch).toBe(first.response.patch);
      expect(answer.response.warnings).toBeUndefined();
    }
    expect(new Set(others.map((a) => a.response.uid)).size).toBe(3);
    expect(await heads()).toBe(headsAfterFirst);
    expect(webhook.memo?.size).toBe(1);
  });

  it('pins the new digest of a tag pushed again once the cache TTL has passed, not before', async () => {
    const before = await pushImage(plain, 'memo/moving', 'stable');
    const ref = `${plain.host}/memo/moving:stable`;
    expect(pinnedImages(await webhook.review('/mutate', replicaPod([ref])))).toEqual([`${ref}@${before.digest}`]);
    const after = await pushImage(plain, 'memo/moving', 'stable');
    expect(after.digest).not.toBe(before.digest);
    clock.ms += TTL_MS - 1_000;
    expect(pinnedImages(await webhook.review('/mutate', replicaPod([ref])))).toEqual([`${ref}@${before.digest}`]);
    clock.ms += 1_000;
    expect(pinnedImages(await webhook.review('/mutate', replicaPod([ref])))).toEqual([`${ref}@${after.digest}`]);
  });

  it('never remembers a pod with an image that failed: the registry is asked again on the repeat', async () => {
    const ref = `${plain.host}/memo/absent:v1`;
    const gets = () => countRequests(plain, { method: 'HEAD', pathIncludes: '/v2/memo/absent/' });
    const first = await webhook.review('/mutate', replicaPod([ref]));
    const afterFirst = await gets();
    const second = await webhook.review('/mutate', replicaPod([ref]));
    expect(first.response.warnings?.[0]).toContain('not pinned');
    expect(second.response.warnings).toEqual(first.response.warnings);
    // No negative caching in this webhook: the repeat asked the registry again.
    expect(await gets()).toBeGreaterThan(afterFirst);
  });
});
