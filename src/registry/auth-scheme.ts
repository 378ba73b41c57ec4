/** What a registry asks for before serving manifests, learned from its challenge. */
import type { Credential } from '../credentials/types.js';
import { RegistryFailure } from './failure.js';
import { findChallenge, parseWwwAuthenticate, type Challenge } from './www-authenticate.js';

/** The bearer challenge's parameters (Docker token auth). */
export interface BearerChallenge {
  readonly realm: string;
  readonly service: string | undefined;
  /** Space-separated scopes the challenge named, if any. */
  readonly scope: string | undefined;
}

/** How a registry wants to be authenticated. */
export type AuthScheme =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'basic' }
  | { readonly kind: 'bearer'; readonly bearer: BearerChallenge };

export const ANONYMOUS: AuthScheme = { kind: 'anonymous' };

/**
 * The scheme a 401's `WWW-Authenticate` asks for: Bearer when offered (with a
 * realm), else Basic. Throws RegistryFailure for a missing, malformed or
 * unsupported challenge.
 */
export function schemeFromChallenge(header: string | undefined, host: string): AuthScheme {
  if (header === undefined || header.trim() === '') {
    throw new RegistryFailure('protocol', `${host} answered 401 without a WWW-Authenticate challenge`, { status: 401 });
  }
  let challenges: Challenge[];
  try {
    challenges = parseWwwAuthenticate(header);
  } catch (error) {
    throw new RegistryFailure('protocol', `${host} answered 401 with a malformed WWW-Authenticate header`, { cause: error, status: 401 });
  }
  const bearer = findChallenge(challenges, 'bearer');
  const realm = bearer?.params.get('realm');
  if (bearer !== undefined && realm !== undefined && realm !== '') {
    return { kind: 'bearer', bearer: { realm, service: bearer.params.get('service'), scope: bearer.params.get('scope') } };
  }
  if (findChallenge(challenges, 'basic') !== undefined) return { kind: 'basic' };
  const offered = challenges.map((c) => c.scheme).join(', ');
  throw new RegistryFailure('protocol', `${host} asks for unsupported authentication (${offered})`, { status: 401 });
}

/** Whether two schemes would authenticate the same way (a bearer challenge's scope does not count). */
export function sameScheme(a: AuthScheme, b: AuthScheme): boolean {
  if (a.kind === 'bearer' && b.kind === 'bearer') {
    return a.bearer.realm === b.bearer.realm && a.bearer.service === b.bearer.service;
  }
  return a.kind === b.kind;
}

/**
 * Scopes to ask the token service for: pull on the repository, plus whatever
 * the challenge named, except repository scopes of other repositories (a
 * challenge learned while resolving one image is reused for the next).
 */
export function tokenScopes(repository: string, challengeScope: string | undefined): string[] {
  const pull = `repository:${repository}:pull`;
  const fromChallenge = (challengeScope ?? '').split(' ').filter((s) => s !== '');
  const kept = fromChallenge.filter((s) => !s.startsWith('repository:') || s.startsWith(`repository:${repository}:`));
  return [...new Set([pull, ...kept])].sort();
}

/** The `Authorization` value for HTTP Basic (RFC 7617, UTF-8). */
export function basicAuthorization(credential: Credential): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64')}`;
}

const CHALLENGE_ERROR = /^[a-z_]{1,40}$/;

/** The `error` parameter of a bearer challenge (RFC 6750 §3, e.g. `insufficient_scope`), when well-formed. */
export function bearerError(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  try {
    const error = findChallenge(parseWwwAuthenticate(header), 'bearer')?.params.get('error');
    return error !== undefined && CHALLENGE_ERROR.test(error) ? error : undefined;
  } catch {
    return undefined;
  }
}
