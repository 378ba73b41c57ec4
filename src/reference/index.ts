/** Image references: the distribution/reference grammar, Docker Hub normalisation, and pinning. */
export type { ImageRef } from './types.js';
export type { DigestReference, NamedParts, NamedReference, Reference } from './reference.js';
export { digestReference, namedReference, referenceString, withDigest, withName, withTag } from './reference.js';
/** Go's `String()` of a reference, under the name others expect. */
export { referenceString as toString } from './reference.js';
export { parseReference } from './parse.js';
export {
  DEFAULT_DOMAIN,
  familiarName,
  familiarString,
  parseAnyReference,
  parseDockerRef,
  parseNamed,
  parseNormalizedNamed,
  tagNameOnly,
} from './normalize.js';
export { familiarMatch, pathMatch } from './match.js';
export { isValidDigest, validateDigest } from './digest.js';
export { normalizedString, parseImage, pinnedReference, type PinOptions } from './image.js';
export { registryEndpoint } from './endpoint.js';
export {
  ANCHORED_DIGEST,
  ANCHORED_DOMAIN,
  ANCHORED_IDENTIFIER,
  ANCHORED_NAME,
  ANCHORED_TAG,
  REFERENCE,
  REPOSITORY_NAME_TOTAL_LENGTH_MAX,
} from './grammar.js';
export {
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
  ReferenceRuleError,
  TagFormatError,
  type GoErrorId,
} from './errors.js';
