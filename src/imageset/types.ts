/** The ImageSet resource (digest-pinner.io/v1alpha1, cluster-scoped) and what a lookup answers. */

export const IMAGESET_GROUP = 'digest-pinner.io';
export const IMAGESET_VERSION = 'v1alpha1';
export const IMAGESET_PLURAL = 'imagesets';
export const IMAGESET_KIND = 'ImageSet';
export const IMAGESET_API_VERSION = `${IMAGESET_GROUP}/${IMAGESET_VERSION}`;
/** `<plural>.<group>`: the CRD's name, for messages. */
export const IMAGESET_CRD = `${IMAGESET_PLURAL}.${IMAGESET_GROUP}`;

/** One usable entry of `spec.images`. */
export interface ImageSetEntry {
  /** The image as written in the ImageSet, e.g. `calico/node:v3.28.0`. */
  readonly image: string;
  readonly digest: string;
  /**
   * `domain/path` for an entry that names its registry (`quay.io/tigera/operator`);
   * undefined for a registry-less entry (`calico/node`), which matches its path on any registry.
   */
  readonly name: string | undefined;
  /** The repository path as the entry matches it: `tigera/operator`, `calico/node`, `nginx`. */
  readonly path: string;
  /** undefined: any tag (allowed only with `spec.anyTag: true`). */
  readonly tag: string | undefined;
}

/** An entry the webhook could not use, and why (reported in the ImageSet's status). */
export interface InvalidEntry {
  readonly image: string;
  readonly reason: string;
}

/** An ImageSet as the webhook reads it. */
export interface ParsedImageSet {
  readonly name: string;
  readonly generation: number | undefined;
  readonly anyTag: boolean;
  readonly entries: readonly ImageSetEntry[];
  readonly invalid: readonly InvalidEntry[];
}

/** Entries that map one image to more than one digest. */
export interface ImageSetConflict {
  /** The image the entries share, normalised: `quay.io/tigera/operator:v1.36.0`, `calico/node:v3.28.0` (any registry), `calico/node` (any tag). */
  readonly image: string;
  /** ImageSets holding such an entry, sorted. */
  readonly imageSets: readonly string[];
  /** The digests they give, sorted. */
  readonly digests: readonly string[];
}

/** What the ImageSets say about one image: a digest, or a conflict; undefined when no entry matches. */
export type ImageSetAnswer =
  | { readonly kind: 'hit'; readonly digest: string; readonly imageSet: string; readonly entry: string }
  | { readonly kind: 'conflict'; readonly conflict: ImageSetConflict };
