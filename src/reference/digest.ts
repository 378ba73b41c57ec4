/** Digest validation as opencontainers/go-digest v1.0.0 does it (`digest.Parse`). */
import { ChecksumFormatError, ChecksumLengthError, DigestUnsupportedError } from './errors.js';

/**
 * Hex length of each algorithm a digest may use. go-digest knows these three;
 * sha384 and sha512 count as available because every registry client links them.
 */
const ENCODED_LENGTH: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);

/** go-digest's `DigestRegexpAnchored`: the shape of a digest whose algorithm is unknown. */
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Known algorithms are hex-encoded, lower case only. */
const LOWER_HEX = /^[a-f0-9]*$/;

/** Throws the go-digest error for a digest that `digest.Parse` would reject. */
export function validateDigest(digest: string): void {
  checkDigest(digest, digest);
}

/** Whether go-digest would accept the digest, e.g. `sha256:` and 64 lower-case hex. */
export function isValidDigest(digest: string): boolean {
  return digestProblem(digest) === undefined;
}

/** Validates `digest`, reporting `input` (the whole reference it came from) in the error. */
export function checkDigest(digest: string, input: string): void {
  const problem = digestProblem(digest);
  if (problem !== undefined) throw new problem(input);
}

type DigestProblem = typeof ChecksumFormatError | typeof ChecksumLengthError | typeof DigestUnsupportedError;

function digestProblem(digest: string): DigestProblem | undefined {
  const colon = digest.indexOf(':');
  if (colon <= 0 || colon + 1 === digest.length) return ChecksumFormatError;
  const encoded = digest.slice(colon + 1);
  const length = ENCODED_LENGTH.get(digest.slice(0, colon));
  if (length === undefined) return ANY_DIGEST.test(digest) ? DigestUnsupportedError : ChecksumFormatError;
  // Go compares byte lengths, and checks the length before the alphabet.
  if (Buffer.byteLength(encoded, 'utf8') !== length) return ChecksumLengthError;
  return LOWER_HEX.test(encoded) ? undefined : ChecksumFormatError;
}
