/** Where each workload kind keeps the pod spec its Pods run: one table, no branch per kind. */

/** RFC 6901 JSON Pointers into an object of one kind. */
export interface PodSpecLocation {
  /** The pod spec, e.g. `/spec/template/spec`. */
  readonly specPointer: string;
  /** The metadata Pods are created with: a Pod's own, or its template's, e.g. `/spec/template/metadata`. */
  readonly metadataPointer: string;
}

const OWN_SPEC: PodSpecLocation = { specPointer: '/spec', metadataPointer: '/metadata' };
const SPEC_TEMPLATE: PodSpecLocation = { specPointer: '/spec/template/spec', metadataPointer: '/spec/template/metadata' };

/**
 * Kind → location. Kinds are matched by name alone: the webhook's rules select
 * the API groups (core, apps, batch), so a CRD that reuses a name never gets here.
 * A Map, not an object literal, so `constructor` or `__proto__` is just an unknown kind.
 */
const LOCATIONS: ReadonlyMap<string, PodSpecLocation> = new Map([
  ['Pod', OWN_SPEC],
  ['Deployment', SPEC_TEMPLATE],
  ['StatefulSet', SPEC_TEMPLATE],
  ['DaemonSet', SPEC_TEMPLATE],
  ['ReplicaSet', SPEC_TEMPLATE],
  ['ReplicationController', SPEC_TEMPLATE],
  ['Job', SPEC_TEMPLATE],
  // core/v1 PodTemplate has a top-level `template` and no `spec`.
  ['PodTemplate', { specPointer: '/template/spec', metadataPointer: '/template/metadata' }],
  ['CronJob', { specPointer: '/spec/jobTemplate/spec/template/spec', metadataPointer: '/spec/jobTemplate/spec/template/metadata' }],
]);

/** Every kind that carries a pod spec, e.g. for the webhook configuration's rules. */
export const POD_SPEC_KINDS: readonly string[] = [...LOCATIONS.keys()];

/** Where `kind` keeps its pod spec; undefined for a kind without one, which is admitted unchanged. */
export function podSpecLocation(kind: string): PodSpecLocation | undefined {
  return LOCATIONS.get(kind);
}
