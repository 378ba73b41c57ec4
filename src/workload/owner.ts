/** Who controls an object, and so whether its pod template is ours to change. */
import { arrayOf, member } from '../json.js';

/** True when `metadata.ownerReferences` has an entry with `controller: true`. */
export function hasControllerOwner(object: unknown): boolean {
  return arrayOf(member(member(object, 'metadata'), 'ownerReferences')).some((owner) => member(owner, 'controller') === true);
}

/**
 * True when the admission layer must leave the pod template of this object
 * alone: a kind other than Pod (a ReplicaSet of a Deployment, a Job of a
 * CronJob, a Deployment of an operator) with a controller owner. Its controller
 * writes that template and would fight the change (a Deployment that finds its
 * ReplicaSet's template altered creates another one); the owner's own template
 * was pinned when it was admitted, and Pods are always pinned on creation.
 */
export function skipsControlledTemplate(kind: string, object: unknown): boolean {
  return kind !== 'Pod' && hasControllerOwner(object);
}
