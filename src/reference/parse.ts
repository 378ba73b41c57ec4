/** Parsing a reference as written, without Docker Hub normalisation (Go's `reference.Parse`), and saying why one fails. */
import { ANCHORED_NAME, ANCHORED_TAG, REFERENCE, REPOSITORY_NAME_TOTAL_LENGTH_MAX } from './grammar.js';
import {
  DigestFormatError,
  NameEmptyError,
  NameFormatError,
  NameTooLongError,
  NameUppercaseError,
  ReferenceCharacterError,
  ReferenceFormatError,
  ReferenceSchemeError,
  TagFormatError,
  type ReferenceRuleError,
} from './errors.js';
import { digestProblem } from './digest.js';
import { namedReference, type NamedReference } from './reference.js';

/** The first character that no part of any reference may have. */
const STRAY_CHARACTER = /[^A-Za-z0-9._\-/:@[\]+]/u;

/** `https://` and the like, written before a registry host. */
const URL_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Parses `text` exactly as written: `test:5000/repo:tag` has domain `test:5000`,
 * while `nginx` keeps an empty domain. A digest must be valid (digest.ts).
 * Errors name `input`, what the caller wrote, and say what is wrong with it.
 */
export function parseReference(text: string, input: string): NamedReference {
  const groups = REFERENCE.exec(text)?.groups;
  if (groups?.name === undefined) throw referenceProblem(input);
  const { domain, path } = splitDomain(groups.name);
  if (path.length > REPOSITORY_NAME_TOTAL_LENGTH_MAX) throw new NameTooLongError(input, path, REPOSITORY_NAME_TOTAL_LENGTH_MAX);
  if (groups.digest !== undefined) {
    const problem = digestProblem(groups.digest);
    if (problem !== undefined) throw new DigestFormatError(input, problem);
  }
  return namedReference({ domain, path, tag: groups.tag, digest: groups.digest });
}

/**
 * What is wrong with a reference that does not parse, the first problem found:
 * a character no reference has, then the name, the tag, the digest, each read
 * as the grammar would split them. Only messages come from here; whether a
 * reference is accepted is decided by the grammar alone.
 */
export function referenceProblem(input: string): ReferenceRuleError {
  const stray = STRAY_CHARACTER.exec(input)?.[0];
  if (stray !== undefined) return new ReferenceCharacterError(input, stray);
  const scheme = URL_SCHEME.exec(input)?.[0];
  if (scheme !== undefined) return new ReferenceSchemeError(input, scheme);
  const { name, tag, digest } = splitParts(input);
  if (name === '') return new NameEmptyError(input);
  if (!ANCHORED_NAME.test(name)) {
    // Lower case would fix it: the only fault is upper case in the path, as the host may have it.
    return ANCHORED_NAME.test(name.toLowerCase()) ? new NameUppercaseError(input, name) : new NameFormatError(input, name);
  }
  if (tag !== undefined && !ANCHORED_TAG.test(tag)) return new TagFormatError(input, tag);
  const problem = digest === undefined ? undefined : digestProblem(digest);
  if (problem !== undefined) return new DigestFormatError(input, problem);
  return new ReferenceFormatError(input);
}

/**
 * Splits `name[:tag][@digest]` as the grammar would read it: the digest follows
 * the first `@`; the tag follows a `:` after the last `/` and `]` (a colon before
 * those belongs to a port or an IPv6 address).
 */
function splitParts(input: string): { name: string; tag: string | undefined; digest: string | undefined } {
  const at = input.indexOf('@');
  const named = at === -1 ? input : input.slice(0, at);
  const digest = at === -1 ? undefined : input.slice(at + 1);
  const colon = named.lastIndexOf(':');
  if (colon <= Math.max(named.lastIndexOf('/'), named.lastIndexOf(']'))) return { name: named, tag: undefined, digest };
  return { name: named.slice(0, colon), tag: named.slice(colon + 1), digest };
}

function splitDomain(name: string): { domain: string; path: string } {
  const groups = ANCHORED_NAME.exec(name)?.groups;
  return { domain: groups?.domain ?? '', path: groups?.path ?? name };
}
