export { Resolver, DEFAULT_TAG } from './resolver.js';
export type { Resolution, ResolutionSource, ResolveOptions, ResolverOptions, CredentialChain } from './resolver.js';
export { ResolutionDeadlineError, failureReason } from './errors.js';
