/**
 * PinRecords as data: read from the API's JSON, written back, and the rules of what a
 * Pod of the revision may adopt and what it adds (docs/rollouts.md). Pure: the store
 * (record-store.ts) does the I/O and passes the clock in.
 */
import { arrayOf, member, stringAt } from '../json.js';
import { isValidDigest } from '../reference/index.js';
import { recordName, recordOwner } from './revision.js';
import { fieldDigest, runningDigest, sameTag } from './pods.js';
import { MANAGED_BY, MAX_PINS, PIN_RECORD_KIND, pinKey, ROLLOUT_API_VERSION, type PinSource, type RecordPin, type Revision, type RevisionKind, type StoredRecord } from './types.js';

const REVISION_KINDS: ReadonlySet<string> = new Set<RevisionKind>(['ReplicaSet', 'Job', 'ReplicationController', 'StatefulSet', 'DaemonSet']);
const PIN_SOURCES: ReadonlySet<string> = new Set<PinSource>(['registry', 'cache', 'stale', 'siblings']);

/** A PinRecord as the API serves it, read into a StoredRecord; undefined when it is not one the webhook could have written. */
export function parseRecord(object: unknown): StoredRecord | undefined {
  const metadata = member(object, 'metadata');
  const namespace = stringAt(metadata, 'namespace');
  const name = stringAt(metadata, 'name');
  const spec = member(object, 'spec');
  const revision = parseRevision(member(spec, 'revision'), namespace);
  if (namespace === undefined || name === undefined || revision === undefined) return undefined;
  const pins = new Map<string, RecordPin>();
  for (const item of arrayOf(member(spec, 'pins'))) {
    const pin = parsePin(item);
    if (pin !== undefined && !pins.has(pinKey(pin.field, pin.image))) pins.set(pinKey(pin.field, pin.image), pin);
  }
  return { namespace, name, uid: stringAt(metadata, 'uid') ?? '', resourceVersion: stringAt(metadata, 'resourceVersion') ?? '', revision, pins };
}

function parseRevision(value: unknown, namespace: string | undefined): Revision | undefined {
  const kind = stringAt(value, 'kind');
  const name = stringAt(value, 'name');
  const uid = stringAt(value, 'uid');
  if (namespace === undefined || kind === undefined || !REVISION_KINDS.has(kind) || name === undefined || uid === undefined) return undefined;
  const hash = stringAt(value, 'hash');
  return { namespace, kind: kind as RevisionKind, name, uid, hash: hash === undefined || hash === '' ? undefined : hash };
}

function parsePin(value: unknown): RecordPin | undefined {
  const field = stringAt(value, 'field');
  const image = stringAt(value, 'image');
  const digest = stringAt(value, 'digest');
  const source = stringAt(value, 'source') ?? 'registry';
  const pinnedAt = timeOf(stringAt(value, 'pinnedAt'));
  if (field === undefined || image === undefined || digest === undefined || !isValidDigest(digest) || pinnedAt === undefined) return undefined;
  return { field, image, digest, source: PIN_SOURCES.has(source) ? (source as PinSource) : 'registry', pinnedAt, confirmedAt: timeOf(stringAt(value, 'confirmedAt')) };
}

/** An RFC 3339 time in epoch milliseconds; undefined when absent or not a time. */
export function timeOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** `spec.pins` as written: in the order given, times in RFC 3339 (whole seconds, as the API keeps them). */
export function pinsJson(pins: readonly RecordPin[]): Record<string, string>[] {
  return pins.map((pin) => ({
    field: pin.field,
    image: pin.image,
    digest: pin.digest,
    source: pin.source,
    pinnedAt: rfc3339(pin.pinnedAt),
    ...(pin.confirmedAt === undefined ? {} : { confirmedAt: rfc3339(pin.confirmedAt) }),
  }));
}

/** RFC 3339 in whole seconds (what metav1.Time keeps; a date-time field takes fractions, but nothing needs them). */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The PinRecord to create for `revision`, owned by `ownerUid` (the object recordOwner names). */
export function recordObject(revision: Revision, ownerUid: string, pins: readonly RecordPin[]): Record<string, unknown> {
  const owner = recordOwner(revision);
  return {
    apiVersion: ROLLOUT_API_VERSION,
    kind: PIN_RECORD_KIND,
    metadata: {
      name: recordName(revision),
      namespace: revision.namespace,
      labels: { ...MANAGED_BY },
      // Not a controller reference, and never blocking: the record must not hold up its owner's deletion.
      ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: ownerUid, blockOwnerDeletion: false }],
    },
    spec: {
      revision: { kind: revision.kind, name: revision.name, uid: revision.uid, ...(revision.hash === undefined ? {} : { hash: revision.hash }) },
      pins: pinsJson(pins),
    },
  };
}

/** A JSON Patch replacing a record's pins, valid only while it is at `resourceVersion` (kube-apiserver answers 409 otherwise). */
export function pinsPatch(resourceVersion: string, pins: readonly RecordPin[]): object[] {
  return [
    { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion },
    { op: 'replace', path: '/spec/pins', value: pinsJson(pins) },
  ];
}

/** What an admission of a revision may use: the record's pins as they stand once the revision's Pods were looked at. */
export interface RecordView {
  /** Pins a Pod may adopt, by pinKey: confirmed ones, and provisional ones within the grace. */
  readonly adoptable: ReadonlyMap<string, RecordPin>;
  /** Pins seen on a stored Pod just now: to be written as confirmed. */
  readonly confirmed: readonly RecordPin[];
  /** Provisional pins past the grace that no stored Pod carries: the Pod they were made for never ran. */
  readonly expired: readonly RecordPin[];
}

/** The view when nothing was listed: every pin adoptable as it stands. */
export function unlistedView(stored: StoredRecord | undefined): RecordView {
  return { adoptable: stored?.pins ?? new Map(), confirmed: [], expired: [] };
}

/**
 * The view of `stored` given the revision's stored Pods (`pods`, already filtered to the
 * revision): a provisional pin that a Pod carries is confirmed; one no Pod carries is
 * adoptable within `graceMs` of being pinned (Pods admitted together agree) and expired after.
 */
export function recordView(stored: StoredRecord | undefined, pods: readonly unknown[], now: number, graceMs: number): RecordView {
  if (stored === undefined) return unlistedView(undefined);
  const adoptable = new Map<string, RecordPin>();
  const confirmed: RecordPin[] = [];
  const expired: RecordPin[] = [];
  for (const [key, pin] of stored.pins) {
    if (pin.confirmedAt !== undefined) {
      adoptable.set(key, pin);
      continue;
    }
    if (pods.some((pod) => fieldDigest(pod, pin.field) === pin.digest)) {
      const done = { ...pin, confirmedAt: now };
      adoptable.set(key, done);
      confirmed.push(done);
    } else if (now - pin.pinnedAt <= graceMs) {
      adoptable.set(key, pin);
    } else {
      expired.push(pin);
    }
  }
  return { adoptable, confirmed, expired };
}

/** What the revision's running Pods say about one field: the digests they run, for the same tag. */
export function siblingDigests(pods: readonly unknown[], field: string, image: string): string[] {
  const digests = new Set<string>();
  for (const pod of pods) {
    if (!sameTag(pod, field, image)) continue;
    const digest = runningDigest(pod, field);
    if (digest !== undefined) digests.add(digest);
  }
  return [...digests].sort();
}

/** A digest an admission pinned that the record does not hold yet. */
export interface FreshPin {
  readonly field: string;
  readonly image: string;
  readonly digest: string;
  readonly source: PinSource;
}

/** The pins to write, and what another replica recorded first. */
export interface Merged {
  /** Every pin the record should hold; undefined when nothing changes. */
  readonly pins: readonly RecordPin[] | undefined;
  /** Keys the record already held a digest for (another replica wrote it first): the recorded one wins, equal or not. */
  readonly winners: ReadonlyMap<string, string>;
  /** How many fresh pins are new to the record. */
  readonly added: number;
}

/**
 * `current`'s pins with the view's confirmations and expiries applied, and `fresh` added where
 * the record has no pin for the key yet (at most MAX_PINS in all). A pin the record already has
 * is never changed: its digest wins.
 */
export function mergePins(current: StoredRecord | undefined, view: Pick<RecordView, 'confirmed' | 'expired'>, fresh: readonly FreshPin[], now: number): Merged {
  const pins = new Map<string, RecordPin>(current?.pins ?? []);
  let changed = applyView(pins, view);
  const winners = new Map<string, string>();
  let added = 0;
  for (const pin of fresh) {
    const key = pinKey(pin.field, pin.image);
    const held = pins.get(key);
    if (held !== undefined) {
      // Same digest or not, the Pod carries the record's: its answer is the record's.
      winners.set(key, held.digest);
      continue;
    }
    if (pins.size >= MAX_PINS) continue;
    // Running siblings are confirmation already.
    pins.set(key, { ...pin, pinnedAt: now, confirmedAt: pin.source === 'siblings' ? now : undefined });
    added += 1;
    changed = true;
  }
  return { pins: changed ? [...pins.values()] : undefined, winners, added };
}

/** Removes the expired pins and confirms the confirmed ones that are still provisional in `pins`; true when any changed. */
function applyView(pins: Map<string, RecordPin>, view: Pick<RecordView, 'confirmed' | 'expired'>): boolean {
  let changed = false;
  for (const pin of view.expired) {
    const key = pinKey(pin.field, pin.image);
    if (pins.get(key)?.confirmedAt === undefined && pins.delete(key)) changed = true;
  }
  for (const pin of view.confirmed) {
    const key = pinKey(pin.field, pin.image);
    const held = pins.get(key);
    if (held?.digest === pin.digest && held.confirmedAt === undefined) {
      pins.set(key, { ...held, confirmedAt: pin.confirmedAt });
      changed = true;
    }
  }
  return changed;
}

/** Whether an object is a PinRecord of the revision (not one left by an earlier owner of the same name). */
export function sameRevision(record: StoredRecord, revision: Revision): boolean {
  return record.revision.uid === revision.uid && record.revision.hash === revision.hash;
}
