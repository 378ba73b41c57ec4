/** Docker Hub normalisation (Go's normalize.go): `nginx` is `docker.io/library/nginx`. */
import { ANCHORED_IDENTIFIER } from './grammar.js';
import { NameIdentifierError } from './errors.js';
import { parseReference } from './parse.js';
import type { NamedReference } from './reference.js';

/** The domain familiar names live on. Its API host is registry-1.docker.io (see endpoint.ts). */
export const DEFAULT_DOMAIN = 'docker.io';

/** Docker Hub's old name, still written in some manifests; normalised to DEFAULT_DOMAIN. */
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';

/** The host Docker Hub serves the registry API on (see endpoint.ts). */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** Every name Docker Hub goes by in docker configs, pull secrets and flags. */
const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set([DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_API_HOST]);

/** Namespace of Docker Hub's official images: `nginx` is `library/nginx`. */
export const OFFICIAL_REPO_PREFIX = 'library/';

/** The tag of a reference written without one, as ParseDockerRef and every container runtime read it. */
export const DEFAULT_TAG = 'latest';

/** Always a domain, though it has neither `.` nor `:`. */
const LOCALHOST = 'localhost';

/** A lower-case `host[:port]` as image names write its registry: Docker Hub's other names are DEFAULT_DOMAIN. */
export function registryDomain(host: string): string {
  return DOCKER_HUB_HOSTS.has(host) ? DEFAULT_DOMAIN : host;
}

/**
 * Upper case, as Go's `strings.ToLower(s) != s` finds it, but ASCII only. Go
 * lower-cases with Unicode 15 tables, Node with ICU's newer ones, which also know
 * the capitals added in Unicode 16 and 17 (and map U+0130 differently), so
 * the two would disagree on those. They cannot change what is accepted: a
 * character beyond ASCII fails the grammar wherever it stands.
 */
const UPPER_CASE = /[A-Z]/;

/**
 * Parses a familiar reference into its full form: `nginx:1` becomes
 * `docker.io/library/nginx:1`, `index.docker.io/x/y` becomes `docker.io/x/y`.
 * Accepts exactly what Go's `ParseNormalizedNamed` accepts; its messages say
 * what is wrong with the reference as written (see parse.ts).
 */
export function parseNormalizedNamed(input: string): NamedReference {
  if (ANCHORED_IDENTIFIER.test(input)) throw new NameIdentifierError(input);
  const { domain, remainder } = splitDockerDomain(input);
  // Go first refuses upper case before the first colon; the parse refuses all of it
  // too (a path and a digest algorithm are lower case), so that check is left out.
  return parseReference(`${domain}/${remainder}`, input);
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
  return component === LOCALHOST || component.includes('.') || component.includes(':') || UPPER_CASE.test(component);
}

/** `docker.io/ubuntu` means the official image `docker.io/library/ubuntu`. */
function onDockerHub(remainder: string): { domain: string; remainder: string } {
  const official = remainder.includes('/') ? remainder : OFFICIAL_REPO_PREFIX + remainder;
  return { domain: DEFAULT_DOMAIN, remainder: official };
}
