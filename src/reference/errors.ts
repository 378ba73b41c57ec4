/** Errors of the reference stage: one class per broken rule, each naming the Go error it stands for. */
import { DigestPinnerError } from '../errors.js';

/** The Go sentinel errors of distribution/reference, go-digest v1.0.0 and `path.Match`. */
export type GoErrorId =
  | 'ErrReferenceInvalidFormat'
  | 'ErrTagInvalidFormat'
  | 'ErrDigestInvalidFormat'
  | 'ErrNameContainsUppercase'
  | 'ErrNameEmpty'
  | 'ErrNameTooLong'
  | 'ErrNameNotCanonical'
  | 'digest.ErrDigestInvalidFormat'
  | 'digest.ErrDigestInvalidLength'
  | 'digest.ErrDigestUnsupported'
  | 'path.ErrBadPattern';

/** What each Go sentinel's `Error()` returns, word for word. */
export const GO_MESSAGES: Readonly<Record<GoErrorId, string>> = {
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
};

/**
 * A value that broke one rule of the reference grammar. `goMessage` is what Go's
 * `err.Error()` would say; `goError` names the sentinel `errors.Is` would match, and
 * is undefined where Go builds an ad-hoc error (`fmt.Errorf`) instead.
 */
export abstract class ReferenceRuleError extends DigestPinnerError {
  abstract readonly goError: GoErrorId | undefined;
  /** The value that broke the rule, exactly as the caller passed it. */
  readonly input: string;
  /** Go's message for this failure, word for word. */
  readonly goMessage: string;
  /** The rule, in a few words, for an operator. */
  readonly rule: string;

  protected constructor(input: string, goMessage: string, rule: string = goMessage) {
    super(`${goMessage}: ${quote(input)}`);
    this.input = input;
    this.goMessage = goMessage;
    this.rule = rule;
  }
}

/** The reference does not fit the grammar. */
export class ReferenceFormatError extends ReferenceRuleError {
  readonly code = 'DP_ERR_REFERENCE_FORMAT';
  readonly goError = 'ErrReferenceInvalidFormat';

  constructor(input: string) {
    super(input, GO_MESSAGES.ErrReferenceInvalidFormat);
  }
}

/** The reference is the empty string. */
export class NameEmptyError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_EMPTY';
  readonly goError = 'ErrNameEmpty';

  constructor(input: string) {
    super(input, GO_MESSAGES.ErrNameEmpty);
  }
}

/** The repository path is longer than 255 characters. */
export class NameTooLongError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_TOO_LONG';
  readonly goError = 'ErrNameTooLong';

  constructor(input: string) {
    super(input, GO_MESSAGES.ErrNameTooLong);
  }
}

/**
 * The repository path has an upper-case letter. `Parse` returns the sentinel;
 * `ParseNormalizedNamed` checks first and builds its own message naming the path.
 */
export class NameUppercaseError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_UPPERCASE';
  readonly goError: GoErrorId | undefined;

  /** `remote` is the path ParseNormalizedNamed found upper case in; omit it for Parse's sentinel. */
  constructor(input: string, remote?: string) {
    const rule = GO_MESSAGES.ErrNameContainsUppercase;
    super(input, remote === undefined ? rule : `invalid reference format: repository name (${remote}) must be lowercase`, rule);
    this.goError = remote === undefined ? 'ErrNameContainsUppercase' : undefined;
  }
}

/** A name alone is a 64-hex string, which could be mistaken for an image ID. */
export class NameIdentifierError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_IDENTIFIER';
  readonly goError = undefined;

  constructor(input: string) {
    super(
      input,
      `invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`,
      'repository name cannot be a 64-character hexadecimal string',
    );
  }
}

/** ParseNamed was given a name that is not already in its normalised form. */
export class NameNotCanonicalError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_NOT_CANONICAL';
  readonly goError = 'ErrNameNotCanonical';

  constructor(input: string) {
    super(input, GO_MESSAGES.ErrNameNotCanonical);
  }
}

/** A tag outside `[\w][\w.-]{0,127}`. */
export class TagFormatError extends ReferenceRuleError {
  readonly code = 'DP_ERR_TAG_FORMAT';
  readonly goError = 'ErrTagInvalidFormat';

  constructor(input: string) {
    super(input, GO_MESSAGES.ErrTagInvalidFormat);
  }
}

/** A digest outside the reference grammar (`algorithm:hex`, at least 32 hex). */
export class DigestFormatError extends ReferenceRuleError {
  readonly code = 'DP_ERR_DIGEST_FORMAT';
  readonly goError = 'ErrDigestInvalidFormat';

  constructor(input: string) {
    super(input, GO_MESSAGES.ErrDigestInvalidFormat);
  }
}

/** go-digest: no `algorithm:encoded` shape, or the encoded part is not lower-case hex. */
export class ChecksumFormatError extends ReferenceRuleError {
  readonly code = 'DP_ERR_CHECKSUM_FORMAT';
  readonly goError = 'digest.ErrDigestInvalidFormat';

  constructor(input: string) {
    super(input, GO_MESSAGES['digest.ErrDigestInvalidFormat']);
  }
}

/** go-digest: the encoded part is not as long as the algorithm's hash. */
export class ChecksumLengthError extends ReferenceRuleError {
  readonly code = 'DP_ERR_CHECKSUM_LENGTH';
  readonly goError = 'digest.ErrDigestInvalidLength';

  constructor(input: string) {
    super(input, GO_MESSAGES['digest.ErrDigestInvalidLength']);
  }
}

/** go-digest: a well-formed digest whose algorithm is not sha256, sha384 or sha512. */
export class DigestUnsupportedError extends ReferenceRuleError {
  readonly code = 'DP_ERR_DIGEST_UNSUPPORTED';
  readonly goError = 'digest.ErrDigestUnsupported';

  constructor(input: string) {
    super(input, GO_MESSAGES['digest.ErrDigestUnsupported']);
  }
}

/** A malformed glob, e.g. `[-x]` or a trailing backslash (Go's path.ErrBadPattern). */
export class PatternSyntaxError extends ReferenceRuleError {
  readonly code = 'DP_ERR_PATTERN_SYNTAX';
  readonly goError = 'path.ErrBadPattern';

  constructor(input: string) {
    super(input, GO_MESSAGES['path.ErrBadPattern']);
  }
}

/**
 * An image reference in a workload could not be parsed. The rule it broke is
 * the `cause`; its Go identity is repeated as `goError` for callers that switch on it.
 */
export class InvalidReferenceError extends DigestPinnerError {
  readonly code = 'DP_ERR_INVALID_REFERENCE';
  readonly input: string;
  readonly rule: string;
  readonly goError: GoErrorId | undefined;
  declare readonly cause: ReferenceRuleError;

  constructor(input: string, cause: ReferenceRuleError) {
    super(`invalid image reference ${quote(input)}: ${cause.rule}`, { cause });
    this.input = input;
    this.rule = cause.rule;
    this.goError = cause.goError;
  }
}

/** Quotes a value for a message, escaping what a terminal or log line would mangle. */
function quote(value: string): string {
  return JSON.stringify(value);
}
