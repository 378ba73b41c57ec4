/**
 * When a tag moved, read from LedgerEntry objects (docs/rollouts.md, "The tag ledger") with
 * the webhook's own parser: an entry's `history` holds the digests the tag pointed to before,
 * each with `movedAt`. An object that is not an entry the webhook could have written is
 * skipped, never an error. Pure.
 */
import { answeringNamespaces, parseEntry, type StoredEntry } from '../rollout/ledger.js';
import { rfc3339 } from '../rollout/record.js';
import type { MovedAt } from './findings.js';

/**
 * A MovedAt over the listed entries, by the webhook's tenant rule: the entry of the finding's
 * namespace (a tenant's) first, then the cluster-wide one (in `clusterNamespace`); never
 * another tenant's.
 */
export function ledgerMovedAt(entries: readonly unknown[], clusterNamespace: string): MovedAt {
  const held = new Map<string, StoredEntry>();
  for (const entry of entries.map(parseEntry)) {
    if (entry !== undefined) held.set(`${entry.namespace}/${entry.image}`, entry);
  }
  return (image, digest, namespace) => {
    for (const candidate of answeringNamespaces(namespace, clusterNamespace)) {
      const moved = held.get(`${candidate}/${image}`)?.history.find((item) => item.digest === digest);
      if (moved !== undefined) return rfc3339(moved.movedAt);
    }
    return undefined;
  };
}
