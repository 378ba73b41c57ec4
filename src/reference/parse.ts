/** Parsing a reference as written, without Docker Hub normalisation (Go's `reference.Parse`). */
import { ANCHORED_NAME, REFERENCE, REPOSITORY_NAME_TOTAL_LENGTH_MAX } from './grammar.js';
import { NameEmptyError, NameTooLongError, NameUppercaseError, ReferenceFormatError } from './errors.js';
import { checkDigest } from './digest.js';
import { namedReference, type NamedReference } from './reference.js';

/**
 * Parses a reference exactly as written: `test:5000/repo:tag` has domain
 * `test:5000`, while `nginx` keeps an empty domain. A digest must pass go-digest.
 */
export function parseReference(input: string): NamedReference {
  return parseAs(input, input);
}

/** Parses `text`, naming `input` (what the caller wrote) in any error. */
export function parseAs(text: string, input: string): NamedReference {
  if (text === '') throw new NameEmptyError(input);
  const groups = REFERENCE.exec(text)?.groups;
  if (groups?.name === undefined) {
    const lower = goToLower(text);
    // Valid once lower-cased: the only fault is upper case where the grammar forbids it.
    if (lower !== text && REFERENCE.test(lower)) throw new NameUppercaseError(input);
    throw new ReferenceFormatError(input);
  }
  const { domain, path } = splitDomain(groups.name);
  if (path.length > REPOSITORY_NAME_TOTAL_LENGTH_MAX) throw new NameTooLongError(input);
  if (groups.digest !== undefined) checkDigest(groups.digest, input);
  return namedReference({ domain, path, tag: groups.tag, digest: groups.digest });
}

/**
 * Go's `strings.ToLower`. JavaScript lower-cases U+0130 (İ) to two code points,
 * Go to a plain `i`; nothing else that matters to an ASCII grammar differs.
 */
export function goToLower(text: string): string {
  return text.replaceAll('\u0130', 'i').toLowerCase();
}

function splitDomain(name: string): { domain: string; path: string } {
  const groups = ANCHORED_NAME.exec(name)?.groups;
  return { domain: groups?.domain ?? '', path: groups?.path ?? name };
}
