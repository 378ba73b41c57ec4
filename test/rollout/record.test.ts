/**
 * PinRecords as data (src/rollout/record.ts, pods.ts): read from the API's JSON and written back;
 * the first digest for a (field, image) wins; provisional pins are confirmed by a stored Pod that
 * carries them, adopted within the grace, and dropped after it (docs/rollouts.md); running
 * siblings' imageIDs.
 */
import { describe, expect, it } from 'vitest';
import { mergePins, parseRecord, pinsPatch, recordObject, recordView, sameRevision, siblingDigests, type FreshPin } from '../../src/rollout/record.js';
import { fieldDigest, runningDigest } from '../../src/rollout/pods.js';
import { pinKey, type Revision, type StoredRecord } from '../../src/rollout/types.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const UID = '0d7c3f9e-0000-4000-8000-000000000001';
const IMAGE = 'registry.test/shop/web:1.4';
const FIELD = 'containers/app';
const T0 = Date.parse('2030-01-01T00:00:00Z');
const GRACE = 60_000;
const revision: Revision = { namespace: 'shop', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: UID, hash: undefined };

function stored(pins: { digest: string; pinnedAt: number; confirmedAt?: number; field?: string }[]): StoredRecord {
  const object = recordObject(revision, UID, pins.map((pin) => ({ field: pin.field ?? FIELD, image: IMAGE, digest: pin.digest, source: 'registry', pinnedAt: pin.pinnedAt, confirmedAt: pin.confirmedAt })));
  const record = parseRecord({ ...object, metadata: { ...(object['metadata'] as object), uid: 'rec-uid', resourceVersion: '7' } });
  if (record === undefined) throw new Error('record not parsed');
  return record;
}

function podWith(image: string, imageID?: string): unknown {
  return {
    spec: { containers: [{ name: 'app', image }] },
    ...(imageID === undefined ? {} : { status: { containerStatuses: [{ name: 'app', imageID }] } }),
  };
}

describe('PinRecord objects', () => {
  it('are written owned by the revision\'s owner, never blocking its deletion, and read back as written', () => {
    const object = recordObject(revision, UID, [{ field: FIELD, image: IMAGE, digest: digest(1), source: 'registry', pinnedAt: T0 + 1_500, confirmedAt: undefined }]);
    expect(object).toMatchObject({
      apiVersion: 'digest-pinner.io/v1alpha1',
      kind: 'PinRecord',
      metadata: { name: 'replicaset.web-5d8f7c9b4', namespace: 'shop', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: UID, blockOwnerDeletion: false }] },
      spec: { revision: { kind: 'ReplicaSet', name: 'web-5d8f7c9b4', uid: UID }, pins: [{ field: FIELD, image: IMAGE, digest: digest(1), source: 'registry', pinnedAt: '2030-01-01T00:00:01Z' }] },
    });
    const record = stored([{ digest: digest(1), pinnedAt: T0 }]);
    expect(record.pins.get(pinKey(FIELD, IMAGE))).toEqual({ field: FIELD, image: IMAGE, digest: digest(1), source: 'registry', pinnedAt: T0, confirmedAt: undefined });
    expect(sameRevision(record, revision)).toBe(true);
    expect(sameRevision(record, { ...revision, uid: 'a later ReplicaSet of the same name' })).toBe(false);
  });

  it('are updated only at the resourceVersion read', () => {
    expect(pinsPatch('7', [])).toEqual([
      { op: 'replace', path: '/metadata/resourceVersion', value: '7' },
      { op: 'replace', path: '/spec/pins', value: [] },
    ]);
  });

  it('ignore pins that are not well formed, and objects that are not records', () => {
    const record = parseRecord({
      metadata: { name: 'r', namespace: 'shop' },
      spec: { revision: { kind: 'ReplicaSet', name: 'web', uid: UID }, pins: [{ field: FIELD, image: IMAGE, digest: 'sha256:short', pinnedAt: '2030-01-01T00:00:00Z' }, 'junk'] },
    });
    expect(record?.pins.size).toBe(0);
    expect(parseRecord({ metadata: { name: 'r', namespace: 'shop' }, spec: { revision: { kind: 'Deployment', name: 'web', uid: UID } } })).toBeUndefined();
    expect(parseRecord(null)).toBeUndefined();
  });
});

describe('mergePins: the first digest for a field and image wins', () => {
  const fresh = (n: number, field = FIELD): FreshPin => ({ field, image: IMAGE, digest: digest(n), source: 'registry' });
  const none = { confirmed: [], expired: [] };

  it('adds what the record lacks, provisional, and never changes a held digest (it is the winner)', () => {
    const record = stored([{ digest: digest(1), pinnedAt: T0 }]);
    const merged = mergePins(record, none, [fresh(2), fresh(3, 'initContainers/init')], T0 + 10);
    expect(merged.winners).toEqual(new Map([[pinKey(FIELD, IMAGE), digest(1)]]));
    expect(merged.added).toBe(1);
    expect(merged.pins?.map((pin) => [pin.field, pin.digest, pin.confirmedAt])).toEqual([[FIELD, digest(1), undefined], ['initContainers/init', digest(3), undefined]]);
  });

  it('writes nothing when the record already holds every digest, and names the record\'s digest the winner (the Pod carries the record\'s)', () => {
    const merged = mergePins(stored([{ digest: digest(1), pinnedAt: T0 }]), none, [fresh(1)], T0);
    expect(merged.pins).toBeUndefined();
    expect(merged.winners).toEqual(new Map([[pinKey(FIELD, IMAGE), digest(1)]]));
  });

  it('takes running siblings\' digest as confirmed at once', () => {
    const merged = mergePins(undefined, none, [{ ...fresh(4), source: 'siblings' }], T0);
    expect(merged.pins?.[0]).toMatchObject({ digest: digest(4), source: 'siblings', confirmedAt: T0 });
  });
});

describe('recordView: provisional pins', () => {
  it('confirms a pin a stored Pod of the revision carries', () => {
    const record = stored([{ digest: digest(1), pinnedAt: T0 }]);
    const view = recordView(record, [podWith(`${IMAGE}@${digest(1)}`)], T0 + 5_000, GRACE);
    expect(view.confirmed).toMatchObject([{ digest: digest(1), confirmedAt: T0 + 5_000 }]);
    expect(view.adoptable.get(pinKey(FIELD, IMAGE))?.digest).toBe(digest(1));
    expect(mergePins(record, view, [], T0 + 5_000).pins?.[0]?.confirmedAt).toBe(T0 + 5_000);
  });

  it('adopts a pin no stored Pod carries within the grace (Pods admitted together agree)', () => {
    const view = recordView(stored([{ digest: digest(1), pinnedAt: T0 }]), [], T0 + GRACE, GRACE);
    expect(view.adoptable.get(pinKey(FIELD, IMAGE))?.digest).toBe(digest(1));
    expect(view.expired).toEqual([]);
  });

  it('drops a pin no stored Pod carries after the grace: its Pod was rejected later, the digest never ran', () => {
    const record = stored([{ digest: digest(1), pinnedAt: T0 }]);
    const view = recordView(record, [podWith(`${IMAGE}@${digest(2)}`)], T0 + GRACE + 1, GRACE);
    expect(view.adoptable.size).toBe(0);
    expect(view.expired).toMatchObject([{ digest: digest(1) }]);
    // The next Pod resolves afresh and its digest replaces the expired one.
    const merged = mergePins(record, view, [{ field: FIELD, image: IMAGE, digest: digest(2), source: 'registry' }], T0 + GRACE + 1);
    expect(merged.winners.size).toBe(0);
    expect(merged.pins?.map((pin) => pin.digest)).toEqual([digest(2)]);
  });

  it('keeps a confirmed pin whatever the Pods say', () => {
    const view = recordView(stored([{ digest: digest(1), pinnedAt: T0, confirmedAt: T0 + 1_000 }]), [], T0 + 10 * GRACE, GRACE);
    expect(view.adoptable.get(pinKey(FIELD, IMAGE))?.digest).toBe(digest(1));
  });
});

describe('running siblings', () => {
  it('reads the digest a container runs from its imageID, in the runtimes\' spellings', () => {
    expect(runningDigest(podWith(IMAGE, `registry.test/shop/web@${digest(1)}`), FIELD)).toBe(digest(1));
    expect(runningDigest(podWith(IMAGE, `docker-pullable://registry.test/shop/web@${digest(2)}`), FIELD)).toBe(digest(2));
    expect(runningDigest(podWith(IMAGE, 'sha256:only-an-image-id'), FIELD)).toBeUndefined();
    expect(runningDigest(podWith(IMAGE), FIELD)).toBeUndefined();
    expect(fieldDigest(podWith(`${IMAGE}@${digest(3)}`), FIELD)).toBe(digest(3));
  });

  it('gives the digests siblings of the same tag run: one when they agree, several when the revision is split', () => {
    const agree = [podWith(IMAGE, `registry.test/shop/web@${digest(1)}`), podWith(`${IMAGE}@${digest(1)}`, `registry.test/shop/web@${digest(1)}`), podWith(IMAGE)];
    expect(siblingDigests(agree, FIELD, IMAGE)).toEqual([digest(1)]);
    const split = [...agree, podWith(IMAGE, `registry.test/shop/web@${digest(2)}`)];
    expect(siblingDigests(split, FIELD, IMAGE)).toEqual([digest(1), digest(2)]);
    // Another tag in the same field is not a sibling of this image.
    expect(siblingDigests([podWith('registry.test/shop/web:1.3', `registry.test/shop/web@${digest(9)}`)], FIELD, IMAGE)).toEqual([]);
  });
});
