/**
 * Bearer tokens from a registry's token service (Docker token auth: GET realm
 * ?service=…&scope=…), cached for their lifetime less a safety margin, keyed
 * by realm, service, scopes and credential identity. Tokens missing from the
 * cache at the same moment are asked for in one request (token-batch.ts), and
 * that token is cached under each of their keys.
 */
import { LRUCache } from 'lru-cache';
import type { Credential } from './types.js';
import { basicAuthorization, type BearerChallenge } from './auth-scheme.js';
import { credentialKey } from './credential-key.js';
import type { RegistryEndpoint, UrlCheck } from './endpoint.js';
import { RegistryFailure } from './failure.js';
import { realmOnHosts } from './host-policy.js';
import { raceAbort } from './abort.js';
import { isRecord } from './json.js';
import { failureForStatus } from './status.js';
import { TokenBatcher, type BatchedToken } from './token-batch.js';
import type { Transport } from './transport.js';

/** The spec's default when a token response omits `expires_in`. */
export const DEFAULT_TOKEN_LIFETIME_MS = 60_000;
const MAX_SAFETY_MARGIN_MS = 30_000;
const TOKEN_BODY_LIMIT = 1024 * 1024;
const MAX_CACHED_TOKENS = 1000;

/** What the token service granted. */
export interface GrantedToken {
  readonly token: string;
  /** How long it stays valid from now. */
  readonly lifetimeMs: number;
}

/** One token to get. */
export interface TokenRequest {
  readonly bearer: BearerChallenge;
  readonly scopes: readonly string[];
  readonly credential: Credential | undefined;
  readonly registry: RegistryEndpoint;
  /**
   * Hosts whose realms may receive the credential (see host-policy.ts); when
   * absent, only the registry's own host name. A realm elsewhere gets no request
   * at all while a credential is in play.
   */
  readonly credentialHosts?: ReadonlySet<string> | undefined;
}

/**
 * A token in hand; a 401 with it earns one refresh when it came from the cache
 * (it may have expired or been revoked) or was shared (it may not cover this
 * request's scopes).
 */
export interface TokenLease {
  readonly token: string;
  readonly key: string;
  readonly cached: boolean;
  /** Asked for together with other requests' scopes; see BatchedToken. */
  readonly shared: boolean;
}

/** How to get a token. */
export interface LeaseOptions {
  /** Ask for this request's scopes alone, not batched with others (after a shared token was refused). */
  readonly alone?: boolean;
}

interface CachedToken {
  readonly token: string;
  readonly shared: boolean;
}

interface FetchContext {
  readonly request: TokenRequest;
  readonly alone: boolean;
}

/** Gets and caches tokens; concurrent requests for one key share one fetch, and those for one realm and credential one request. */
export class TokenService {
  private readonly cache: LRUCache<string, CachedToken, FetchContext>;
  private readonly batcher: TokenBatcher;

  constructor(
    private readonly transport: Transport,
    private readonly checkUrl: UrlCheck | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.batcher = new TokenBatcher((request, scopes) => this.fetchToken(request, scopes, undefined));
    this.cache = new LRUCache<string, CachedToken, FetchContext>({
      max: MAX_CACHED_TOKENS,
      ttl: DEFAULT_TOKEN_LIFETIME_MS,
      fetchMethod: async (_key, _stale, { options, context, signal }) => {
        const granted = await this.obtain(context, signal);
        options.ttl = cacheTtl(granted.lifetimeMs);
        return { token: granted.token, shared: granted.shared };
      },
    });
  }

  /** A token for the request, cached or fetched. The caller's signal stops the wait, not a fetch others share. */
  async lease(request: TokenRequest, signal: AbortSignal, options: LeaseOptions = {}): Promise<TokenLease> {
    const key = tokenCacheKey(request);
    const status: LRUCache.Status<string, CachedToken, FetchContext> = {};
    const context: FetchContext = { request, alone: options.alone === true };
    const got = await raceAbort(this.cache.fetch(key, { context, status }), signal, 'waiting for a registry token');
    if (got === undefined) throw new RegistryFailure('unavailable', `token service ${request.bearer.realm} gave no token`);
    return { token: got.token, key, cached: status.fetch === 'hit' || status.fetch === 'stale', shared: got.shared };
  }

  /**
   * Forgets a token the registry refused, unless its key already holds another
   * (or is being fetched again): concurrent refusals of one token cost one refresh.
   */
  invalidate(lease: TokenLease): void {
    if (this.cache.peek(lease.key)?.token === lease.token) this.cache.delete(lease.key);
  }

  /**
   * A missing token: asked for alone (with the signal lru-cache aborts when the
   * key is dropped), or in a batch, which no one key's signal may abort.
   */
  private async obtain(context: FetchContext, signal: AbortSignal): Promise<BatchedToken> {
    if (!context.alone) return this.batcher.join(context.request);
    return { ...(await this.fetchToken(context.request, context.request.scopes, signal)), shared: false };
  }

  private async fetchToken(request: TokenRequest, scopes: readonly string[], signal: AbortSignal | undefined): Promise<GrantedToken> {
    const url = await this.realmUrl(request, scopes);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (request.credential !== undefined) headers['authorization'] = basicAuthorization(request.credential);
    const response = await this.transport.send({ url, method: 'GET', headers, signal });
    if (response.status < 200 || response.status > 299) {
      throw await failureForStatus(response, {
        who: `token service ${url.host}`,
        registryHost: request.registry.origin.host,
        credential: request.credential,
        notFound: 'protocol',
        nowMs: this.now(),
      });
    }
    const body = await response.readBody(TOKEN_BODY_LIMIT, `token service ${url.host} answered with more than 1 MiB`);
    return parseTokenResponse(body, this.now(), url.host);
  }

  /** The realm with service and scopes, after checking credentials may go there. */
  private async realmUrl(request: TokenRequest, scopes: readonly string[]): Promise<URL> {
    const { realm, service } = request.bearer;
    let url: URL;
    try {
      url = new URL(realm);
    } catch (error) {
      throw new RegistryFailure('protocol', `registry named a token realm that is not a URL`, { cause: error });
    }
    const allowed = url.protocol === 'https:' || (url.protocol === 'http:' && request.registry.insecure);
    if (!allowed) {
      throw new RegistryFailure('auth', `token realm ${url.origin} is not HTTPS; refusing to send credentials there`);
    }
    const credentialHosts = request.credentialHosts ?? new Set([request.registry.origin.hostname.toLowerCase()]);
    if (request.credential !== undefined && !realmOnHosts(url, credentialHosts)) {
      throw new RegistryFailure(
        'auth',
        `registry named token realm ${url.origin}, on another host: credentials for ${request.registry.origin.host} are not sent there ` +
          `unless the registry's tokenRealms in the configuration file lists ${url.host}`,
      );
    }
    if (this.checkUrl !== undefined) {
      try {
        await this.checkUrl(url, 'token-realm');
      } catch (error) {
        if (error instanceof RegistryFailure) throw error;
        throw new RegistryFailure('auth', `token realm ${url.origin} is not allowed by policy`, { cause: error });
      }
    }
    if (service !== undefined) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    return url;
  }
}

/** Cache key of a token: realm, service, scopes and credential identity (never the secret). */
export function tokenCacheKey(request: TokenRequest): string {
  const { realm, service } = request.bearer;
  return [realm, service ?? '', request.scopes.join(' '), credentialKey(request.credential)].join('\0');
}

/**
 * Reads `token` (or `access_token`), `expires_in` (default 60 s) and
 * `issued_at`. The lifetime counts from `issued_at` when it is in the past and
 * within `expires_in`; otherwise (clock skew) from now.
 */
export function parseTokenResponse(body: Uint8Array, nowMs: number, host: string): GrantedToken {
  const json = parseJsonObject(body, host);
  const token = nonEmptyString(json['token']) ?? nonEmptyString(json['access_token']);
  if (token === undefined) throw new RegistryFailure('protocol', `token service ${host} answered without a token`);
  const expiresIn = json['expires_in'];
  const lifetimeMs = typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
  const issuedAt = json['issued_at'];
  const elapsed = typeof issuedAt === 'string' ? nowMs - Date.parse(issuedAt) : Number.NaN;
  const spent = Number.isFinite(elapsed) && elapsed >= 0 && elapsed < lifetimeMs ? elapsed : 0;
  return { token, lifetimeMs: lifetimeMs - spent };
}

/** How long to cache a token: its lifetime less a margin (a quarter, at most 30 s), so it is not used as it expires. */
export function cacheTtl(lifetimeMs: number): number {
  const margin = Math.min(MAX_SAFETY_MARGIN_MS, lifetimeMs / 4);
  // lru-cache reads a ttl of 0 as "forever": keep at least 1 ms.
  return Math.max(1, Math.floor(lifetimeMs - margin));
}

function parseJsonObject(body: Uint8Array, host: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    // No cause: V8's message quotes the body.
    throw new RegistryFailure('protocol', `token service ${host} answered with something other than JSON`);
  }
  if (!isRecord(json)) throw new RegistryFailure('protocol', `token service ${host} answered with something other than a JSON object`);
  return json;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
