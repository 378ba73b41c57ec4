/** The rollout objects (digest-pinner.io/v1alpha1, namespaced): PinRecord and LedgerEntry, as docs/rollouts.md lays them out. */

export const ROLLOUT_GROUP = 'digest-pinner.io';
export const ROLLOUT_VERSION = 'v1alpha1';
export const ROLLOUT_API_VERSION = `${ROLLOUT_GROUP}/${ROLLOUT_VERSION}`;

export const PIN_RECORD_KIND = 'PinRecord';
export const PIN_RECORD_PLURAL = 'pinrecords';

export const LEDGER_ENTRY_KIND = 'LedgerEntry';
export const LEDGER_ENTRY_PLURAL = 'ledgerentries';

/** The label every object the webhook writes carries. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'digest-pinner' } as const;

/** How long a provisional pin no stored Pod carries is still adopted: longer than kube-apiserver lets one request take. */
export const DEFAULT_GRACE_MS = 60_000;

/** Most pins one record holds: as many as one admission looks up images. */
export const MAX_PINS = 256;

/** The controllers whose Pods share digests per revision. */
export type RevisionKind = 'ReplicaSet' | 'Job' | 'ReplicationController' | 'StatefulSet' | 'DaemonSet';

/** One revision of a workload: the Pods' controller, and for StatefulSets and DaemonSets the Pods' controller-revision-hash. */
export interface Revision {
  readonly namespace: string;
  readonly kind: RevisionKind;
  readonly name: string;
  readonly uid: string;
  /** The `controller-revision-hash` label; undefined for kinds whose revision is the controller itself. */
  readonly hash: string | undefined;
}

/** Where a record's digest came from, as `spec.pins[].source` says. */
export type PinSource = 'registry' | 'cache' | 'stale' | 'siblings';

/** One entry of a record: the digest pinned for one field and one normalised reference. */
export interface RecordPin {
  /** `<list>/<name>`, e.g. `containers/app`. */
  readonly field: string;
  /** The normalised `repository:tag` that was resolved. */
  readonly image: string;
  readonly digest: string;
  readonly source: PinSource;
  /** Epoch milliseconds. */
  readonly pinnedAt: number;
  /** Epoch milliseconds; undefined while provisional. */
  readonly confirmedAt: number | undefined;
}

/** A PinRecord as the webhook reads it. */
export interface StoredRecord {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly revision: Revision;
  /** By pinKey(field, image). */
  readonly pins: ReadonlyMap<string, RecordPin>;
}

/** The key of a record's pin: field and normalised reference. */
export function pinKey(field: string, image: string): string {
  return `${field}\u0000${image}`;
}
