export { decodeReview, reviewUid, InvalidReviewError } from './decode.js';
export { admit, REASONS } from './admit.js';
export type {
  AdmitDeps, AdmitResult, AdmissionOutcome, AdmissionResolution, AdmissionSource, ImageResolver, ImageSetSource,
} from './admit.js';
export { InvalidSkipListError, MAX_SKIP_PATTERNS, parseSkipPatterns, PATTERN_CHARACTERS, SKIP_LIST_VARIABLE, skipList, skipListLiteral } from './skip.js';
export type { IgnoredSkipLine, ParsedSkipPatterns, SkipList } from './skip.js';
export { failureWarnings, denialMessage, shorten } from './warnings.js';
export type { ImageFailure, ImageNote } from './warnings.js';
export * from './types.js';
