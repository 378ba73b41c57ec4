/**
 * Digests and whether the one digest rule (src/reference/digest.ts, go-digest's)
 * accepts them. Every place that judges a digest runs these: references, registry
 * answers, ImageSet entries, the ImageSet CRD's pattern and the strict policy's CEL.
 */

const hex = (length: number, char = 'a'): string => char.repeat(length);

/** [label, digest]: what the rule accepts. */
export const VALID_DIGESTS: readonly (readonly [string, string])[] = [
  ['sha256 with 64 lower-case hex', `sha256:${'0123456789abcdef'.repeat(4)}`],
  ['sha384 with 96 lower-case hex', `sha384:${hex(96, 'b')}`],
  ['sha512 with 128 lower-case hex', `sha512:${hex(128, 'c')}`],
];

/** [label, digest]: what it refuses. */
export const INVALID_DIGESTS: readonly (readonly [string, string])[] = [
  ['an empty string', ''],
  ['no colon', 'sha256'],
  ['no algorithm', `:${hex(64)}`],
  ['nothing after the colon', 'sha256:'],
  ['sha256 with 63 hex', `sha256:${hex(63)}`],
  ['sha256 with 65 hex', `sha256:${hex(65)}`],
  ['sha256 with 34 hex (enough for the reference grammar)', `sha256:${hex(34)}`],
  ['sha384 with 64 hex', `sha384:${hex(64)}`],
  ['sha512 with 64 hex', `sha512:${hex(64)}`],
  ['sha512 with 96 hex', `sha512:${hex(96)}`],
  ['sha256 in upper-case hex', `sha256:${hex(64, 'A')}`],
  ['sha256 with one upper-case hex digit', `sha256:${hex(63)}F`],
  ['sha256 with a letter beyond f', `sha256:${hex(63)}g`],
  ['sha256 with a character beyond ASCII', `sha256:${hex(63)}é`],
  ['an upper-case algorithm', `SHA256:${hex(64)}`],
  ['an unknown algorithm', `md5:${hex(32)}`],
  ['a composite algorithm', `sha256+b64:${hex(64)}`],
  ['64 hex without an algorithm (an image ID)', hex(64)],
  ['a trailing newline', `sha256:${hex(64)}\n`],
  ['a leading space', ` sha256:${hex(64)}`],
  ['a trailing space', `sha256:${hex(64)} `],
  ['two digests', `sha256:${hex(64)}@sha256:${hex(64)}`],
];

/** Every vector with the verdict the rule gives it. */
export const DIGEST_VECTORS: readonly (readonly [string, string, boolean])[] = [
  ...VALID_DIGESTS.map(([label, digest]) => [label, digest, true] as const),
  ...INVALID_DIGESTS.map(([label, digest]) => [label, digest, false] as const),
];
