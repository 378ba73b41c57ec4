/**
 * The findings of an audit, from what the API listed and what registries answered: unpinned
 * images, digests their tag moved away from, revisions whose Pods disagree, recorded digests
 * a registry no longer serves. Pure: the command does the I/O and passes the answers in.
 */
import { arrayOf, member, stringAt } from '../json.js';
import { parseImage, taggedName, type ImageRef } from '../reference/index.js';
import { fieldKey, findImageFields } from '../workload/index.js';
import { fieldDigest, runningDigest } from '../rollout/pods.js';
import { revisionOf } from '../rollout/revision.js';
import { PIN_RECORD_KIND, ROLLOUT_API_VERSION, type StoredRecord } from '../rollout/types.js';
import { describeError } from '../errors.js';
import type { Finding, ListedObject, ObjectRef } from './types.js';

/**
 * Kinds whose objects are written by a controller of another audited kind, by that kind:
 * the owner's template is what to fix, so the derived object is not reported twice.
 */
const DERIVED: ReadonlyMap<string, string> = new Map([
  ['ReplicaSet', 'Deployment'],
  ['Job', 'CronJob'],
]);

/** Where a listed object is: kind, namespace, name; undefined without a name and namespace. */
export function objectRef(listed: ListedObject): ObjectRef | undefined {
  const metadata = member(listed.object, 'metadata');
  const namespace = stringAt(metadata, 'namespace');
  const name = stringAt(metadata, 'name');
  if (namespace === undefined || name === undefined) return undefined;
  return { apiVersion: listed.apiVersion, kind: listed.kind, namespace, name, uid: stringAt(metadata, 'uid') };
}

/** `kind/namespace/name`, as findings name objects in text. */
export function objectLabel(object: ObjectRef): string {
  return `${object.kind}/${object.namespace}/${object.name}`;
}

/** The objects to audit: all but those a Deployment or CronJob controls (their owner is audited). */
export function auditedObjects(objects: readonly ListedObject[]): ListedObject[] {
  return objects.filter((listed) => {
    const owner = DERIVED.get(listed.kind);
    if (owner === undefined) return true;
    const controller = arrayOf(member(member(listed.object, 'metadata'), 'ownerReferences')).find((reference) => member(reference, 'controller') === true);
    return stringAt(controller, 'kind') !== owner;
  });
}

/** Every image field of the objects, with the object it is in. */
function imageFields(objects: readonly ListedObject[]): { object: ObjectRef; field: string; image: string }[] {
  return objects.flatMap((listed) => {
    const object = objectRef(listed);
    if (object === undefined) return [];
    return findImageFields(listed.kind, listed.object).map((field) => ({ object, field: fieldKey(field), image: field.image }));
  });
}

/** A reference parsed, or the reason it does not parse. */
function parsed(image: string): ImageRef | Error {
  try {
    return parseImage(image);
  } catch (error) {
    return error instanceof Error ? error : new Error(describeError(error));
  }
}

/** Image fields that name no digest (DP001), or that are not references at all (DP002). */
export function unpinnedFindings(objects: readonly ListedObject[]): Finding[] {
  return imageFields(objects).flatMap(({ object, field, image }): Finding[] => {
    const ref = parsed(image);
    if (ref instanceof Error) {
      return [{ kind: 'invalid', object, field, image, message: `image ${JSON.stringify(image)} is not a valid reference: ${describeError(ref)}`, properties: {} }];
    }
    if (ref.digest !== undefined) return [];
    return [{ kind: 'unpinned', object, field, image, message: `image ${JSON.stringify(image)} is not pinned to a digest`, properties: {} }];
  });
}

/**
 * The tags of the pinned references that also name a tag (`repo:tag@sha256:…`), by their
 * normalised `repository:tag`: what to resolve to see whether a tag moved. A reference
 * pinned without its tag says nothing about one.
 */
export function pinnedTags(objects: readonly ListedObject[]): Map<string, ImageRef> {
  const tags = new Map<string, ImageRef>();
  for (const { image } of imageFields(objects)) {
    const ref = parsed(image);
    if (ref instanceof Error || ref.digest === undefined || ref.tag === undefined) continue;
    const tagged = taggedName(ref);
    if (!tags.has(tagged)) tags.set(tagged, parseImage(tagged));
  }
  return tags;
}

/** When a tag was seen moving away from a digest (RFC 3339), for a namespace; undefined when not known. */
export type MovedAt = (image: string, digest: string, namespace: string) => string | undefined;

/**
 * Pinned references whose tag now points to another digest (DP003). `current` holds the
 * digest each tag resolves to now, by normalised `repository:tag`; a tag missing from it
 * (not resolved) gives no finding.
 */
export function movedFindings(objects: readonly ListedObject[], current: ReadonlyMap<string, string>, movedAt: MovedAt): Finding[] {
  return imageFields(objects).flatMap(({ object, field, image }): Finding[] => {
    const ref = parsed(image);
    if (ref instanceof Error || ref.digest === undefined || ref.tag === undefined) return [];
    const tagged = taggedName(ref);
    const now = current.get(tagged);
    if (now === undefined || now === ref.digest) return [];
    const when = movedAt(tagged, ref.digest, object.namespace);
    const since = when === undefined ? ' (when it moved is not recorded)' : ` (it moved at ${when})`;
    return [
      {
        kind: 'tag-moved',
        object,
        field,
        image,
        message: `image ${JSON.stringify(image)} is pinned to ${ref.digest}, but ${tagged} now points to ${now}${since}`,
        properties: { tag: tagged, pinned: ref.digest, current: now, ...(when === undefined ? {} : { movedAt: when }) },
      },
    ];
  });
}

interface RevisionPods {
  readonly object: ObjectRef;
  readonly hash: string | undefined;
  /** By field, then digest: the Pods carrying or running it. */
  readonly fields: Map<string, Map<string, string[]>>;
}

/** The digest a Pod has at `field`: the one pinned in its spec, else the one its container runs. */
function podDigest(pod: unknown, field: string): string | undefined {
  return fieldDigest(pod, field) ?? runningDigest(pod, field);
}

/** The revision's controller, as the Pod's controller owner reference names it. */
function controllerRef(pod: unknown, namespace: string): ObjectRef | undefined {
  const owner = arrayOf(member(member(pod, 'metadata'), 'ownerReferences')).find((reference) => member(reference, 'controller') === true);
  const apiVersion = stringAt(owner, 'apiVersion');
  const kind = stringAt(owner, 'kind');
  const name = stringAt(owner, 'name');
  if (apiVersion === undefined || kind === undefined || name === undefined) return undefined;
  return { apiVersion, kind, namespace, name, uid: stringAt(owner, 'uid') };
}

function groupByRevision(pods: readonly unknown[]): Map<string, RevisionPods> {
  const revisions = new Map<string, RevisionPods>();
  for (const pod of pods) {
    const revision = revisionOf(pod, undefined);
    const podName = stringAt(member(pod, 'metadata'), 'name');
    if (revision === undefined || podName === undefined) continue;
    const key = `${revision.uid}\u0000${revision.hash ?? ''}`;
    let group = revisions.get(key);
    if (group === undefined) {
      const object = controllerRef(pod, revision.namespace);
      if (object === undefined) continue;
      group = { object, hash: revision.hash, fields: new Map() };
      revisions.set(key, group);
    }
    for (const field of findImageFields('Pod', pod).map(fieldKey)) {
      const digest = podDigest(pod, field);
      if (digest === undefined) continue;
      const byDigest = group.fields.get(field) ?? new Map<string, string[]>();
      group.fields.set(field, byDigest);
      byDigest.set(digest, [...(byDigest.get(digest) ?? []), podName]);
    }
  }
  return revisions;
}

/** `sha256:… (2 Pods: a, b); sha256:… (1 Pod: c)`, most Pods first. */
function describeSplit(byDigest: ReadonlyMap<string, readonly string[]>): string {
  return [...byDigest]
    .sort(([, a], [, b]) => b.length - a.length)
    .map(([digest, pods]) => `${digest} (${pods.length} ${pods.length === 1 ? 'Pod' : 'Pods'}: ${[...pods].sort().join(', ')})`)
    .join('; ');
}

/**
 * Revisions (revisionOf: owner uid, and controller-revision-hash for StatefulSets and
 * DaemonSets) whose Pods carry or run more than one digest for one image field (DP004).
 */
export function splitFindings(pods: readonly unknown[]): Finding[] {
  const findings: Finding[] = [];
  for (const group of groupByRevision(pods).values()) {
    for (const [field, byDigest] of group.fields) {
      if (byDigest.size < 2) continue;
      const revision = group.hash === undefined ? '' : ` revision ${group.hash}`;
      const digests = describeSplit(byDigest);
      findings.push({
        kind: 'revision-split',
        object: group.object,
        field,
        image: '',
        message: `Pods of ${group.object.kind.toLowerCase()} ${group.object.name}${revision} disagree about ${field}: ${digests}`,
        properties: { digests, ...(group.hash === undefined ? {} : { revisionHash: group.hash }) },
      });
    }
  }
  return findings;
}

/** One digest a record pins, in its repository. */
export interface RecordedDigest {
  /** The repository, to ask for the digest. */
  readonly ref: ImageRef;
  readonly digest: string;
}

/** `repository@digest`: the key of a recorded digest. */
export function digestKey(repository: string, digest: string): string {
  return `${repository}@${digest}`;
}

/** The distinct digests the records pin, by digestKey. */
export function recordedDigests(records: readonly StoredRecord[]): Map<string, RecordedDigest> {
  const digests = new Map<string, RecordedDigest>();
  for (const record of records) {
    for (const pin of record.pins.values()) {
      const ref = parsed(pin.image);
      if (ref instanceof Error) continue;
      const key = digestKey(ref.name, pin.digest);
      if (!digests.has(key)) digests.set(key, { ref, digest: pin.digest });
    }
  }
  return digests;
}

/** Record pins whose digest the registry answered as unknown (`gone`, by digestKey) (DP005). */
export function goneFindings(records: readonly StoredRecord[], gone: ReadonlySet<string>): Finding[] {
  return records.flatMap((record) => {
    const object: ObjectRef = { apiVersion: ROLLOUT_API_VERSION, kind: PIN_RECORD_KIND, namespace: record.namespace, name: record.name, uid: record.uid === '' ? undefined : record.uid };
    return [...record.pins.values()].flatMap((pin): Finding[] => {
      const ref = parsed(pin.image);
      if (ref instanceof Error || !gone.has(digestKey(ref.name, pin.digest))) return [];
      const revision = `${record.revision.kind.toLowerCase()} ${record.revision.name}${record.revision.hash === undefined ? '' : ` revision ${record.revision.hash}`}`;
      return [
        {
          kind: 'digest-gone',
          object,
          field: pin.field,
          image: pin.image,
          message: `${ref.name}@${pin.digest}, pinned for ${pin.field} of ${revision}, is no longer served by the registry: a new Pod of that revision cannot pull it`,
          properties: { digest: pin.digest, revision: `${record.revision.kind}/${record.revision.name}` },
        },
      ];
    });
  });
}
