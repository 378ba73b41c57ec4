import { describe, expect, it } from 'vitest';
import {
  ChecksumFormatError,
  ChecksumLengthError,
  DigestUnsupportedError,
  isValidDigest,
  validateDigest,
} from '../../src/reference/index.js';
import { expectGoError } from './support.js';

const hex = (length: number, char = 'a'): string => char.repeat(length);

const valid: readonly [string, string][] = [
  ['sha256 with 64 lower-case hex', `sha256:${hex(64)}`],
  ['sha384 with 96 lower-case hex', `sha384:${hex(96)}`],
  ['sha512 with 128 lower-case hex', `sha512:${hex(128)}`],
];

const invalid: readonly [string, string, new (input: string) => Error, string][] = [
  ['an empty string', '', ChecksumFormatError, 'digest.ErrDigestInvalidFormat'],
  ['no colon', 'sha256', ChecksumFormatError, 'digest.ErrDigestInvalidFormat'],
  ['no algorithm', `:${hex(64)}`, ChecksumFormatError, 'digest.ErrDigestInvalidFormat'],
  ['nothing after the colon', 'sha256:', ChecksumFormatError, 'digest.ErrDigestInvalidFormat'],
  ['sha256 with 63 hex', `sha256:${hex(63)}`, ChecksumLengthError, 'digest.ErrDigestInvalidLength'],
  ['sha256 with 65 hex', `sha256:${hex(65)}`, ChecksumLengthError, 'digest.ErrDigestInvalidLength'],
  ['sha256 with 34 hex (a grammar-valid reference digest)', `sha256:${hex(34)}`, ChecksumLengthError, 'digest.ErrDigestInvalidLength'],
  ['sha384 with 64 hex', `sha384:${hex(64)}`, ChecksumLengthError, 'digest.ErrDigestInvalidLength'],
  ['sha512 with 64 hex', `sha512:${hex(64)}`, ChecksumLengthError, 'digest.ErrDigestInvalidLength'],
  ['sha256 in upper-case hex', `sha256:${hex(64, 'A')}`, ChecksumFormatError, 'digest.ErrDigestInvalidFormat'],
  ['sha256 with a non-hex letter', `sha256:${hex(63)}g`, ChecksumFormatError, 'digest.ErrDigestInvalidFormat'],
  // Go counts bytes: 63 hex and a two-byte é are 65 bytes, a length error before the alphabet is looked at.
  ['sha256 whose length is right in characters but not in bytes', `sha256:${hex(63)}é`, ChecksumLengthError, 'digest.ErrDigestInvalidLength'],
  ['an unknown algorithm', `md5:${hex(32)}`, DigestUnsupportedError, 'digest.ErrDigestUnsupported'],
  ['a composite algorithm', `sha256+b64:${hex(64)}`, DigestUnsupportedError, 'digest.ErrDigestUnsupported'],
  ['an upper-case algorithm', `SHA256:${hex(64)}`, ChecksumFormatError, 'digest.ErrDigestInvalidFormat'],
  ['an unknown algorithm with a bad encoding', 'md5:a.b', ChecksumFormatError, 'digest.ErrDigestInvalidFormat'],
];

describe('validateDigest', () => {
  for (const [label, digest] of valid) {
    it(`accepts ${label}`, () => {
      expect(() => {
        validateDigest(digest);
      }).not.toThrow();
    });
  }

  for (const [label, digest, type, goError] of invalid) {
    it(`rejects ${label} with ${goError}`, () => {
      const error = expectGoError(() => {
        validateDigest(digest);
      }, { errorId: goError, input: digest });
      expect(error).toBeInstanceOf(type);
    });
  }

  it('uses go-digest’s messages word for word', () => {
    const messages = [`sha256:${hex(1)}`, `sha256:${hex(64, 'G')}`, `md5:${hex(32)}`].map((digest) =>
      expectGoError(() => {
        validateDigest(digest);
      }, { input: digest }).goMessage,
    );
    expect(messages).toEqual(['invalid checksum digest length', 'invalid checksum digest format', 'unsupported digest algorithm']);
  });
});

describe('isValidDigest', () => {
  for (const [label, digest] of valid) {
    it(`is true for ${label}`, () => {
      expect(isValidDigest(digest)).toBe(true);
    });
  }

  for (const [label, digest] of invalid) {
    it(`is false for ${label}`, () => {
      expect(isValidDigest(digest)).toBe(false);
    });
  }
});
