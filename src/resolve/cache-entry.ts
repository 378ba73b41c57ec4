/** What the resolver's cache holds for one (credential, repository, tag): a digest, or "no such manifest". */
import {
  InsecureRegistryRequiredError,
  ManifestUnknownError,
  RegistryAuthError,
  RegistryError,
  RegistryPolicyError,
} from '../registry/index.js';
import { failureReason, ResolutionDeadlineError } from './errors.js';

/**
 * A digest the registry reported at `fetchedAt`; `failure` is set when a later fetch
 * failed and it is being served stale. Only what is read back is kept (the manifest's
 * media type is not).
 */
export interface DigestEntry {
  readonly kind: 'digest';
  readonly digest: string;
  readonly fetchedAt: number;
  readonly failure?: unknown;
}

/** The registry said there is no such manifest (negative caching). */
export interface UnknownEntry {
  readonly kind: 'unknown';
  readonly error: ManifestUnknownError;
  readonly fetchedAt: number;
}

export type CacheEntry = DigestEntry | UnknownEntry;

/** What every entry costs besides its text: the entry object, its place in the cache. */
const ENTRY_BYTES = 128;
/** What a kept error costs besides its message: its stack and the failures it wraps. */
const ERROR_BYTES = 2048;

/**
 * An estimate of what an entry holds in memory, for the cache's byte bound: its key (a
 * reference's name is as long as its registry host, up to what a DNS name may be), its
 * digest or the "manifest unknown" it remembers, and the failure a stale digest carries.
 */
export function entryBytes(entry: CacheEntry, key: string): number {
  if (entry.kind === 'unknown') return ENTRY_BYTES + key.length + ERROR_BYTES + entry.error.message.length;
  const failure = entry.failure === undefined ? 0 : ERROR_BYTES + failureReason(entry.failure).length;
  return ENTRY_BYTES + key.length + entry.digest.length + failure;
}

/**
 * Whether a failure leaves room for serving a recent digest: the registry could
 * not answer (unreachable, 5xx, timeout, 429, breaker open, deadline). Not when
 * it answered: no such manifest, credentials refused; nor when policy forbids
 * asking it.
 */
export function allowsStale(error: unknown): boolean {
  if (error instanceof ResolutionDeadlineError) return true;
  if (!(error instanceof RegistryError)) return false;
  return !(
    error instanceof ManifestUnknownError ||
    error instanceof RegistryAuthError ||
    error instanceof RegistryPolicyError ||
    error instanceof InsecureRegistryRequiredError
  );
}

/** `previous` served stale after `error`, when it is a digest no older than `staleForMs`. */
export function staleEntry(previous: CacheEntry | undefined, error: unknown, staleForMs: number, now: number): DigestEntry | undefined {
  if (previous?.kind !== 'digest' || !allowsStale(error)) return undefined;
  if (now - previous.fetchedAt > staleForMs) return undefined;
  return { kind: 'digest', digest: previous.digest, fetchedAt: previous.fetchedAt, failure: error };
}

/**
 * The warning for a stale digest, without the image (the admission names it):
 * `pinned to a stale digest (resolved 12m ago): registry answered 503`.
 */
export function staleWarning(entry: DigestEntry, now: number): string {
  const reason = entry.failure instanceof ResolutionDeadlineError ? 'registry did not answer before the deadline' : failureReason(entry.failure);
  return `pinned to a stale digest (resolved ${formatAge(now - entry.fetchedAt)} ago): ${reason}`;
}

/** `45s`, `12m`, `2h5m`. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const rest = minutes % 60;
  return `${Math.floor(minutes / 60)}h${rest === 0 ? '' : `${rest}m`}`;
}
