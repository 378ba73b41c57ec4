/** The image references of workloads: parsed once, normalised, and written back pinned. */
import { InvalidReferenceError, ReferenceRuleError } from './errors.js';
import { validateDigest } from './digest.js';
import { DEFAULT_TAG, parseNormalizedNamed } from './normalize.js';
import type { NamedReference } from './reference.js';
import type { ImageRef } from './types.js';

/** How pinnedReference writes the result. */
export interface PinOptions {
  /** Drop the tag (`app@sha256:…`) instead of keeping it for humans (`app:1@sha256:…`). */
  readonly dropTag: boolean;
}

/**
 * Parses an image field as kubelet and containerd read it: `nginx:1.27` is
 * `docker.io/library/nginx` at tag `1.27`. Throws InvalidReferenceError naming the broken rule.
 */
export function parseImage(input: string): ImageRef {
  const named = normalizeImage(input);
  return { written: input, domain: named.domain, path: named.path, name: named.name, tag: named.tag, digest: named.digest };
}

/** `name[:tag][@digest]` in full form, e.g. `docker.io/library/nginx:1.27`: what skip globs are matched against. */
export function normalizedString(ref: ImageRef): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return ref.name + tag + digest;
}

/** `name:tag`, the tag defaulting to `latest` as a registry resolves it: what a tag's digest is known under. */
export function taggedName(ref: ImageRef): string {
  return `${ref.name}:${ref.tag ?? DEFAULT_TAG}`;
}

/**
 * The reference to write back into the workload: the image as the user wrote
 * it, pinned to `digest`. The tag stays unless `dropTag`; a digest already
 * written is replaced. `localhost:5000/app:1` pins to `localhost:5000/app@…`
 * with dropTag, since the colon of a port is not a tag. Only `ref.written` is
 * read, and parsed again, so the result is always a valid reference.
 */
export function pinnedReference(ref: ImageRef, digest: string, options: PinOptions): string {
  const { written, tag, digest: writtenDigest } = parseImage(ref.written);
  validateDigest(digest);
  // The grammar ends a reference with `:tag` then `@digest`; what precedes them is the name as written.
  const suffixLength = affixLength(tag) + affixLength(writtenDigest);
  const name = written.slice(0, written.length - suffixLength);
  const keptTag = tag === undefined || options.dropTag ? '' : `:${tag}`;
  return `${name}${keptTag}@${digest}`;
}

function normalizeImage(input: string): NamedReference {
  try {
    return parseNormalizedNamed(input);
  } catch (error) {
    if (error instanceof ReferenceRuleError) throw new InvalidReferenceError(input, error);
    throw error;
  }
}

/** Length of `:value` or `@value` in the written reference; 0 when absent. */
function affixLength(value: string | undefined): number {
  return value === undefined ? 0 : value.length + 1;
}
