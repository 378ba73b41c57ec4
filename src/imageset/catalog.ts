/**
 * Every ImageSet's entries in one index, and the rules that decide which entry
 * answers for an image.
 *
 * Matching (both sides normalised, `nginx` is `docker.io/library/nginx`):
 * 1. an entry naming the registry and the tag (`quay.io/tigera/operator:v1.36.0`);
 * 2. an entry naming the registry, any tag (`quay.io/tigera/operator`, with `spec.anyTag`);
 * 3. a registry-less entry with the tag (`calico/node:v3.28.0`): that repository path on any
 *    registry or mirror (`docker.io/calico/node`, `mirror.internal/calico/node`); a one-part
 *    path also matches Docker Hub's official image (`nginx` is `docker.io/library/nginx`);
 * 4. a registry-less entry, any tag.
 * An image without a tag is looked up as `:latest`, as the registry would resolve it.
 * The first rule with an entry decides: a more specific entry is never overruled.
 *
 * Conflicts: entries of one rule and image (in one ImageSet or several) that give
 * different digests. Such an image has no ImageSet answer: the lookup reports the
 * conflict, the webhook then resolves it as if no ImageSet listed it (or fails it
 * on an ImageSet-authoritative registry), and each ImageSet involved says so in its
 * status. Picking one (by name, by age) would silently pin a digest someone else
 * vouched against.
 */
import { DEFAULT_DOMAIN, DEFAULT_TAG, OFFICIAL_REPO_PREFIX } from '../reference/index.js';
import type { ImageRef } from '../reference/types.js';
import type { ImageSetAnswer, ImageSetConflict, ImageSetEntry, ParsedImageSet } from './types.js';

/** Not a tag character, so it cannot collide with a tag in a key. */
const ANY_TAG = '*';

interface Listed {
  readonly imageSet: string;
  readonly entry: ImageSetEntry;
}

/** The entries under one key, and the conflict when they disagree. */
interface Slot {
  readonly listed: Listed[];
  conflict: ImageSetConflict | undefined;
}

/** An immutable index of ImageSets, rebuilt whenever one changes. */
export class ImageSetCatalog {
  readonly #slots: ReadonlyMap<string, Slot>;
  readonly #conflicts: readonly ImageSetConflict[];
  readonly #imageSets: readonly ParsedImageSet[];

  private constructor(imageSets: readonly ParsedImageSet[]) {
    this.#imageSets = [...imageSets].sort((a, b) => compare(a.name, b.name));
    const slots = new Map<string, Slot>();
    for (const set of this.#imageSets) {
      for (const entry of set.entries) {
        const key = entryKey(entry);
        const slot = slots.get(key) ?? { listed: [], conflict: undefined };
        slot.listed.push({ imageSet: set.name, entry });
        slots.set(key, slot);
      }
    }
    const conflicts: ImageSetConflict[] = [];
    for (const slot of slots.values()) {
      const digests = unique(slot.listed.map((listed) => listed.entry.digest));
      if (digests.length < 2) continue;
      const [first] = slot.listed;
      if (first === undefined) continue;
      slot.conflict = { image: displayName(first.entry), imageSets: unique(slot.listed.map((listed) => listed.imageSet)), digests };
      conflicts.push(slot.conflict);
    }
    this.#slots = slots;
    this.#conflicts = conflicts.sort((a, b) => compare(a.image, b.image));
  }

  /** The catalog of these ImageSets. */
  static of(imageSets: readonly ParsedImageSet[]): ImageSetCatalog {
    return new ImageSetCatalog(imageSets);
  }

  /** An empty catalog: no ImageSets (none yet, or the CRD is not installed). */
  static empty(): ImageSetCatalog {
    return new ImageSetCatalog([]);
  }

  /** What the ImageSets say about `ref` (see the file comment); undefined when no entry matches. */
  lookup(ref: ImageRef): ImageSetAnswer | undefined {
    for (const key of lookupKeys(ref)) {
      const slot = this.#slots.get(key);
      if (slot === undefined) continue;
      if (slot.conflict !== undefined) return { kind: 'conflict', conflict: slot.conflict };
      const [first] = slot.listed;
      if (first !== undefined) return { kind: 'hit', digest: first.entry.digest, imageSet: first.imageSet, entry: first.entry.image };
    }
    return undefined;
  }

  /** Every conflict, sorted by image. */
  conflicts(): readonly ImageSetConflict[] {
    return this.#conflicts;
  }

  /** The conflicts ImageSet `name` is part of. */
  conflictsOf(name: string): ImageSetConflict[] {
    return this.#conflicts.filter((conflict) => conflict.imageSets.includes(name));
  }

  /** The ImageSets indexed, sorted by name. */
  imageSets(): readonly ParsedImageSet[] {
    return this.#imageSets;
  }

  /** Usable entries over all ImageSets. */
  get entryCount(): number {
    return this.#imageSets.reduce((sum, set) => sum + set.entries.length, 0);
  }
}

function entryKey(entry: ImageSetEntry): string {
  const tag = entry.tag ?? ANY_TAG;
  return entry.name === undefined ? pathKey(entry.path, tag) : nameKey(entry.name, tag);
}

function nameKey(name: string, tag: string): string {
  return `registry ${name} ${tag}`;
}

function pathKey(path: string, tag: string): string {
  return `path ${path} ${tag}`;
}

/** The keys that can answer for `ref`, most specific first (rules 1 to 4). */
function lookupKeys(ref: ImageRef): string[] {
  const tag = ref.tag ?? DEFAULT_TAG;
  const paths = [ref.path];
  const official = ref.domain === DEFAULT_DOMAIN && ref.path.startsWith(OFFICIAL_REPO_PREFIX) ? ref.path.slice(OFFICIAL_REPO_PREFIX.length) : undefined;
  if (official !== undefined && !official.includes('/')) paths.push(official);
  return [
    nameKey(ref.name, tag),
    nameKey(ref.name, ANY_TAG),
    ...paths.map((path) => pathKey(path, tag)),
    ...paths.map((path) => pathKey(path, ANY_TAG)),
  ];
}

/** How a conflict names its image: normalised name or registry-less path, then the tag unless any tag. */
function displayName(entry: ImageSetEntry): string {
  const name = entry.name ?? entry.path;
  return entry.tag === undefined ? name : `${name}:${entry.tag}`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compare);
}

/** Code-point order, the same on every machine (localeCompare is not). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
