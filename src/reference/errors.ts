/** Errors of the reference stage: one class per broken rule, each saying what is wrong in the reference as written. */
import { DigestPinnerError } from '../errors.js';

/** A value that broke one rule of the reference grammar. */
export abstract class ReferenceRuleError extends DigestPinnerError {
  /** The value that broke the rule, exactly as the caller passed it. */
  readonly input: string;
  /** What is wrong, for an operator, naming the offending part. */
  readonly rule: string;

  protected constructor(input: string, rule: string, what = 'image reference') {
    super(`invalid ${what} ${quote(input)}: ${rule}`);
    this.input = input;
    this.rule = rule;
  }
}

/** Nothing fits the grammar, and no single part could be blamed. */
export class ReferenceFormatError extends ReferenceRuleError {
  readonly code = 'DP_ERR_REFERENCE_FORMAT';

  constructor(input: string) {
    super(input, 'it is not [host[:port]/]path[:tag][@digest]');
  }
}

/** A character no reference has anywhere: whitespace, control characters, `%`, `$`, anything beyond ASCII. */
export class ReferenceCharacterError extends ReferenceRuleError {
  readonly code = 'DP_ERR_REFERENCE_CHARACTER';

  constructor(input: string, character: string) {
    const codePoint = (character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    super(input, `the character ${quote(character)} (U+${codePoint}) is not allowed in an image reference`);
  }
}

/** A URL where a reference belongs: `https://ghcr.io/o/a`. */
export class ReferenceSchemeError extends ReferenceRuleError {
  readonly code = 'DP_ERR_REFERENCE_SCHEME';

  constructor(input: string, scheme: string) {
    super(input, `an image reference has no URL scheme: leave out ${quote(scheme)}`);
  }
}

/** The reference is empty, or has a tag or digest but no name before it. */
export class NameEmptyError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_EMPTY';

  constructor(input: string) {
    super(input, input === '' ? 'it is empty' : 'it has no repository name');
  }
}

/** The repository path is longer than the grammar allows; the domain is not counted. */
export class NameTooLongError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_TOO_LONG';

  constructor(input: string, path: string, max: number) {
    super(input, `its repository path has ${path.length} characters, more than ${max}`);
  }
}

/** Upper case in the repository path, where only the host may have it. */
export class NameUppercaseError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_UPPERCASE';

  constructor(input: string, name: string) {
    super(input, `repository name ${quote(name)} must be lowercase (only the registry host may have upper case)`);
  }
}

/** The name part (before any tag or digest) is not `[host[:port]/]path`. */
export class NameFormatError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_FORMAT';

  constructor(input: string, name: string) {
    super(
      input,
      `repository name ${quote(name)} is not [host[:port]/]path, where the path is components of lowercase ` +
        'letters and digits joined by "/", with ".", "_", "__" or dashes only between letters and digits',
    );
  }
}

/** A name alone is a 64-hex string, which could be mistaken for an image ID. */
export class NameIdentifierError extends ReferenceRuleError {
  readonly code = 'DP_ERR_NAME_IDENTIFIER';

  constructor(input: string) {
    super(input, 'a name of 64 hexadecimal characters reads as an image ID, not a repository');
  }
}

/** A tag outside `[\w][\w.-]{0,127}`. */
export class TagFormatError extends ReferenceRuleError {
  readonly code = 'DP_ERR_TAG_FORMAT';

  constructor(input: string, tag: string) {
    super(input, `tag ${quote(tag)} must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`);
  }
}

/** A digest outside go-digest's rule (see digest.ts); `problem` says which part. */
export class DigestFormatError extends ReferenceRuleError {
  readonly code = 'DP_ERR_DIGEST_FORMAT';

  /** Public, unlike the base's; `what` is `digest` when `input` is a digest alone rather than a whole reference. */
  public constructor(input: string, problem: string, what?: 'digest') {
    super(input, problem, what);
  }
}

/** An image reference in a workload could not be parsed. The rule it broke is the `cause`. */
export class InvalidReferenceError extends DigestPinnerError {
  readonly code = 'DP_ERR_INVALID_REFERENCE';
  readonly input: string;
  readonly rule: string;
  declare readonly cause: ReferenceRuleError;

  constructor(input: string, cause: ReferenceRuleError) {
    super(`invalid image reference ${quote(input)}: ${cause.rule}`, { cause });
    this.input = input;
    this.rule = cause.rule;
  }
}

/** Quotes a value for a message, escaping what a terminal or log line would mangle. */
function quote(value: string): string {
  return JSON.stringify(value);
}
