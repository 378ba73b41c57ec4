/** Image references: the distribution/reference grammar, Docker Hub normalisation, digests, and pinning. */
export type { ImageRef } from './types.js';
export { DEFAULT_DOMAIN, DEFAULT_TAG, OFFICIAL_REPO_PREFIX, parseNormalizedNamed, registryDomain } from './normalize.js';
export { DIGEST_RULE, isValidDigest } from './digest.js';
export { normalizedString, parseImage, pinnedReference, taggedName, type PinOptions } from './image.js';
export { registryEndpoint } from './endpoint.js';
export { ANCHORED_DOMAIN } from './grammar.js';
export {
  DigestFormatError,
  InvalidReferenceError,
  NameEmptyError,
  NameFormatError,
  NameIdentifierError,
  NameTooLongError,
  NameUppercaseError,
  ReferenceCharacterError,
  ReferenceFormatError,
  ReferenceRuleError,
  ReferenceSchemeError,
  TagFormatError,
} from './errors.js';
