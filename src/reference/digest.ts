/**
 * Digest validity: one rule, go-digest's (`digest.Parse` in opencontainers/go-digest v1.0.0),
 * for references, registry answers and ImageSets. The ImageSet CRD's digest pattern and the
 * strict ValidatingAdmissionPolicy in manifests/ spell the same rule; a test holds them to it.
 */
import { DigestFormatError } from './errors.js';

/**
 * Hex digits of each algorithm a digest may use. go-digest knows these three;
 * sha384 and sha512 count as available because every registry client links them.
 */
const HEX_DIGITS: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);

/** A whole valid digest: an algorithm above, a colon, and exactly its number of lower-case hex digits. */
export const DIGEST = new RegExp(`^(?:${[...HEX_DIGITS].map(([algorithm, digits]) => `${algorithm}:[a-f0-9]{${digits}}`).join('|')})$`);

/** The rule in words, for messages. */
export const DIGEST_RULE = `${[...HEX_DIGITS].map(([algorithm, digits]) => `${algorithm}:<${digits} hex>`).join(', ')}, hex in lower case`;

const LOWER_HEX = /^[a-f0-9]*$/;

/** Whether `digest` is valid, e.g. `sha256:` and 64 lower-case hex. */
export function isValidDigest(digest: string): boolean {
  return DIGEST.test(digest);
}

/** Throws DigestFormatError, saying what is wrong, for a digest that is not valid. */
export function validateDigest(digest: string): void {
  const problem = digestProblem(digest);
  if (problem !== undefined) throw new DigestFormatError(digest, problem, 'digest');
}

/** What is wrong with `digest`, naming the part; undefined when it is valid. */
export function digestProblem(digest: string): string | undefined {
  if (DIGEST.test(digest)) return undefined;
  const colon = digest.indexOf(':');
  if (colon === -1) return `digest ${JSON.stringify(digest)} has no algorithm: a digest is ${DIGEST_RULE}`;
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const digits = HEX_DIGITS.get(algorithm);
  if (digits === undefined) return `digest algorithm ${JSON.stringify(algorithm)} is not supported: a digest is ${DIGEST_RULE}`;
  if (!LOWER_HEX.test(hex)) return `digest ${JSON.stringify(digest)} must have only lower-case hex digits after "${algorithm}:"`;
  return `digest ${JSON.stringify(digest)} has ${hex.length} hex digits after "${algorithm}:"; ${algorithm} has ${digits}`;
}
