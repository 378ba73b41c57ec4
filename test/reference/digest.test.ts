import { describe, expect, it } from 'vitest';
import { DIGEST, digestProblem, DIGEST_RULE, isValidDigest, validateDigest } from '../../src/reference/digest.js';
import { DigestFormatError } from '../../src/reference/index.js';
import { DIGEST_VECTORS, INVALID_DIGESTS, VALID_DIGESTS } from './digest-vectors.js';
import { thrownBy } from './support.js';

describe('isValidDigest', () => {
  for (const [label, digest, valid] of DIGEST_VECTORS) {
    it(`is ${String(valid)} for ${label}`, () => {
      expect(isValidDigest(digest)).toBe(valid);
    });
  }
});

describe('DIGEST', () => {
  it('is anchored and has no flags, so other regular expression engines read it alike', () => {
    expect(DIGEST.source).toBe('^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$');
    expect(DIGEST.flags).toBe('');
  });
});

describe('DIGEST_RULE', () => {
  it('names every algorithm with its length', () => {
    expect(DIGEST_RULE).toBe('sha256:<64 hex>, sha384:<96 hex>, sha512:<128 hex>, hex in lower case');
  });
});

describe('validateDigest', () => {
  for (const [label, digest] of VALID_DIGESTS) {
    it(`accepts ${label}`, () => {
      expect(() => {
        validateDigest(digest);
      }).not.toThrow();
    });
  }

  for (const [label, digest] of INVALID_DIGESTS) {
    it(`rejects ${label} with DigestFormatError, quoting the digest`, () => {
      const error = thrownBy(() => {
        validateDigest(digest);
      });
      expect(error).toBeInstanceOf(DigestFormatError);
      expect((error as DigestFormatError).message).toBe(`invalid digest ${JSON.stringify(digest)}: ${digestProblem(digest) ?? ''}`);
    });
  }
});

describe('digestProblem', () => {
  const a64 = 'a'.repeat(64);
  const cases: readonly [string, string][] = [
    ['sha256', 'digest "sha256" has no algorithm: a digest is sha256:<64 hex>, sha384:<96 hex>, sha512:<128 hex>, hex in lower case'],
    [`md5:${'a'.repeat(32)}`, 'digest algorithm "md5" is not supported: a digest is sha256:<64 hex>, sha384:<96 hex>, sha512:<128 hex>, hex in lower case'],
    [`SHA256:${a64}`, 'digest algorithm "SHA256" is not supported: a digest is sha256:<64 hex>, sha384:<96 hex>, sha512:<128 hex>, hex in lower case'],
    ['sha256:abc', 'digest "sha256:abc" has 3 hex digits after "sha256:"; sha256 has 64'],
    [`sha384:${a64}`, `digest "sha384:${a64}" has 64 hex digits after "sha384:"; sha384 has 96`],
    [`sha256:${'A'.repeat(64)}`, `digest "sha256:${'A'.repeat(64)}" must have only lower-case hex digits after "sha256:"`],
  ];
  for (const [digest, problem] of cases) {
    it(`says what is wrong with ${JSON.stringify(digest.length > 20 ? `${digest.slice(0, 20)}…` : digest)}`, () => {
      expect(digestProblem(digest)).toBe(problem);
    });
  }

  it('has nothing to say about a valid digest', () => {
    expect(digestProblem(`sha256:${a64}`)).toBeUndefined();
  });
});
