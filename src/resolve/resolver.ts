/**
 * Resolver pipeline: already pinned → in-memory cache (with in-flight de-duplication)
 * → registry. Everything cached is keyed by the credential as well as the reference,
 * so a digest obtained with one tenant's secret never answers another tenant's request.
 */
import { LRUCache } from 'lru-cache';
import type { ImageRef } from '../reference/types.js';
import type { Credential, DigestSource, ManifestDigest } from '../registry/types.js';
import { credentialKey } from '../registry/index.js';
import { ResolutionDeadlineError } from './errors.js';

/** Where a digest came from. */
export type ResolutionSource = 'pinned' | 'cache' | 'registry';

/** A resolved image: the digest to pin and how it was obtained. */
export interface Resolution {
  readonly ref: ImageRef;
  readonly digest: string;
  readonly source: ResolutionSource;
  /** Which credential answered (`source` of the credential), undefined when anonymous or pinned. */
  readonly credential: string | undefined;
}

/** Credentials to try, in order; `undefined` stands for an anonymous attempt. */
export type CredentialChain = readonly (Credential | undefined)[];

export interface ResolveOptions {
  readonly credentials: CredentialChain;
  /** The caller's deadline. Aborting it gives up waiting; it never cancels a shared fetch. */
  readonly signal: AbortSignal;
}

export interface ResolverOptions {
  readonly source: DigestSource;
  /** How long a resolved tag is trusted, in ms. */
  readonly cacheTtlMs: number;
  /** Most entries the cache holds. */
  readonly cacheMax: number;
  /** Deadline of one shared registry fetch, independent of any one admission. */
  readonly fetchTimeoutMs: number;
  /** Decides whether a failure with one credential should move on to the next one. */
  readonly tryNextCredential?: (error: unknown) => boolean;
}

/** The tag a reference without one resolves, as every container runtime does. */
export const DEFAULT_TAG = 'latest';

interface FetchContext {
  readonly ref: ImageRef;
  readonly tag: string;
  readonly credential: Credential | undefined;
}

/** Resolves image references to digests for the webhook and the CLI alike. */
export class Resolver {
  readonly #cache: LRUCache<string, ManifestDigest, FetchContext>;
  readonly #tryNext: (error: unknown) => boolean;

  constructor(options: ResolverOptions) {
    const { source, fetchTimeoutMs } = options;
    this.#tryNext = options.tryNextCredential ?? (() => true);
    this.#cache = new LRUCache<string, ManifestDigest, FetchContext>({
      max: options.cacheMax,
      ttl: options.cacheTtlMs,
      // The shared fetch keeps its own deadline; callers that give up don't abort it.
      ignoreFetchAbort: true,
      fetchMethod: (_key, _stale, { signal, context }) =>
        source.getDigest(context.ref, context.tag, context.credential, AbortSignal.any([signal, AbortSignal.timeout(fetchTimeoutMs)])),
    });
  }

  /** Number of cached digests (in-flight fetches excluded). */
  get size(): number {
    return this.#cache.size;
  }

  /** Resolves `ref` to a digest, trying each credential in order. */
  async resolve(ref: ImageRef, options: ResolveOptions): Promise<Resolution> {
    if (ref.digest !== undefined) return { ref, digest: ref.digest, source: 'pinned', credential: undefined };
    const chain = options.credentials.length > 0 ? options.credentials : [undefined];
    let lastError: unknown;
    for (const credential of chain) {
      try {
        return await this.#resolveWith(ref, credential, options.signal);
      } catch (error) {
        lastError = error;
        if (error instanceof ResolutionDeadlineError || !this.#tryNext(error)) break;
      }
    }
    throw lastError;
  }

  async #resolveWith(ref: ImageRef, credential: Credential | undefined, signal: AbortSignal): Promise<Resolution> {
    const tag = ref.tag ?? DEFAULT_TAG;
    const key = `${credentialKey(credential)}\u0000${ref.name}:${tag}`;
    const status: LRUCache.Status<string, ManifestDigest, FetchContext> = {};
    const fetched = this.#cache.fetch(key, { context: { ref, tag, credential }, status });
    const manifest = await raceDeadline(fetched, signal, ref.written);
    if (manifest === undefined) throw new Error(`cache returned no value for ${ref.written}`);
    const source: ResolutionSource = status.fetch === 'hit' ? 'cache' : 'registry';
    return { ref, digest: manifest.digest, source, credential: credential?.source };
  }
}

/** Waits for `promise` unless `signal` aborts first; never cancels the promise itself. */
async function raceDeadline<T>(promise: Promise<T>, signal: AbortSignal, image: string): Promise<T> {
  if (signal.aborted) throw new ResolutionDeadlineError(image, { cause: signal.reason });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      reject(new ResolutionDeadlineError(image, { cause: signal.reason }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}
