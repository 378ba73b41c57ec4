/** References as data (Go's Named, Tagged, Canonical and digest-only references), and building them. */
import { ANCHORED_DIGEST, ANCHORED_NAME, ANCHORED_TAG, REPOSITORY_NAME_TOTAL_LENGTH_MAX } from './grammar.js';
import { DigestFormatError, NameTooLongError, ReferenceFormatError, TagFormatError } from './errors.js';

/** A reference with a repository name, and optionally a tag and a digest. */
export interface NamedReference {
  readonly kind: 'named';
  /** `host[:port]`; empty when the name has no domain (Go's `Domain()`). */
  readonly domain: string;
  /** The repository path after the domain (Go's `Path()`). */
  readonly path: string;
  /** `domain/path`, or `path` alone when there is no domain (Go's `Name()`). */
  readonly name: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

/** A digest with no name, as ParseAnyReference returns for `sha256:…` or a bare image ID. */
export interface DigestReference {
  readonly kind: 'digest';
  readonly digest: string;
}

/** Any reference (Go's `Reference`). */
export type Reference = NamedReference | DigestReference;

/** The parts a named reference is made of. */
export interface NamedParts {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

/** Builds a named reference from parts that are already valid. */
export function namedReference(parts: NamedParts): NamedReference {
  const { domain, path } = parts;
  return {
    kind: 'named',
    domain,
    path,
    name: domain === '' ? path : `${domain}/${path}`,
    tag: parts.tag,
    digest: parts.digest,
  };
}

/** A reference to a digest alone. */
export function digestReference(digest: string): DigestReference {
  return { kind: 'digest', digest };
}

/** The reference as text, `name[:tag][@digest]` (Go's `String()`). */
export function referenceString(ref: Reference): string {
  if (ref.kind === 'digest') return ref.digest;
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return ref.name + tag + digest;
}

/** A name without tag or digest, checked against the grammar (Go's `WithName`). */
export function withName(name: string): NamedReference {
  const groups = ANCHORED_NAME.exec(name)?.groups;
  if (groups?.path === undefined) throw new ReferenceFormatError(name);
  if (groups.path.length > REPOSITORY_NAME_TOTAL_LENGTH_MAX) throw new NameTooLongError(name);
  return namedReference({ domain: groups.domain ?? '', path: groups.path });
}

/** The reference with `tag` set; a digest it has is kept (Go's `WithTag`). */
export function withTag(ref: NamedReference, tag: string): NamedReference {
  if (!ANCHORED_TAG.test(tag)) throw new TagFormatError(tag);
  return namedReference({ ...ref, tag });
}

/**
 * The reference with `digest` set; a tag it has is kept (Go's `WithDigest`).
 * Like Go, this checks the reference grammar only; use validateDigest for go-digest's rules.
 */
export function withDigest(ref: NamedReference, digest: string): NamedReference {
  if (!ANCHORED_DIGEST.test(digest)) throw new DigestFormatError(digest);
  return namedReference({ ...ref, digest });
}
