/**
 * Resolver pipeline: already pinned → in-memory cache (with in-flight
 * de-duplication) → the tag ledger shared by replicas (admissions only) → the
 * registry's mirrors → the registry; the registry's answers are told to the ledger.
 * A `fresh` lookup (a revision's first Pod) skips the cache's and the ledger's fresh
 * answers and asks the registry; the cache, then the ledger, answer it only when the
 * registry cannot (as stale). Everything cached is
 * keyed by the credential as well as the reference, so a digest obtained with one
 * tenant's secret never answers another tenant's request.
 *
 * Under failure: one shared fetch retries within its own budget; "manifest
 * unknown" is remembered for `negativeTtlMs`; when the registry cannot answer
 * (unreachable, 5xx, timeout, rate limit, breaker open, or the caller's deadline
 * comes first) a digest it gave no more than `staleForMs` ago is served as
 * `stale`, with a warning; failing that, one a replica verified in the ledger within
 * `staleForMs` (admissions only), with the same warning.
 *
 * Mirrors: a mirror `mirror.internal/quay` of `quay.io` is asked for
 * `mirror.internal/quay/<path>:<tag>` first, with its own credentials; its digest
 * is used only when it holds that tag. Otherwise (no such tag, unreachable, too
 * slow) the registry itself is asked. The reference written stays the image's
 * own: a mirror changes where the digest is looked up, never what is pinned.
 */
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import type { ImageRef } from '../reference/types.js';
import { DEFAULT_TAG, parseImage, taggedName } from '../reference/index.js';
import type { Credential, CredentialChain } from '../credentials/types.js';
import type { DigestSource, ManifestDigest } from '../registry/types.js';
import {
  credentialKey,
  InsecureRegistryRequiredError,
  InvalidDigestError,
  ManifestUnknownError,
  RegistryAbortedError,
  RegistryCircuitOpenError,
  RegistryProtocolError,
  RegistryTimeoutError,
  RegistryUnavailableError,
  RegistryUnreachableError,
} from '../registry/index.js';
import { describeError } from '../errors.js';
import { allowsStale, entryBytes, staleEntry, staleWarning, type CacheEntry } from './cache-entry.js';
import { ResolutionDeadlineError } from './errors.js';
import { DEFAULT_RETRY, withRetries, type RetryPolicy } from './retry.js';
import { cancellableTimeout, raceAbort } from '../timeout.js';

/** Where a digest came from. */
export type ResolutionSource = 'pinned' | 'cache' | 'ledger' | 'registry' | 'stale';

/** A resolved image: the digest to pin and how it was obtained. */
export interface Resolution {
  /** The reference resolved, as given (a mirror's answer still names the image's own registry). */
  readonly ref: ImageRef;
  readonly digest: string;
  readonly source: ResolutionSource;
  /** Which credential answered (`source` of the credential), undefined when anonymous or pinned. */
  readonly credential: string | undefined;
  /** The namespace of the pull secret that answered (Credential.tenant); undefined for the webhook's own credentials or none. */
  readonly tenant?: string | undefined;
  /** The mirror that answered, as configured (e.g. `mirror.internal/quay`); undefined when the image's own registry did. */
  readonly mirror?: string | undefined;
  /**
   * Set when `source` is `stale`: one line for an admission warning, without the
   * image, e.g. `pinned to a stale digest (resolved 12m ago): registry answered 503`.
   */
  readonly warning?: string | undefined;
}

export interface ResolveOptions {
  readonly credentials: CredentialChain;
  /** The caller's deadline. Aborting it gives up waiting; it never cancels a shared fetch. */
  readonly signal: AbortSignal;
  /** Ask the registry even when the cache or the ledger could answer; the cache answers only when the registry cannot. */
  readonly fresh?: boolean | undefined;
  /** The admission asking: the ledger answers and records only with it. */
  readonly scope?: ResolveScope | undefined;
}

/** Who asks, as the tag ledger needs it: the Pod's namespace, and whether it is a dry run (then nothing is written). */
export interface ResolveScope {
  readonly namespace: string | undefined;
  readonly dryRun: boolean;
}

/** A registry's answer for a tag, as the ledger records it. */
export interface LedgerObservation {
  /** The normalised `repository:tag`. */
  readonly image: string;
  readonly digest: string;
  /** The registry's host[:port], for the bounded `host` label. */
  readonly domain: string;
  /** The namespace whose pull secret answered; undefined: anonymous or the webhook's own credentials. */
  readonly tenant: string | undefined;
}

/** A ledger entry's digest and when a replica last verified it (epoch milliseconds). */
export interface LedgerAnswer {
  readonly digest: string;
  readonly verifiedAt: number;
}

/**
 * The tag ledger shared by the webhook's replicas (rollout/ledger-store.ts, docs/rollouts.md):
 * asked after the cache and before the registry, told every registry answer, and the last
 * fallback when the registry cannot answer.
 */
export interface TagLedger {
  /** The digest a replica verified within the cache TTL for `image`, as Pods of `namespace` may see it; undefined: ask the registry. */
  answer(image: string, namespace: string | undefined): string | undefined;
  /** The entry for `image` Pods of `namespace` may see, verified within `withinMs` (`cache.staleFor`); undefined: none. */
  fallback(image: string, namespace: string | undefined, withinMs: number): LedgerAnswer | undefined;
  /** A registry's answer; written when the ledger's rules say so, in the background. Never throws. */
  observe(observation: LedgerObservation): void;
}

export interface ResolverOptions {
  readonly source: DigestSource;
  /** How long a resolved tag is trusted without asking the registry again, in ms. */
  readonly cacheTtlMs: number;
  /** Most entries the cache holds. */
  readonly cacheMax: number;
  /** Most bytes its entries may hold, as entryBytes estimates them (default DEFAULT_CACHE_MAX_BYTES). */
  readonly cacheMaxBytes?: number;
  /** Budget of one shared registry fetch, retries included, independent of any one caller. */
  readonly fetchTimeoutMs: number;
  /** Decides whether a failure with one credential should move on to the next one. */
  readonly tryNextCredential?: (error: unknown) => boolean;
  /** Oldest digest served stale when its registry cannot answer, in ms (default 0: never stale). */
  readonly staleForMs?: number;
  /** How long "manifest unknown" is remembered, in ms (default 0: not cached). */
  readonly negativeTtlMs?: number;
  readonly retry?: RetryPolicy;
  /** Mirrors to ask first, by registry domain (`quay.io` → [`mirror.internal/quay`]). */
  readonly mirrors?: ReadonlyMap<string, readonly string[]>;
  /** Credentials for a mirror's domain (default: anonymous only). The image's own credentials never go to a mirror. */
  readonly mirrorCredentials?: (domain: string) => CredentialChain;
  /** How long a caller waits on one mirror before asking the next or the registry (default half of fetchTimeoutMs). */
  readonly mirrorWaitMs?: number;
  /**
   * Whether a failure to reach `domain`'s registry may say how it failed (refused, timed out,
   * answered something else); when not, it is a RegistryUnreachableError whose `detail` says
   * it. Default: always (the CLI's user is the operator).
   */
  readonly discloses?: (domain: string) => boolean;
  /** The tag ledger shared by replicas (the webhook's); asked only for admissions (ResolveOptions.scope). */
  readonly ledger?: TagLedger | undefined;
  /** Clock and randomness, for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
}

/** The cache's byte bound unless given: a full cache of ordinary references fits well within it. */
export const DEFAULT_CACHE_MAX_BYTES = 48 * 1024 * 1024;

/**
 * The cache's clock, in whole milliseconds. lru-cache keeps entries' start times in an array
 * as long as `max`, which holds small integers until a time with a fraction (performance.now()'s)
 * is written: V8 then copies the whole array into one of doubles, and the first admission of a
 * fresh process paid for it (bench/README.md). Whole milliseconds stay small integers for as
 * long as V8 keeps them unboxed.
 */
const WHOLE_MILLISECONDS = { now: (): number => Math.floor(performance.now()) };

/**
 * How the resolver reads its cache: marking the entry recently used (so images in
 * use are not the ones evicted), and returning one past its retention rather than
 * dropping it (freshness is judged by its own fetchedAt).
 */
const RECENT_USE = { allowStale: true, noDeleteOnStaleGet: true } as const;

interface FetchContext {
  readonly ref: ImageRef;
  readonly tag: string;
  readonly credential: Credential | undefined;
}

/** Everything the resolver needs that is not the cache itself. */
interface Settings {
  readonly source: DigestSource;
  readonly cacheTtlMs: number;
  readonly fetchTimeoutMs: number;
  readonly staleForMs: number;
  readonly negativeTtlMs: number;
  readonly retry: RetryPolicy;
  readonly tryNext: (error: unknown) => boolean;
  readonly mirrors: ReadonlyMap<string, readonly string[]>;
  readonly mirrorCredentials: (domain: string) => CredentialChain;
  readonly mirrorWaitMs: number;
  readonly discloses: (domain: string) => boolean;
  readonly ledger: TagLedger | undefined;
  readonly now: () => number;
  readonly random: () => number;
}

/** Resolves image references to digests for the webhook and the CLI alike. */
export class Resolver {
  readonly #cache: LRUCache<string, CacheEntry, FetchContext>;
  readonly #settings: Settings;

  constructor(options: ResolverOptions) {
    this.#settings = {
      source: options.source,
      cacheTtlMs: options.cacheTtlMs,
      fetchTimeoutMs: options.fetchTimeoutMs,
      staleForMs: options.staleForMs ?? 0,
      negativeTtlMs: options.negativeTtlMs ?? 0,
      retry: options.retry ?? DEFAULT_RETRY,
      tryNext: options.tryNextCredential ?? (() => true),
      mirrors: new Map([...(options.mirrors ?? new Map<string, readonly string[]>())].map(([d, m]) => [d.toLowerCase(), m])),
      mirrorCredentials: options.mirrorCredentials ?? (() => [undefined]),
      mirrorWaitMs: options.mirrorWaitMs ?? options.fetchTimeoutMs / 2,
      discloses: options.discloses ?? (() => true),
      ledger: options.ledger,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
    };
    this.#cache = new LRUCache<string, CacheEntry, FetchContext>({
      max: options.cacheMax,
      // Keys are as long as the references they are for: bounded by bytes too.
      maxSize: options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES,
      sizeCalculation: entryBytes,
      ttl: this.#retention(),
      perf: WHOLE_MILLISECONDS,
      // The shared fetch keeps its own deadline; callers that give up don't abort it.
      ignoreFetchAbort: true,
      fetchMethod: (_key, previous, { options: set, context }) => this.#fetch(context, previous, set),
    });
  }

  /** Number of cached entries (digests and remembered "manifest unknown"; in-flight fetches excluded). */
  get size(): number {
    return this.#cache.size;
  }

  /** Resolves `ref` to a digest: its mirrors first, then its registry, trying each credential in order. */
  async resolve(ref: ImageRef, options: ResolveOptions): Promise<Resolution> {
    if (ref.digest !== undefined) return pinnedResolution(ref, ref.digest);
    const fresh = options.fresh === true;
    // The cache before the ledger: a replica's own fresh answer costs nothing.
    const known = fresh ? undefined : (this.cached(ref, options.credentials) ?? this.#fromLedger(ref, options.scope));
    if (known !== undefined) return known;
    let mirrorStale: Resolution | undefined;
    for (const mirror of this.#mirrorsOf(ref)) {
      if (options.signal.aborted) break;
      const answer = await this.#askMirror(mirror, options.signal, fresh);
      if (answer !== undefined && answer.source !== 'stale') return { ...answer, ref, mirror: mirror.name };
      if (answer !== undefined) mirrorStale ??= { ...answer, ref, mirror: mirror.name };
    }
    try {
      const resolution = await this.#resolveChain(ref, options.credentials, options.signal, fresh);
      this.#tellLedger(resolution, options.scope);
      return resolution;
    } catch (error) {
      if (mirrorStale !== undefined && allowsStale(error)) return mirrorStale;
      const held = this.#ledgerFallback(ref, options.scope, error);
      if (held !== undefined) return held;
      throw this.#toldAs(ref, error);
    }
  }

  /**
   * After the cache, the last fallback when the registry cannot answer: the ledger's digest for
   * an admission's tag, verified by a replica within `staleForMs`, stale with the cache's warning.
   */
  #ledgerFallback(ref: ImageRef, scope: ResolveScope | undefined, error: unknown): Resolution | undefined {
    if (scope === undefined || !allowsStale(error)) return undefined;
    const { ledger, staleForMs, now } = this.#settings;
    const held = ledger?.fallback(taggedName(ref), scope.namespace, staleForMs);
    if (held === undefined) return undefined;
    const warning = staleWarning({ kind: 'digest', digest: held.digest, fetchedAt: held.verifiedAt, failure: error }, now());
    return { ref, digest: held.digest, source: 'stale', credential: undefined, warning };
  }

  /** The ledger's answer for an admission's tag, when a replica verified it within the cache TTL. */
  #fromLedger(ref: ImageRef, scope: ResolveScope | undefined): Resolution | undefined {
    const digest = scope === undefined ? undefined : this.#settings.ledger?.answer(taggedName(ref), scope.namespace);
    return digest === undefined ? undefined : { ref, digest, source: 'ledger', credential: undefined };
  }

  /** Tells the ledger a registry's answer for an admission (not a dry run's). A mirror may lag its registry: only the registry's own answer says where the tag points. */
  #tellLedger(resolution: Resolution, scope: ResolveScope | undefined): void {
    if (resolution.source !== 'registry' || resolution.mirror !== undefined || scope === undefined || scope.dryRun) return;
    const { ref } = resolution;
    this.#settings.ledger?.observe({ image: taggedName(ref), digest: resolution.digest, domain: ref.domain, tenant: resolution.tenant });
  }

  /** The failure as the caller may learn it: how a registry could not be reached only when it may say so. */
  #toldAs(ref: ImageRef, error: unknown): unknown {
    if (!saysHowUnreachable(error) || this.#settings.discloses(ref.domain)) return error;
    return new RegistryUnreachableError(`${ref.name}:${ref.tag ?? DEFAULT_TAG}`, ref.domain, describeError(error), { cause: error });
  }

  /**
   * What `resolve` would answer at once from the cache, without waiting: a fresh
   * digest for the first credential of the chain (the one `resolve` tries first).
   * Undefined when `resolve` would have to ask a mirror or the registry, or move
   * past a remembered "manifest unknown".
   */
  cached(ref: ImageRef, credentials: CredentialChain): Resolution | undefined {
    if (ref.digest !== undefined) return pinnedResolution(ref, ref.digest);
    if (this.#settings.mirrors.has(ref.domain.toLowerCase())) return undefined;
    const credential = credentials[0];
    const entry = this.#cache.get(cacheKey(ref, credential), RECENT_USE);
    if (entry?.kind !== 'digest' || !this.#fresh(entry)) return undefined;
    return this.#answer(entry, 'cache', ref, credential);
  }

  /** A mirror's answer, or undefined when it has none in time (then the next mirror or the registry is asked). */
  async #askMirror(mirror: { readonly name: string; readonly ref: ImageRef }, signal: AbortSignal, fresh: boolean): Promise<Resolution | undefined> {
    const wait = AbortSignal.any([signal, AbortSignal.timeout(this.#settings.mirrorWaitMs)]);
    try {
      return await this.#resolveChain(mirror.ref, this.#settings.mirrorCredentials(mirror.ref.domain), wait, fresh);
    } catch {
      return undefined;
    }
  }

  async #resolveChain(ref: ImageRef, credentials: CredentialChain, signal: AbortSignal, fresh: boolean): Promise<Resolution> {
    const chain = credentials.length > 0 ? credentials : [undefined];
    let lastError: unknown;
    for (const credential of chain) {
      try {
        return await this.#resolveWith(ref, credential, signal, fresh);
      } catch (error) {
        lastError = error;
        if (error instanceof ResolutionDeadlineError || !this.#settings.tryNext(error)) break;
      }
    }
    throw lastError;
  }

  async #resolveWith(ref: ImageRef, credential: Credential | undefined, signal: AbortSignal, fresh: boolean): Promise<Resolution> {
    const tag = ref.tag ?? DEFAULT_TAG;
    const key = cacheKey(ref, credential);
    const previous = this.#cache.get(key, RECENT_USE);
    // A fresh lookup still takes a remembered "manifest unknown": the registry said so lately.
    if (previous !== undefined && this.#fresh(previous) && (!fresh || previous.kind === 'unknown')) return this.#answer(previous, 'cache', ref, credential);
    const fetched = this.#cache.fetch(key, { forceRefresh: previous !== undefined, context: { ref, tag, credential } });
    let entry: CacheEntry | undefined;
    try {
      entry = await raceAbort(fetched, signal, (reason) => new ResolutionDeadlineError(ref.written, { cause: reason }));
    } catch (error) {
      const stale = error instanceof ResolutionDeadlineError ? staleEntry(previous, error, this.#settings.staleForMs, this.#settings.now()) : undefined;
      if (stale === undefined) throw error;
      entry = stale;
    }
    if (entry === undefined) throw new Error(`cache returned no value for ${ref.written}`);
    return this.#answer(entry, 'registry', ref, credential);
  }

  /** The resolution an entry gives, or the "manifest unknown" it remembers, thrown. */
  #answer(entry: CacheEntry, source: 'cache' | 'registry', ref: ImageRef, credential: Credential | undefined): Resolution {
    if (entry.kind === 'unknown') throw entry.error;
    const { digest } = entry;
    if (entry.failure === undefined) return { ref, digest, source, credential: credential?.source, ...(credential?.tenant === undefined ? {} : { tenant: credential.tenant }) };
    return { ref, digest, source: 'stale', credential: credential?.source, warning: staleWarning(entry, this.#settings.now()) };
  }

  #fresh(entry: CacheEntry): boolean {
    const age = this.#settings.now() - entry.fetchedAt;
    if (entry.kind === 'unknown') return age < this.#settings.negativeTtlMs;
    return entry.failure === undefined && age < this.#settings.cacheTtlMs;
  }

  /** One shared fetch: retries within its budget, then "unknown", a stale digest, or the failure. */
  async #fetch(context: FetchContext, previous: CacheEntry | undefined, set: LRUCache.FetcherFetchOptions<string, CacheEntry, FetchContext>): Promise<CacheEntry> {
    const { source, fetchTimeoutMs, retry, now, random } = this.#settings;
    // Its timer is cleared when the fetch ends, not held for the whole budget.
    const timeout = cancellableTimeout(fetchTimeoutMs, 'The registry fetch budget ran out');
    const { signal } = timeout;
    const budget = { deadline: now() + fetchTimeoutMs, signal, now, random };
    let manifest: ManifestDigest;
    try {
      manifest = await withRetries(() => source.getDigest(context.ref, context.tag, context.credential, signal), retry, budget);
    } catch (error) {
      return this.#afterFailure(error, previous, set);
    } finally {
      timeout.cancel();
    }
    set.ttl = this.#retention();
    return { kind: 'digest', digest: manifest.digest, fetchedAt: now() };
  }

  #afterFailure(error: unknown, previous: CacheEntry | undefined, set: LRUCache.FetcherFetchOptions<string, CacheEntry, FetchContext>): CacheEntry {
    const { negativeTtlMs, staleForMs } = this.#settings;
    const now = this.#settings.now();
    if (error instanceof ManifestUnknownError && negativeTtlMs > 0) {
      set.ttl = negativeTtlMs;
      return { kind: 'unknown', error, fetchedAt: now };
    }
    const stale = staleEntry(previous, error, staleForMs, now);
    if (stale === undefined) throw error;
    // lru-cache reads a ttl of 0 as "forever": keep at least 1 ms.
    set.ttl = Math.max(1, staleForMs - (now - stale.fetchedAt));
    return stale;
  }

  /** How long a digest stays in memory: fresh for cacheTtlMs, servable stale until staleForMs. */
  #retention(): number {
    return Math.max(1, this.#settings.cacheTtlMs, this.#settings.staleForMs);
  }

  /** The mirrors of `ref`'s registry as references, skipping any the image's path would make invalid. */
  #mirrorsOf(ref: ImageRef): { readonly name: string; readonly ref: ImageRef }[] {
    const mirrors = this.#settings.mirrors.get(ref.domain.toLowerCase()) ?? [];
    return mirrors.flatMap((name) => {
      try {
        return [{ name, ref: parseImage(`${name}/${ref.path}${ref.tag === undefined ? '' : `:${ref.tag}`}`) }];
      } catch {
        return [];
      }
    });
  }
}

/**
 * Failures that say how a registry could not be reached: refused, reset, not found in DNS,
 * TLS, timed out, failing lately, too slow for the deadline, or answering something no
 * registry would. Answers a registry gives on purpose (no such manifest, credentials
 * refused, rate limited, policy) are not among them.
 */
function saysHowUnreachable(error: unknown): boolean {
  return (
    error instanceof ResolutionDeadlineError ||
    error instanceof RegistryUnavailableError ||
    error instanceof RegistryTimeoutError ||
    error instanceof RegistryAbortedError ||
    error instanceof RegistryCircuitOpenError ||
    error instanceof InsecureRegistryRequiredError ||
    error instanceof RegistryProtocolError ||
    error instanceof InvalidDigestError
  );
}

/** A reference that carries its digest: nothing to ask. */
function pinnedResolution(ref: ImageRef, digest: string): Resolution {
  return { ref, digest, source: 'pinned', credential: undefined };
}

/**
 * The cache key of a tag for one credential; never the credential's secret. Joined from an
 * array, which makes a string of its own: a template literal's result would keep its pieces
 * (the parsed reference's strings) alive as long as the entry is cached (bench/README.md).
 */
function cacheKey(ref: ImageRef, credential: Credential | undefined): string {
  return [credentialKey(credential), `${ref.name}:${ref.tag ?? DEFAULT_TAG}`].join('\u0000');
}
