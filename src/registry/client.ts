/**
 * The OCI distribution client: resolves a tag to its manifest digest with a
 * HEAD (which Docker Hub does not count against the pull quota), learning and
 * caching each registry's auth challenge and bearer tokens per credential.
 */
import type { LookupFunction } from 'node:net';
import * as tls from 'node:tls';
import { LRUCache } from 'lru-cache';
import type { ImageRef } from '../reference/types.js';
import { raceAbort } from '../timeout.js';
import { DIGEST_RULE, isValidDigest } from '../reference/index.js';
import type { Credential } from '../credentials/types.js';
import type { DigestSource, ManifestDigest } from './types.js';
import {
  ANONYMOUS,
  basicAuthorization,
  bearerError,
  sameScheme,
  schemeFromChallenge,
  tokenScopes,
  type AuthScheme,
} from './auth-scheme.js';
import { AddressPolicy, refusalBeforeLookup } from './address-policy.js';
import { credentialKey } from './credential-key.js';
import { Egress } from './egress.js';
import type { RegistryEndpoint } from './endpoint.js';
import { abortedWhile, RegistryFailure, toRegistryError } from './failure.js';
import { DEFAULT_BREAKER, HostHealth, type BreakerOptions, type BreakerState } from './host-health.js';
import { RegistryHosts, type ContactPurpose, type RegistryHostOptions } from './host-policy.js';
import { MANIFEST_ACCEPT, sha256Digest, shownValue } from './manifest.js';
import { DIRECT, type ProxySettings } from './proxy-settings.js';
import { RequestSlots } from './request-slots.js';
import { authProblem, failureForStatus } from './status.js';
import { TokenService, type TokenLease, type WarningLog } from './token.js';
import { Transport, type IncomingResponse, type RequestEvent } from './transport.js';
import { splitPem } from '../pem.js';
import { createTrustContext, loadTrustedCertificates, trustSourcesFromEnv } from './trust.js';

/** How the client reaches registries. */
export interface RegistryClientOptions {
  /** The process environment as main.ts read it (NODE_EXTRA_CA_CERTS is trusted as Node trusts it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** PEM files of CAs to trust besides the system store (e.g. a private registry's CA). */
  readonly caFiles: readonly string[];
  /** `host[:port]` of registries reached over plain HTTP. */
  readonly insecureRegistries: readonly string[];
  /** Bound on each HTTP request (connect, headers, body). */
  readonly requestTimeoutMs: number;
  readonly userAgent: string;
  /** Per-registry TLS, insecure HTTP and token realms, keyed by `host[:port]` as images name the registry. */
  readonly registries?: ReadonlyMap<string, RegistryHostOptions>;
  /** When set, only these registries (`host[:port]` as images name them) and their token realms are contacted. */
  readonly allowedRegistries?: readonly string[] | undefined;
  /** When a host's circuit breaker opens and for how long (default DEFAULT_BREAKER). */
  readonly breaker?: BreakerOptions;
  /** Called for every HTTP request the client makes, to registries and token services alike (metrics). */
  readonly onRequest?: (event: RequestEvent) => void;
  /** DNS lookup for connections (default dns.lookup); every address it returns is checked against the address policy. */
  readonly lookup?: LookupFunction;
  /** The proxies requests go through (proxySettingsFromEnv; default: none, every request direct). */
  readonly proxy?: ProxySettings;
  /** Where the client logs what it refuses beyond the failure it returns (an oversized token). */
  readonly warn?: WarningLog;
  /** Clock of token lifetimes, the circuit breaker and Retry-After (default Date.now). */
  readonly now?: () => number;
}

/** Manifests larger than this are refused when a digest must be computed from the body. */
const MANIFEST_BODY_LIMIT = 4 * 1024 * 1024;
/**
 * Requests in flight to one origin (and connections kept to it), and in all: more wait their
 * turn. Per origin, more than one admission resolves at once (admission/fan-out.ts), so one
 * admission never holds every connection to a registry.
 */
export const MAX_REQUESTS_PER_ORIGIN = 32;
export const MAX_REQUESTS = 256;
/** Longest an idle connection is kept, whatever a server's Keep-Alive header asks for. */
const MAX_IDLE_CONNECTION_MS = 30_000;
const MAX_LEARNED_SCHEMES = 1000;
const MAX_LEARNED_SCHEME_BYTES = 4 * 1024 * 1024;
const LEARNED_SCHEME_TTL_MS = 60 * 60 * 1000;

/** One getDigest call. */
interface DigestLookup {
  readonly ref: ImageRef;
  readonly tag: string;
  readonly credential: Credential | undefined;
  readonly signal: AbortSignal;
  readonly endpoint: RegistryEndpoint;
  /** Key of the learned scheme: registry origin + credential identity. */
  readonly schemeKey: string;
}

/** The Authorization header for one attempt, and what produced it. */
interface Authorization {
  readonly scheme: AuthScheme;
  readonly header: string | undefined;
  readonly lease: TokenLease | undefined;
}

/** Resolves tags to digests against real registries (DigestSource). */
export class RegistryClient implements DigestSource {
  private readonly egress: Egress;
  private readonly transport: Transport;
  private readonly tokens: TokenService;
  private readonly schemes: LRUCache<string, AuthScheme, DigestLookup>;
  private readonly hosts: RegistryHosts;
  private readonly health: HostHealth;
  private readonly addresses = new AddressPolicy();
  private readonly now: () => number;

  /**
   * Builds one keep-alive egress (direct, or through `options.proxy`) trusting
   * Node's roots, the system store, NODE_EXTRA_CA_CERTS (read from `options.env`)
   * and `options.caFiles`. Reads
   * the CA files synchronously, so a bad one fails at startup with
   * RegistryCaFileError.
   */
  constructor(options: RegistryClientOptions) {
    this.now = options.now ?? Date.now;
    this.hosts = new RegistryHosts({
      registries: options.registries ?? new Map(),
      insecureRegistries: options.insecureRegistries,
      allowed: options.allowedRegistries,
    });
    this.health = new HostHealth(options.breaker ?? DEFAULT_BREAKER, this.now);
    this.egress = createEgress(options, this.hosts, this.addresses);
    this.transport = new Transport(this.egress.dispatcher, {
      timeoutMs: options.requestTimeoutMs,
      userAgent: options.userAgent,
      health: this.health,
      slots: new RequestSlots({ perOrigin: MAX_REQUESTS_PER_ORIGIN, total: MAX_REQUESTS }),
      now: this.now,
      ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
      checkRedirect: (url) => {
        this.policyCheck(url, 'redirect');
      },
    });
    this.tokens = new TokenService(this.transport, {
      checkRealm: (url) => {
        this.policyCheck(url, 'token-realm');
      },
      now: this.now,
      warn: options.warn,
    });
    this.schemes = new LRUCache<string, AuthScheme, DigestLookup>({
      max: MAX_LEARNED_SCHEMES,
      // Realm, service and scope come from a registry's challenge: bounded by bytes too.
      maxSize: MAX_LEARNED_SCHEME_BYTES,
      sizeCalculation: (scheme, key) => Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(scheme)),
      ttl: LEARNED_SCHEME_TTL_MS,
      fetchMethod: (_key, _stale, { context, signal }) => this.ping(context, signal),
    });
  }

  /** The digest the registry reports for `ref`'s repository at `tag`; throws a RegistryError subclass. */
  async getDigest(ref: ImageRef, tag: string, credential: Credential | undefined, signal: AbortSignal): Promise<ManifestDigest> {
    const endpoint = this.hosts.endpoint(ref.domain);
    const lookup: DigestLookup = {
      ref,
      tag,
      credential,
      signal,
      endpoint,
      schemeKey: `${endpoint.origin.origin}\0${credentialKey(credential)}`,
    };
    try {
      return await this.resolve(lookup);
    } catch (error) {
      if (error instanceof RegistryFailure) throw toRegistryError(error, `${ref.name}:${tag}`);
      throw error;
    }
  }

  /** Whether `domain`'s registry is on the configured allow-list (false when there is none). */
  allowListed(domain: string): boolean {
    return this.hosts.allowListed(domain);
  }

  /** The circuit breaker state of every registry and token host contacted lately, by `host[:port]` (for metrics). */
  breakerStates(): ReadonlyMap<string, BreakerState> {
    return this.health.states();
  }

  /** Closes the client's connections. */
  async close(): Promise<void> {
    await this.egress.close();
  }

  private async resolve(r: DigestLookup): Promise<ManifestDigest> {
    this.policyCheck(r.endpoint.origin, 'registry');
    let auth = await this.authorize(r, await this.learnedScheme(r));
    let response = await this.requestManifest(r, 'HEAD', auth);
    if (response.status === 401) {
      const challenge = response.header('www-authenticate');
      const challenged = schemeFromChallenge(challenge, r.endpoint.origin.host);
      this.schemes.set(r.schemeKey, challenged);
      if (!worthRetrying(auth, challenged, r.credential)) throw await this.unauthorized(r, response, challenge);
      await response.discard();
      if (auth.lease !== undefined) this.tokens.invalidate(auth.lease);
      auth = await this.authorize(r, challenged);
      response = await this.requestManifest(r, 'HEAD', auth);
      if (response.status === 401) throw await this.unauthorized(r, response, response.header('www-authenticate'));
    }
    return this.digestOf(r, response, auth);
  }

  /**
   * Reads the digest from a HEAD's Docker-Content-Digest; only when a 2xx HEAD
   * lacks it, GETs the manifest (which Docker Hub counts as a pull) and hashes it.
   */
  private async digestOf(r: DigestLookup, response: IncomingResponse, auth: Authorization): Promise<ManifestDigest> {
    if (!isSuccess(response.status)) throw await this.statusFailure(r, response);
    const digest = response.header('docker-content-digest')?.trim();
    await response.discard();
    if (digest !== undefined && digest !== '') return { digest: verifiedDigest(digest) };
    return this.digestFromBody(r, auth);
  }

  private async digestFromBody(r: DigestLookup, auth: Authorization): Promise<ManifestDigest> {
    const response = await this.requestManifest(r, 'GET', auth);
    if (!isSuccess(response.status)) throw await this.statusFailure(r, response);
    const body = await response.readBody(MANIFEST_BODY_LIMIT, `manifest is larger than ${MANIFEST_BODY_LIMIT / 1024 / 1024} MiB`);
    return { digest: sha256Digest(body) };
  }

  private async requestManifest(r: DigestLookup, method: 'HEAD' | 'GET', auth: Authorization): Promise<IncomingResponse> {
    const url = new URL(`/v2/${r.ref.path.split('/').map(encodeURIComponent).join('/')}/manifests/${encodeURIComponent(r.tag)}`, r.endpoint.origin);
    const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
    if (auth.header !== undefined) headers['authorization'] = auth.header;
    return this.transport.send({ url, method, headers, signal: r.signal });
  }

  /** The scheme learned for this registry and credential, pinging `GET /v2/` the first time. */
  private async learnedScheme(r: DigestLookup): Promise<AuthScheme> {
    const scheme = await raceAbort(this.schemes.fetch(r.schemeKey, { context: r }), r.signal, abortedWhile('learning the registry auth scheme'));
    return scheme ?? ANONYMOUS;
  }

  /** `GET /v2/` without credentials: 200 means anonymous, 401 carries the challenge. */
  private async ping(r: DigestLookup, signal: AbortSignal): Promise<AuthScheme> {
    const url = new URL('/v2/', r.endpoint.origin);
    const response = await this.transport.send({ url, method: 'GET', headers: {}, signal });
    if (response.status === 401) {
      await response.discard();
      return schemeFromChallenge(response.header('www-authenticate'), url.host);
    }
    if (response.status === 429 || response.status >= 500) throw await this.statusFailure(r, response);
    // Anything else: assume no auth and let the manifest request say otherwise.
    await response.discard();
    return ANONYMOUS;
  }

  private async authorize(r: DigestLookup, scheme: AuthScheme): Promise<Authorization> {
    if (scheme.kind === 'anonymous') return { scheme, header: undefined, lease: undefined };
    if (scheme.kind === 'basic') {
      // Basic goes only to the registry the credential is for (this origin), and only when challenged.
      return { scheme, header: r.credential === undefined ? undefined : basicAuthorization(r.credential), lease: undefined };
    }
    const lease = await this.tokens.lease(
      {
        bearer: scheme.bearer,
        scopes: tokenScopes(r.ref.path, scheme.bearer.scope),
        credential: r.credential,
        registry: r.endpoint,
        credentialHosts: this.hosts.credentialHosts(r.ref.domain),
      },
      r.signal,
    );
    return { scheme, header: `Bearer ${lease.token}`, lease };
  }

  /** The failure for a 401 that authenticating did not cure. */
  private async unauthorized(r: DigestLookup, response: IncomingResponse, challenge: string | undefined): Promise<RegistryFailure> {
    if (bearerError(challenge) !== 'insufficient_scope') return this.statusFailure(r, response);
    await response.discard();
    const who = r.credential === undefined ? 'anonymous access' : `user ${JSON.stringify(r.credential.username)} (${r.credential.source})`;
    const hint = r.credential === undefined ? `; ${authProblem({ credential: undefined, registryHost: r.endpoint.origin.host }, 401)}` : '';
    return new RegistryFailure('auth', `registry answered 401 insufficient_scope: ${who} may not pull this repository, or it does not exist${hint}`, {
      status: 401,
    });
  }

  private statusFailure(r: DigestLookup, response: IncomingResponse): Promise<RegistryFailure> {
    return failureForStatus(response, {
      who: 'registry',
      registryHost: r.endpoint.origin.host,
      credential: r.credential,
      notFound: 'manifest-unknown',
      nowMs: this.now(),
    });
  }

  /** Throws a `policy` RegistryFailure for a host name no DNS name can be, a blocked address literal, or a host the allow-list leaves out. */
  private policyCheck(url: URL, purpose: ContactPurpose): void {
    const refused = refusalBeforeLookup(this.addresses, url.hostname);
    if (refused !== undefined) throw new RegistryFailure('policy', refused.message);
    const refusal = this.hosts.refusal(url, purpose);
    if (refusal !== undefined) throw new RegistryFailure('policy', refusal);
  }
}

/**
 * After a 401, retry once only when something may have changed: the token was
 * cached (expired or revoked), or the registry now asks for another scheme that
 * we can answer (Basic needs a credential).
 */
function worthRetrying(used: Authorization, challenged: AuthScheme, credential: Credential | undefined): boolean {
  if (used.lease?.cached === true) return true;
  if (sameScheme(used.scheme, challenged)) return false;
  return challenged.kind !== 'basic' || credential !== undefined;
}

/**
 * The egress for every registry, connecting through the address policy (directly or
 * through the environment's proxy), with one TLS context for the default trust and
 * one per registry that configures its own CA or client certificate.
 */
function createEgress(options: RegistryClientOptions, hosts: RegistryHosts, policy: AddressPolicy): Egress {
  const certificates = loadTrustedCertificates(options.caFiles, trustSourcesFromEnv(options.env));
  const defaults = { secureContext: createTrustContext(certificates) };
  const perHost = new Map(
    hosts
      .configured()
      .filter(([, s]) => s.ca !== undefined || s.clientCert !== undefined)
      .map(([host, settings]) => [host, { secureContext: hostContext(certificates, settings) }] as const),
  );
  return new Egress({
    policy,
    lookup: options.lookup,
    proxy: options.proxy ?? DIRECT,
    timeoutMs: options.requestTimeoutMs,
    connectionsPerOrigin: MAX_REQUESTS_PER_ORIGIN,
    connectionsToProxy: MAX_REQUESTS,
    keepAliveMaxTimeoutMs: MAX_IDLE_CONNECTION_MS,
    connectOptionsFor: (host) => perHost.get(host) ?? defaults,
    proxyTls: defaults,
  });
}

/** The default trust plus the registry's own CA, and its client certificate. */
function hostContext(certificates: readonly string[], settings: RegistryHostOptions): tls.SecureContext {
  return tls.createSecureContext({
    ca: [...certificates, ...splitPem(settings.ca ?? '')],
    ...(settings.clientCert === undefined ? {} : { cert: settings.clientCert, key: settings.clientKey }),
  });
}

function verifiedDigest(digest: string): string {
  if (!isValidDigest(digest)) {
    throw new RegistryFailure('invalid-digest', `registry reported digest ${shownValue(digest)}, not ${DIGEST_RULE}`);
  }
  return digest;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}
