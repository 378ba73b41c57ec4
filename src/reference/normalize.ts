/** Docker Hub normalisation and familiar forms (Go's normalize.go): `nginx` ⇄ `docker.io/library/nginx`. */
import { ANCHORED_IDENTIFIER } from './grammar.js';
import { NameIdentifierError, NameNotCanonicalError, NameUppercaseError } from './errors.js';
import { isValidDigest } from './digest.js';
import { goToLower, parseAs } from './parse.js';
import { digestReference, namedReference, referenceString, withTag, type NamedReference, type Reference } from './reference.js';

/** The domain familiar names live on. Its API host is registry-1.docker.io (see endpoint.ts). */
export const DEFAULT_DOMAIN = 'docker.io';

/** Docker Hub's old name, still written in some manifests; normalised to DEFAULT_DOMAIN. */
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';

/** Namespace of Docker Hub's official images: `nginx` is `library/nginx`. */
const OFFICIAL_REPO_PREFIX = 'library/';

/** Tag a name-only reference gets from ParseDockerRef. */
const DEFAULT_TAG = 'latest';

/** Always a domain, though it has neither `.` nor `:`. */
const LOCALHOST = 'localhost';

/**
 * Parses a familiar reference into its full form: `nginx:1` becomes
 * `docker.io/library/nginx:1`, `index.docker.io/x/y` becomes `docker.io/x/y`.
 */
export function parseNormalizedNamed(input: string): NamedReference {
  if (ANCHORED_IDENTIFIER.test(input)) throw new NameIdentifierError(input);
  const { domain, remainder } = splitDockerDomain(input);
  const colon = remainder.indexOf(':');
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (goToLower(remote) !== remote) throw new NameUppercaseError(input, remote);
  return parseAs(`${domain}/${remainder}`, input);
}

/** ParseNormalizedNamed that also requires the input to be written in full already (Go's `ParseNamed`). */
export function parseNamed(input: string): NamedReference {
  const named = parseNormalizedNamed(input);
  if (referenceString(named) !== input) throw new NameNotCanonicalError(input);
  return named;
}

/**
 * Parses as Docker does before a pull: a name alone gets `:latest`, and a
 * reference with both tag and digest keeps only the digest.
 */
export function parseDockerRef(input: string): NamedReference {
  const named = parseNormalizedNamed(input);
  if (named.tag !== undefined && named.digest !== undefined) return namedReference({ ...named, tag: undefined });
  return tagNameOnly(named);
}

/** Parses an image ID (64 hex), a digest, or else a familiar reference. */
export function parseAnyReference(input: string): Reference {
  if (ANCHORED_IDENTIFIER.test(input)) return digestReference(`sha256:${input}`);
  if (isValidDigest(input)) return digestReference(input);
  return parseNormalizedNamed(input);
}

/** The reference with `:latest` added when it has neither tag nor digest. */
export function tagNameOnly(ref: NamedReference): NamedReference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  return withTag(ref, DEFAULT_TAG);
}

/** The name as Docker's CLI shows it: `docker.io/library/nginx` is `nginx`. */
export function familiarName(ref: NamedReference): string {
  return familiarize(ref).name;
}

/** The whole reference as Docker's CLI shows it, e.g. `nginx:1@sha256:…`. */
export function familiarString(ref: Reference): string {
  return referenceString(ref.kind === 'named' ? familiarize(ref) : ref);
}

/**
 * Splits off the registry domain the way Docker does: the first component
 * is a domain when it is `localhost`, has a `.` or `:`, or has upper case
 * (a path never may); otherwise the name is on Docker Hub.
 */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  if (first === DEFAULT_DOMAIN || first === LEGACY_DEFAULT_DOMAIN) return onDockerHub(rest);
  if (isDomain(first)) return { domain: first, remainder: rest };
  return onDockerHub(name);
}

function isDomain(component: string): boolean {
  return component === LOCALHOST || component.includes('.') || component.includes(':') || goToLower(component) !== component;
}

/** `docker.io/ubuntu` means the official image `docker.io/library/ubuntu`. */
function onDockerHub(remainder: string): { domain: string; remainder: string } {
  const official = remainder.includes('/') ? remainder : OFFICIAL_REPO_PREFIX + remainder;
  return { domain: DEFAULT_DOMAIN, remainder: official };
}

function familiarize(ref: NamedReference): NamedReference {
  if (ref.domain !== DEFAULT_DOMAIN) return ref;
  const official = ref.path.startsWith(OFFICIAL_REPO_PREFIX) ? ref.path.slice(OFFICIAL_REPO_PREFIX.length) : undefined;
  // Only one level under library/ is an official image; library/a/b stays as written.
  const path = official !== undefined && !official.includes('/') ? official : ref.path;
  return namedReference({ ...ref, domain: '', path });
}
