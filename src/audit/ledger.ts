/**
 * When a tag moved, read from LedgerEntry objects (docs/rollouts.md, "The tag ledger"): an
 * entry's `history` holds the digests the tag pointed to before, each with `movedAt`. Read
 * tolerantly: an entry or history item missing a field is skipped, never an error. Pure.
 */
import { arrayOf, member, stringAt } from '../json.js';
import type { MovedAt } from './findings.js';

interface Entry {
  readonly namespace: string;
  readonly image: string;
  /** movedAt by earlier digest. */
  readonly moves: ReadonlyMap<string, string>;
}

function parseEntry(object: unknown): Entry | undefined {
  const namespace = stringAt(member(object, 'metadata'), 'namespace');
  const spec = member(object, 'spec');
  const image = stringAt(spec, 'image');
  if (namespace === undefined || image === undefined) return undefined;
  const moves = new Map<string, string>();
  for (const item of arrayOf(member(spec, 'history'))) {
    const digest = stringAt(item, 'digest');
    const movedAt = stringAt(item, 'movedAt');
    if (digest !== undefined && movedAt !== undefined && !moves.has(digest)) moves.set(digest, movedAt);
  }
  return { namespace, image, moves };
}

/**
 * A MovedAt over the listed entries: the entry of the finding's namespace (a tenant's) first,
 * then any other (the cluster-wide ones live in the webhook's namespace).
 */
export function ledgerMovedAt(entries: readonly unknown[]): MovedAt {
  const byImage = new Map<string, Entry[]>();
  for (const entry of entries.map(parseEntry)) {
    if (entry === undefined) continue;
    byImage.set(entry.image, [...(byImage.get(entry.image) ?? []), entry]);
  }
  return (image, digest, namespace) => {
    const candidates = byImage.get(image) ?? [];
    const ordered = [...candidates.filter((entry) => entry.namespace === namespace), ...candidates.filter((entry) => entry.namespace !== namespace)];
    for (const entry of ordered) {
      const movedAt = entry.moves.get(digest);
      if (movedAt !== undefined) return movedAt;
    }
    return undefined;
  };
}
