/**
 * Which revision a Pod belongs to, what owns its record and what the record is called:
 * one table, no branch per kind. Pure.
 */
import { createHash } from 'node:crypto';
import { arrayOf, isRecord, member, stringAt } from '../json.js';
import type { Revision, RevisionKind } from './types.js';

/** The label StatefulSet and DaemonSet controllers put on each Pod: its ControllerRevision. */
export const REVISION_HASH_LABEL = 'controller-revision-hash';

interface Controller {
  readonly apiVersion: string;
  /** Revisions are the controller and this label's value (its ControllerRevision). */
  readonly hashed: boolean;
  /** Labels the controller gives its Pods that select them, most specific first; without them, every label of the Pod. */
  readonly selectBy: readonly string[];
}

const CONTROLLERS: ReadonlyMap<string, Controller> = new Map<RevisionKind, Controller>([
  ['ReplicaSet', { apiVersion: 'apps/v1', hashed: false, selectBy: ['pod-template-hash'] }],
  ['Job', { apiVersion: 'batch/v1', hashed: false, selectBy: ['batch.kubernetes.io/controller-uid', 'controller-uid'] }],
  ['ReplicationController', { apiVersion: 'v1', hashed: false, selectBy: [] }],
  ['StatefulSet', { apiVersion: 'apps/v1', hashed: true, selectBy: [REVISION_HASH_LABEL] }],
  ['DaemonSet', { apiVersion: 'apps/v1', hashed: true, selectBy: [REVISION_HASH_LABEL] }],
]);

/** The longest object name (a DNS subdomain). */
const MAX_NAME = 253;
/** A label value, as kube-apiserver validates it: a Pod not yet validated may carry anything. */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const LABEL_KEY = /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** The object that defines a revision, and so owns its record. */
export interface RecordOwner {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

/**
 * The revision of a Pod, from its controller owner reference (and for StatefulSets and
 * DaemonSets its controller-revision-hash label); undefined for a bare Pod, a Pod of
 * another controller, or one without the label it needs. Untrusted JSON: never throws.
 */
export function revisionOf(pod: unknown, namespace: string | undefined): Revision | undefined {
  const metadata = member(pod, 'metadata');
  const ns = namespace ?? stringAt(metadata, 'namespace');
  if (ns === undefined || ns === '') return undefined;
  const owner = arrayOf(member(metadata, 'ownerReferences')).find((reference) => member(reference, 'controller') === true);
  const kind = stringAt(owner, 'kind');
  const controller = kind === undefined ? undefined : CONTROLLERS.get(kind);
  if (controller === undefined || stringAt(owner, 'apiVersion') !== controller.apiVersion) return undefined;
  const name = stringAt(owner, 'name');
  const uid = stringAt(owner, 'uid');
  if (name === undefined || name === '' || uid === undefined || uid === '') return undefined;
  if (!controller.hashed) return { namespace: ns, kind: kind as RevisionKind, name, uid, hash: undefined };
  const hash = stringAt(member(metadata, 'labels'), REVISION_HASH_LABEL);
  if (hash === undefined || hash === '' || !LABEL_VALUE.test(hash)) return undefined;
  return { namespace: ns, kind: kind as RevisionKind, name, uid, hash };
}

/**
 * What owns a revision's record: the controller itself, or for StatefulSets and DaemonSets the
 * ControllerRevision its Pods' hash label names (a StatefulSet's label is that name; a
 * DaemonSet's is the suffix after `<daemonset>-`).
 */
export function recordOwner(revision: Revision): RecordOwner {
  const controller = CONTROLLERS.get(revision.kind);
  if (controller === undefined || !controller.hashed || revision.hash === undefined) {
    return { apiVersion: controller?.apiVersion ?? 'v1', kind: revision.kind, name: revision.name };
  }
  const name = revision.kind === 'StatefulSet' ? revision.hash : `${revision.name}-${revision.hash}`;
  return { apiVersion: 'apps/v1', kind: 'ControllerRevision', name };
}

/** `<owner kind, lower case>.<owner name>`; past 253 characters, the name's sha256 (40 hex) stands for it. */
export function recordName(revision: Revision): string {
  const owner = recordOwner(revision);
  const kind = owner.kind.toLowerCase();
  const name = `${kind}.${owner.name}`;
  if (name.length <= MAX_NAME) return name;
  return `${kind}.${createHash('sha256').update(owner.name).digest('hex').slice(0, 40)}`;
}

/**
 * A label selector for the revision's Pods (the controller's own label, else every label the
 * Pod has: a ReplicaSet made without a Deployment gives its Pods no `pod-template-hash`);
 * undefined when the Pod's labels cannot make one. Pods it selects are still checked for the
 * revision's owner reference: labels alone may select another's Pods.
 */
export function podSelector(revision: Revision, podLabels: unknown): string | undefined {
  const controller = CONTROLLERS.get(revision.kind);
  if (controller === undefined || !isRecord(podLabels)) return undefined;
  const usable = (key: string): string | undefined => {
    const value = stringAt(podLabels, key);
    return value !== undefined && LABEL_KEY.test(key) && LABEL_VALUE.test(value) ? `${key}=${value}` : undefined;
  };
  for (const key of controller.selectBy) {
    const term = usable(key);
    if (term !== undefined) return term;
  }
  const terms = Object.keys(podLabels).sort().map(usable);
  if (terms.length === 0 || terms.some((term) => term === undefined)) return undefined;
  return terms.join(',');
}

/** Whether a stored Pod belongs to the revision: its controller is the revision's, and for hashed kinds its hash label matches. */
export function inRevision(pod: unknown, revision: Revision): boolean {
  const found = revisionOf(pod, revision.namespace);
  return found !== undefined && found.uid === revision.uid && found.hash === revision.hash;
}
