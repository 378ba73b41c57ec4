/**
 * Bearer tokens from a registry's token service (Docker token auth: GET realm
 * ?service=…&scope=…), one per repository scope, cached for their lifetime less
 * a safety margin, keyed by realm, service, scopes and credential identity.
 * Concurrent leases of one key share one request; leases of different keys go
 * out in parallel. The cache is bounded by count and by bytes, and a token
 * longer than MAX_TOKEN_BYTES (or a response longer than TOKEN_BODY_LIMIT) is
 * refused and logged, as a hostile token service could otherwise fill it.
 */
import { LRUCache } from 'lru-cache';
import { raceAbort } from '../timeout.js';
import type { Credential } from '../credentials/types.js';
import { basicAuthorization, type BearerChallenge } from './auth-scheme.js';
import { credentialKey } from './credential-key.js';
import type { RegistryEndpoint } from './endpoint.js';
import { abortedWhile, RegistryFailure } from './failure.js';
import { realmOnHosts } from './host-policy.js';
import { isRecord } from '../json.js';
import { failureForStatus } from './status.js';
import type { Transport } from './transport.js';

/** The spec's default when a token response omits `expires_in`. */
const DEFAULT_TOKEN_LIFETIME_MS = 60_000;
/** Longest token accepted: it goes in the Authorization header of every manifest request. */
const MAX_TOKEN_BYTES = 16 * 1024;
const MAX_SAFETY_MARGIN_MS = 30_000;
/** Longest token response read: room for the longest token twice (`token` and `access_token`) and the rest. */
const TOKEN_BODY_LIMIT = 4 * MAX_TOKEN_BYTES;
const MAX_CACHED_TOKENS = 1000;
const MAX_CACHED_TOKEN_BYTES = 4 * 1024 * 1024;

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

/** A token in hand; a 401 with it earns one refresh when it came from the cache (it may have expired or been revoked since). */
export interface TokenLease {
  readonly token: string;
  readonly key: string;
  readonly cached: boolean;
}

/** A warning for the operator's log (pino's `warn(fields, message)`). */
export type WarningLog = (fields: Readonly<Record<string, unknown>>, message: string) => void;

/** How the token service is reached, checked, timed and heard from. */
export interface TokenServiceOptions {
  /** Throws a RegistryFailure for a realm policy forbids; nothing is sent there. */
  readonly checkRealm?: ((url: URL) => void) | undefined;
  /** Clock of token lifetimes (default Date.now). */
  readonly now?: (() => number) | undefined;
  /** Hears of refused tokens. */
  readonly warn?: WarningLog | undefined;
}

/** Gets and caches tokens; concurrent leases of one key share one request. */
export class TokenService {
  private readonly cache: LRUCache<string, string, TokenRequest>;
  private readonly checkRealm: ((url: URL) => void) | undefined;
  private readonly now: () => number;
  private readonly warn: WarningLog | undefined;

  constructor(
    private readonly transport: Transport,
    options: TokenServiceOptions = {},
  ) {
    this.checkRealm = options.checkRealm;
    this.now = options.now ?? Date.now;
    this.warn = options.warn;
    this.cache = new LRUCache<string, string, TokenRequest>({
      max: MAX_CACHED_TOKENS,
      maxSize: MAX_CACHED_TOKEN_BYTES,
      sizeCalculation: (token, key) => Buffer.byteLength(token) + Buffer.byteLength(key),
      ttl: DEFAULT_TOKEN_LIFETIME_MS,
      // Lifetimes are read on the injected clock, every time (no cached reading of it).
      perf: { now: this.now },
      ttlResolution: 0,
      fetchMethod: async (_key, _stale, { options: set, context, signal }) => {
        const granted = await this.fetchToken(context, signal);
        set.ttl = cacheTtl(granted.lifetimeMs);
        return granted.token;
      },
    });
  }

  /** A token for the request, cached or fetched. The caller's signal stops the wait, not a fetch others share. */
  async lease(request: TokenRequest, signal: AbortSignal): Promise<TokenLease> {
    const key = tokenCacheKey(request);
    const status: LRUCache.Status<string, string, TokenRequest> = {};
    const token = await raceAbort(this.cache.fetch(key, { context: request, status }), signal, abortedWhile('waiting for a registry token'));
    if (token === undefined) throw new RegistryFailure('unavailable', `token service ${request.bearer.realm} gave no token`);
    return { token, key, cached: status.fetch === 'hit' };
  }

  /**
   * Forgets a token the registry refused, unless its key already holds another
   * (or is being fetched again): concurrent refusals of one token cost one refresh.
   */
  invalidate(lease: TokenLease): void {
    if (this.cache.peek(lease.key) === lease.token) this.cache.delete(lease.key);
  }

  private async fetchToken(request: TokenRequest, signal: AbortSignal): Promise<GrantedToken> {
    const url = this.realmUrl(request);
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
    const tooLarge = `token service ${url.host} answered with more than ${TOKEN_BODY_LIMIT / 1024} KiB`;
    let body: Uint8Array;
    try {
      body = await response.readBody(TOKEN_BODY_LIMIT, tooLarge);
    } catch (error) {
      if (error instanceof RegistryFailure && error.reason === tooLarge) {
        this.report({ tokenService: url.host, scopes: request.scopes, maxResponseBytes: TOKEN_BODY_LIMIT }, tooLarge);
      }
      throw error;
    }
    const granted = parseTokenResponse(body, this.now(), url.host);
    const bytes = Buffer.byteLength(granted.token);
    if (bytes > MAX_TOKEN_BYTES) {
      const reason = `token service ${url.host} answered with a token of ${bytes} bytes, longer than the ${MAX_TOKEN_BYTES} accepted`;
      this.report({ tokenService: url.host, scopes: request.scopes, tokenBytes: bytes, maxTokenBytes: MAX_TOKEN_BYTES }, reason);
      throw new RegistryFailure('protocol', reason);
    }
    return granted;
  }

  private report(fields: Readonly<Record<string, unknown>>, message: string): void {
    try {
      this.warn?.(fields, message);
    } catch {
      // A broken logger must not change the outcome; the failure itself still reaches the caller.
    }
  }

  /** The realm with service and scopes, after checking credentials may go there. */
  private realmUrl(request: TokenRequest): URL {
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
    this.checkRealm?.(url);
    if (service !== undefined) url.searchParams.set('service', service);
    for (const scope of request.scopes) url.searchParams.append('scope', scope);
    return url;
  }
}

/** Cache key of a token: realm, service, scopes and credential identity (never the secret). */
export function tokenCacheKey(request: TokenRequest): string {
  const { realm, service } = request.bearer;
  return [realm, service ?? '', request.scopes.join(' '), credentialKey(request.credential)].join('\0');
}

/**
 * Reads `token` (or `access_token`), `expires_in` (the spec's default when absent) and
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

/** How long to cache a token: its lifetime less a margin (a quarter, at most MAX_SAFETY_MARGIN_MS), so it is not used as it expires. */
export function cacheTtl(lifetimeMs: number): number {
  const margin = Math.min(MAX_SAFETY_MARGIN_MS, lifetimeMs / 4);
  // lru-cache reads a ttl of 0 as "forever": keep at least a millisecond.
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
