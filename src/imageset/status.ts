/**
 * The `status` the webhook writes on each ImageSet: what it made of the ImageSet's
 * entries and which of them conflict with other ImageSets. Pure: the writer
 * (status-writer.ts) compares it with what is stored and writes only differences.
 *
 *   status:
 *     observedGeneration: 3
 *     images: 41                      # entries in use
 *     conditions:
 *       - type: Ready                 # True: every entry is usable; False: InvalidEntries
 *       - type: Conflict              # True: ConflictingDigests (see conflicts); False: NoConflicts
 *     conflicts:
 *       - image: calico/node:v3.28.0
 *         imageSets: [calico-a, calico-b]
 *         digests: [sha256:…, sha256:…]
 *     invalidImages:
 *       - image: calico/node
 *         reason: image has no tag; set spec.anyTag: true …
 */
import { arrayOf, isRecord, member } from '../json.js';
import type { ImageSetCatalog } from './catalog.js';
import type { ImageSetConflict, InvalidEntry, ParsedImageSet } from './types.js';

export const CONDITION_READY = 'Ready';
export const CONDITION_CONFLICT = 'Conflict';
export const REASON_LOADED = 'Loaded';
export const REASON_INVALID_ENTRIES = 'InvalidEntries';
export const REASON_CONFLICTING = 'ConflictingDigests';
export const REASON_NO_CONFLICTS = 'NoConflicts';
/** Listed at most, so a huge ImageSet cannot make a status larger than an object may be. */
const MAX_LISTED = 50;

export interface ImageSetCondition {
  readonly type: string;
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  /** Kept from the stored condition while `status` does not change. */
  readonly lastTransitionTime?: string;
}

export interface ImageSetStatus {
  readonly observedGeneration?: number;
  readonly images: number;
  readonly conditions: readonly ImageSetCondition[];
  readonly conflicts: readonly ImageSetConflict[];
  readonly invalidImages: readonly InvalidEntry[];
}

/** The status ImageSet `set` should have in `catalog` (without transition times). */
export function desiredStatus(set: ParsedImageSet, catalog: ImageSetCatalog): ImageSetStatus {
  const conflicts = catalog.conflictsOf(set.name);
  const generation = set.generation === undefined ? {} : { observedGeneration: set.generation };
  const ready: ImageSetCondition = set.invalid.length === 0
    ? { type: CONDITION_READY, status: 'True', reason: REASON_LOADED, message: `${set.entries.length} images in use`, ...generation }
    : {
        type: CONDITION_READY,
        status: 'False',
        reason: REASON_INVALID_ENTRIES,
        message: `${set.invalid.length} of ${set.entries.length + set.invalid.length} images ignored: ${set.invalid.slice(0, 3).map((entry) => `${JSON.stringify(entry.image)} (${entry.reason})`).join('; ')}`,
        ...generation,
      };
  const conflict: ImageSetCondition = conflicts.length === 0
    ? { type: CONDITION_CONFLICT, status: 'False', reason: REASON_NO_CONFLICTS, message: 'no image has another digest in any ImageSet', ...generation }
    : {
        type: CONDITION_CONFLICT,
        status: 'True',
        reason: REASON_CONFLICTING,
        message: `${conflicts.length} images have different digests in other ImageSets and are not pinned from ImageSets: ${conflicts.slice(0, 3).map((c) => `${c.image} (${c.imageSets.join(', ')})`).join('; ')}`,
        ...generation,
      };
  return {
    ...generation,
    images: set.entries.length,
    conditions: [ready, conflict],
    conflicts: conflicts.slice(0, MAX_LISTED),
    invalidImages: set.invalid.slice(0, MAX_LISTED),
  };
}

/**
 * `desired` with each condition's lastTransitionTime: the stored one while the
 * condition's status is unchanged, else `now`.
 */
export function withTransitionTimes(desired: ImageSetStatus, stored: unknown, now: Date): ImageSetStatus {
  const previous = storedConditions(stored);
  return {
    ...desired,
    conditions: desired.conditions.map((condition) => {
      const before = previous.get(condition.type);
      const keptTime = before?.status === condition.status && typeof before.lastTransitionTime === 'string' ? before.lastTransitionTime : undefined;
      return { ...condition, lastTransitionTime: keptTime ?? now.toISOString() };
    }),
  };
}

/** Whether the stored status already says what `desired` says (transition times aside). */
export function statusUpToDate(desired: ImageSetStatus, stored: unknown): boolean {
  return JSON.stringify(comparable(desired)) === JSON.stringify(comparable(stored));
}

interface StoredCondition {
  readonly status: unknown;
  readonly lastTransitionTime: unknown;
}

function storedConditions(stored: unknown): Map<string, StoredCondition> {
  const byType = new Map<string, StoredCondition>();
  for (const condition of arrayOf(member(stored, 'conditions'))) {
    const type = member(condition, 'type');
    if (typeof type === 'string') byType.set(type, { status: member(condition, 'status'), lastTransitionTime: member(condition, 'lastTransitionTime') });
  }
  return byType;
}

/** The status without transition times, with keys in a fixed order. */
function comparable(status: unknown): unknown {
  if (!isRecord(status)) return undefined;
  const conditions = arrayOf(member(status, 'conditions')).map((condition) => {
    if (!isRecord(condition)) return condition;
    const { lastTransitionTime: _ignored, ...rest } = condition;
    return rest;
  });
  return sortKeys({ ...status, conditions, conflicts: status['conflicts'] ?? [], invalidImages: status['invalidImages'] ?? [] });
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, inner]) => [key, sortKeys(inner)]));
}
