import { describe, expect, it } from 'vitest';
import { DigestPinnerError } from '../../src/errors.js';
import {
  ChecksumFormatError,
  ChecksumLengthError,
  DigestFormatError,
  DigestUnsupportedError,
  GO_MESSAGES,
  InvalidReferenceError,
  NameEmptyError,
  NameIdentifierError,
  NameNotCanonicalError,
  NameTooLongError,
  NameUppercaseError,
  PatternSyntaxError,
  ReferenceFormatError,
  TagFormatError,
} from '../../src/reference/index.js';

const everyRuleError = [
  new ReferenceFormatError('x'),
  new NameEmptyError(''),
  new NameTooLongError('x'),
  new NameUppercaseError('X'),
  new NameUppercaseError('X', 'library/X'),
  new NameIdentifierError('x'),
  new NameNotCanonicalError('x'),
  new TagFormatError('x'),
  new DigestFormatError('x'),
  new ChecksumFormatError('x'),
  new ChecksumLengthError('x'),
  new DigestUnsupportedError('x'),
  new PatternSyntaxError('x'),
];

describe('GO_MESSAGES', () => {
  it('holds the sentinel messages of distribution/reference, go-digest v1.0.0 and path', () => {
    expect(GO_MESSAGES).toEqual({
      ErrReferenceInvalidFormat: 'invalid reference format',
      ErrTagInvalidFormat: 'invalid tag format',
      ErrDigestInvalidFormat: 'invalid digest format',
      ErrNameContainsUppercase: 'repository name must be lowercase',
      ErrNameEmpty: 'repository name must have at least one component',
      ErrNameTooLong: 'repository name must not be more than 255 characters',
      ErrNameNotCanonical: 'repository name must be canonical',
      'digest.ErrDigestInvalidFormat': 'invalid checksum digest format',
      'digest.ErrDigestInvalidLength': 'invalid checksum digest length',
      'digest.ErrDigestUnsupported': 'unsupported digest algorithm',
      'path.ErrBadPattern': 'syntax error in pattern',
    });
  });
});

describe('ReferenceRuleError', () => {
  it('gives every rule its own stable code', () => {
    const codeByClass = new Map(everyRuleError.map((error) => [error.constructor.name, error.code]));
    expect(new Set(codeByClass.values()).size).toBe(codeByClass.size);
    for (const code of codeByClass.values()) expect(code).toMatch(/^DP_ERR_[A-Z_]+$/);
  });

  it('is a DigestPinnerError named after its class', () => {
    for (const error of everyRuleError) {
      expect(error).toBeInstanceOf(DigestPinnerError);
      expect(error.name).toBe(error.constructor.name);
    }
  });

  it('carries the sentinel’s message word for word when it has a sentinel', () => {
    for (const error of everyRuleError) {
      if (error.goError !== undefined) expect(error.goMessage).toBe(GO_MESSAGES[error.goError]);
    }
  });

  it('quotes the input after the Go message', () => {
    expect(new NameTooLongError('a"b').message).toBe('repository name must not be more than 255 characters: "a\\"b"');
  });
});

describe('InvalidReferenceError', () => {
  it('says which reference and which rule, keeping the rule error as cause', () => {
    const cause = new NameUppercaseError('Nginx:1', 'library/Nginx');
    const error = new InvalidReferenceError('Nginx:1', cause);
    expect(error.message).toBe('invalid image reference "Nginx:1": repository name must be lowercase');
    expect(error.code).toBe('DP_ERR_INVALID_REFERENCE');
    expect(error.cause).toBe(cause);
    expect(error.rule).toBe(cause.rule);
  });

  it('repeats the Go identity of its cause', () => {
    expect(new InvalidReferenceError('', new NameEmptyError('')).goError).toBe('ErrNameEmpty');
  });
});
