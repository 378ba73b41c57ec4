export { Resolver } from './resolver.js';
export type { LedgerAnswer, LedgerObservation, Resolution, ResolutionSource, ResolveOptions, ResolverOptions, ResolveScope, TagLedger } from './resolver.js';
export { ResolutionDeadlineError, failureDetail, failureReason } from './errors.js';
export { DEFAULT_RETRY, retryDelay, jitter, withRetries, type RetryPolicy, type RetryBudget } from './retry.js';
export { allowsStale, formatAge, staleWarning } from './cache-entry.js';
