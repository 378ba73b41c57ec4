import { describe, expect, it } from 'vitest';
import { DigestPinnerError } from '../../src/errors.js';
import {
  DigestFormatError,
  InvalidReferenceError,
  NameEmptyError,
  NameFormatError,
  NameIdentifierError,
  NameTooLongError,
  NameUppercaseError,
  ReferenceCharacterError,
  ReferenceFormatError,
  ReferenceSchemeError,
  TagFormatError,
} from '../../src/reference/index.js';

const everyRuleError = [
  new ReferenceFormatError('x'),
  new ReferenceCharacterError('a b', ' '),
  new ReferenceSchemeError('https://x/y', 'https://'),
  new NameEmptyError(''),
  new NameTooLongError('x', 'x', 255),
  new NameUppercaseError('X', 'X'),
  new NameFormatError('-x', '-x'),
  new NameIdentifierError('x'),
  new TagFormatError('x:-1', '-1'),
  new DigestFormatError('x@sha256:1', 'the digest is wrong'),
];

describe('ReferenceRuleError', () => {
  it('gives every rule its own stable code', () => {
    const codes = everyRuleError.map((error) => error.code);
    expect(new Set(codes).size).toBe(everyRuleError.length);
    for (const code of codes) expect(code).toMatch(/^DP_ERR_[A-Z_]+$/);
  });

  it('is a DigestPinnerError named after its class', () => {
    for (const error of everyRuleError) {
      expect(error).toBeInstanceOf(DigestPinnerError);
      expect(error.name).toBe(error.constructor.name);
    }
  });

  it('quotes the input, then says what is wrong', () => {
    expect(new TagFormatError('app:-"1', '-"1').message).toBe(
      'invalid image reference "app:-\\"1": tag "-\\"1" must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"',
    );
  });

  it('names a character no reference has by its code point, escaped when it is invisible', () => {
    expect(new ReferenceCharacterError('a\tb', '\t').rule).toBe('the character "\\t" (U+0009) is not allowed in an image reference');
    expect(new ReferenceCharacterError('a\u{10D50}', '\u{10D50}').rule).toBe('the character "\u{10D50}" (U+10D50) is not allowed in an image reference');
  });

  it('tells an empty reference from a missing name', () => {
    expect(new NameEmptyError('').rule).toBe('it is empty');
    expect(new NameEmptyError(':tag').rule).toBe('it has no repository name');
  });

  it('says a digest alone is a digest', () => {
    expect(new DigestFormatError('sha256:1', 'the digest is wrong', 'digest').message).toBe('invalid digest "sha256:1": the digest is wrong');
  });
});

describe('InvalidReferenceError', () => {
  it('says which reference and which rule, keeping the rule error as cause', () => {
    const cause = new NameUppercaseError('Nginx:1', 'Nginx');
    const error = new InvalidReferenceError('Nginx:1', cause);
    expect(error.message).toBe('invalid image reference "Nginx:1": repository name "Nginx" must be lowercase (only the registry host may have upper case)');
    expect(error.code).toBe('DP_ERR_INVALID_REFERENCE');
    expect(error.cause).toBe(cause);
    expect(error.rule).toBe(cause.rule);
  });
});
