export { decodeReview, reviewUid, InvalidReviewError } from './decode.js';
export { admit, REASONS } from './admit.js';
export type { AdmitDeps, AdmitResult, AdmissionOutcome, CredentialContext, CredentialLookup, ImageResolver } from './admit.js';
export { skipList, compileGlob } from './skip.js';
export type { SkipList } from './skip.js';
export { failureWarnings, denialMessage, shorten } from './warnings.js';
export type { ImageFailure } from './warnings.js';
export * from './types.js';
