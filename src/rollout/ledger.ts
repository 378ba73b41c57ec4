/**
 * LedgerEntries as data (docs/rollouts.md, the tag ledger): read from the API's JSON,
 * written back, and the rules of when a registry's answer is written (a new tag, a move,
 * a verification older than the interval) and what a move keeps in the history. Pure:
 * the store (ledger-store.ts) does the I/O and passes the clock in.
 */
import { createHash } from 'node:crypto';
import { compileGlob, globMatches, type Glob } from '../glob.js';
import { arrayOf, member, stringAt } from '../json.js';
import { isValidDigest } from '../reference/index.js';
import { rfc3339, timeOf } from './record.js';
import { LEDGER_ENTRY_KIND, MANAGED_BY, ROLLOUT_API_VERSION } from './types.js';

/** Earlier digests an entry keeps, newest first. */
export const MAX_HISTORY = 5;
/** Tags expected to move unless `--tag-moves-ignore` says otherwise. */
export const DEFAULT_TAG_MOVES_IGNORE: readonly string[] = ['latest', 'main', 'master'];
/** Entries over all namespaces unless `--ledger-max-entries` says otherwise. */
export const DEFAULT_LEDGER_MAX_ENTRIES = 5000;
/** A DNS label's length, less the `-<16 hex>` suffix. */
const MAX_NAME_PREFIX = 63 - 17;

/** A digest the tag pointed to before. */
export interface HistoryItem {
  readonly digest: string;
  /** Epoch milliseconds. */
  readonly firstSeen: number;
  /** When the tag was seen pointing elsewhere; epoch milliseconds. */
  readonly movedAt: number;
}

/** What an entry says: the tag's digest, since when, when last verified, and before. */
export interface LedgerSpec {
  /** The normalised `repository:tag`. */
  readonly image: string;
  readonly digest: string;
  readonly firstSeen: number;
  readonly verifiedAt: number;
  /** Newest first, at most MAX_HISTORY. */
  readonly history: readonly HistoryItem[];
}

/** A LedgerEntry as the webhook reads it. */
export interface StoredEntry extends LedgerSpec {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
}

/** What a registry's answer makes a replica write: nothing, a new entry, a newer verifiedAt, or a move. */
export type LedgerWrite = 'created' | 'verified' | 'moved' | undefined;

/** `<repository's last part>-<tag>` made a DNS label, then `-<16 hex of the image's sha256>`: one name per image. */
export function ledgerName(image: string): string {
  const hash = createHash('sha256').update(image, 'utf8').digest('hex').slice(0, 16);
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const label = lastPart.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+/, '').slice(0, MAX_NAME_PREFIX).replace(/-+$/, '');
  return label === '' ? hash : `${label}-${hash}`;
}

/** A LedgerEntry as the API serves it; undefined when it is not one the webhook could have written. */
export function parseEntry(object: unknown): StoredEntry | undefined {
  const metadata = member(object, 'metadata');
  const namespace = stringAt(metadata, 'namespace');
  const name = stringAt(metadata, 'name');
  const spec = member(object, 'spec');
  const image = stringAt(spec, 'image');
  const digest = stringAt(spec, 'digest');
  const firstSeen = timeOf(stringAt(spec, 'firstSeen'));
  const verifiedAt = timeOf(stringAt(spec, 'verifiedAt'));
  if (namespace === undefined || name === undefined || image === undefined || digest === undefined || !isValidDigest(digest) || firstSeen === undefined || verifiedAt === undefined) return undefined;
  const history = arrayOf(member(spec, 'history')).flatMap((item) => {
    const earlier = stringAt(item, 'digest');
    const seen = timeOf(stringAt(item, 'firstSeen'));
    const movedAt = timeOf(stringAt(item, 'movedAt'));
    return earlier !== undefined && isValidDigest(earlier) && seen !== undefined && movedAt !== undefined ? [{ digest: earlier, firstSeen: seen, movedAt }] : [];
  });
  return { namespace, name, resourceVersion: stringAt(metadata, 'resourceVersion') ?? '', image, digest, firstSeen, verifiedAt, history: history.slice(0, MAX_HISTORY) };
}

/**
 * Whether a registry's answer `digest` at `now` is written: when there is no entry, when
 * it names another digest, or when it was verified `verifyIntervalMs` or longer ago.
 */
export function plannedWrite(current: LedgerSpec | undefined, digest: string, now: number, verifyIntervalMs: number): LedgerWrite {
  if (current === undefined) return 'created';
  if (current.digest !== digest) return 'moved';
  return now - current.verifiedAt >= verifyIntervalMs ? 'verified' : undefined;
}

/** The spec after writing `digest` seen at `now`: verified, or moved (the old digest first in the history). */
export function nextSpec(current: LedgerSpec | undefined, image: string, digest: string, now: number): LedgerSpec {
  if (current === undefined) return { image, digest, firstSeen: now, verifiedAt: now, history: [] };
  if (current.digest === digest) return { ...current, verifiedAt: now };
  const moved: HistoryItem = { digest: current.digest, firstSeen: current.firstSeen, movedAt: now };
  return { image, digest, firstSeen: now, verifiedAt: now, history: [moved, ...current.history].slice(0, MAX_HISTORY) };
}

/** The object to create or (with `resourceVersion`, so a lost race is a 409) to update. */
export function entryObject(namespace: string, spec: LedgerSpec, resourceVersion?: string): Record<string, unknown> {
  return {
    apiVersion: ROLLOUT_API_VERSION,
    kind: LEDGER_ENTRY_KIND,
    metadata: {
      name: ledgerName(spec.image),
      namespace,
      labels: { ...MANAGED_BY },
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
    },
    spec: {
      image: spec.image,
      digest: spec.digest,
      firstSeen: rfc3339(spec.firstSeen),
      verifiedAt: rfc3339(spec.verifiedAt),
      history: spec.history.map((item) => ({ digest: item.digest, firstSeen: rfc3339(item.firstSeen), movedAt: rfc3339(item.movedAt) })),
    },
  };
}

/**
 * The namespace an answer is written in: a tenant's pull secret's namespace, or, for the
 * webhook's own credentials and anonymous requests, the cluster-wide one.
 */
export function entryNamespace(tenant: string | undefined, clusterNamespace: string): string {
  return tenant ?? clusterNamespace;
}

/** The namespaces whose entries may answer a Pod of `namespace`: its own first, then the cluster-wide one. */
export function answeringNamespaces(namespace: string | undefined, clusterNamespace: string): readonly string[] {
  return namespace === undefined || namespace === '' || namespace === clusterNamespace ? [clusterNamespace] : [namespace, clusterNamespace];
}

/** Whether an entry verified at `verifiedAt` may answer at `now`: verified within `ttlMs`. */
export function answers(entry: LedgerSpec, now: number, ttlMs: number): boolean {
  const age = now - entry.verifiedAt;
  return age >= 0 && age < ttlMs;
}

/**
 * The entry that answers a Pod of `namespace` at `now`: the first, in answeringNamespaces'
 * order, that `held` has and that was verified within `withinMs`; undefined when none.
 */
export function answeringEntry<T extends LedgerSpec>(held: (namespace: string) => T | undefined, namespace: string | undefined, clusterNamespace: string, at: { readonly now: number; readonly withinMs: number }): T | undefined {
  for (const candidate of answeringNamespaces(namespace, clusterNamespace)) {
    const entry = held(candidate);
    if (entry !== undefined && answers(entry, at.now, at.withinMs)) return entry;
  }
  return undefined;
}

/** The `--tag-moves-ignore` globs, matched against an image's tag. */
export class ExpectedMoves {
  readonly #globs: readonly Glob[];

  constructor(patterns: readonly string[] = DEFAULT_TAG_MOVES_IGNORE) {
    this.#globs = patterns.map(compileGlob);
  }

  /** Whether the tag of `image` (normalised `repository:tag`) is expected to move. */
  expected(image: string): boolean {
    const tag = tagOf(image);
    return this.#globs.some((glob) => globMatches(glob, tag));
  }
}

/** The tag of a normalised `repository:tag` (after the last `:` past the last `/`). */
export function tagOf(image: string): string {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(colon + 1) : '';
}

/** The `count` entries verified longest ago, oldest first: those eviction deletes. */
export function leastRecentlyVerified<T extends Pick<LedgerSpec, 'verifiedAt'>>(entries: Iterable<T>, count: number): T[] {
  if (count <= 0) return [];
  return [...entries].sort((a, b) => a.verifiedAt - b.verifiedAt).slice(0, count);
}
