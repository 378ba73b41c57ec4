/** What `digest-pinner audit` reports: the kinds of finding, their stable rule ids, and one finding as data. */

/** The kinds of finding, one rule each. */
export type FindingKind = 'unpinned' | 'invalid' | 'tag-moved' | 'revision-split' | 'digest-gone';

export interface Rule {
  readonly id: string;
  readonly name: string;
  readonly short: string;
  readonly full: string;
}

/**
 * The rules, by kind. DP001 and DP002 are `check`'s rules, so a manifest and the object
 * running from it are reported under the same ids; the ids are stable, for suppressions.
 */
export const RULES: Readonly<Record<FindingKind, Rule>> = {
  unpinned: {
    id: 'DP001',
    name: 'image-not-pinned',
    short: 'Image not pinned to a digest',
    full: 'The image names a tag, which can be pushed again, so nodes pulling it at different times can run different content.',
  },
  invalid: {
    id: 'DP002',
    name: 'image-reference-invalid',
    short: 'Image is not a valid reference',
    full: 'The image field does not parse as a container image reference (distribution/reference grammar), so it cannot be pinned.',
  },
  'tag-moved': {
    id: 'DP003',
    name: 'tag-moved',
    short: 'Pinned digest is no longer the tag\'s',
    full: 'The image is pinned to a digest its tag no longer points to: the tag was pushed again since it was pinned. Whoever reads the tag now gets other content than what runs.',
  },
  'revision-split': {
    id: 'DP004',
    name: 'revision-split',
    short: 'Pods of one revision run different digests',
    full: 'Pods of one revision of a workload (a ReplicaSet, a Job, a StatefulSet or DaemonSet revision) carry or run different digests for one image field, so its replicas run different content.',
  },
  'digest-gone': {
    id: 'DP005',
    name: 'pinned-digest-gone',
    short: 'Registry no longer serves a recorded digest',
    full: 'A PinRecord pins a digest the registry answers as unknown (deleted, or garbage-collected after the tag moved): the next Pod of that revision (a scale-up, a rescheduled Pod) cannot pull its image.',
  },
};

/** Every kind, in the order rules are listed. */
export const FINDING_KINDS: readonly FindingKind[] = ['unpinned', 'invalid', 'tag-moved', 'revision-split', 'digest-gone'];

/** The object a finding names. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** Undefined when the object carried none. */
  readonly uid: string | undefined;
}

/** One finding. */
export interface Finding {
  readonly kind: FindingKind;
  readonly object: ObjectRef;
  /** `<list>/<name>`, e.g. `containers/app`. */
  readonly field: string;
  /** The reference as the object writes it (for a record's pin, its normalised `repository:tag`). */
  readonly image: string;
  readonly message: string;
  /** What else is known, as strings (PolicyReport properties are a string map). */
  readonly properties: Readonly<Record<string, string>>;
}

/** An object as listed from the API: its kind and API version (list items carry neither) and its JSON. */
export interface ListedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly object: unknown;
}
