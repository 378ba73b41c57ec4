/** Reads an ImageSet object (untrusted JSON from the API or a file) into entries the catalog can index. */
import { describeError } from '../errors.js';
import { DIGEST_RULE, isValidDigest, parseImage } from '../reference/index.js';
import { arrayOf, isRecord, member } from '../json.js';
import type { ImageSetEntry, InvalidEntry, ParsedImageSet } from './types.js';

/**
 * The ImageSet's name, generation, `spec.anyTag` and entries. Never throws: an
 * entry that is not an object, lacks `image` or `digest`, has an invalid
 * reference or digest, carries a digest in `image`, or has no tag without
 * `spec.anyTag: true`, is listed in `invalid` instead (the CRD's schema rejects
 * most of these before they are stored; this is the check that does not depend on it).
 */
export function parseImageSet(object: unknown): ParsedImageSet {
  const metadata = member(object, 'metadata');
  const name = stringOr(member(metadata, 'name'), '');
  const generationValue = member(metadata, 'generation');
  const generation = typeof generationValue === 'number' ? generationValue : undefined;
  const spec = member(object, 'spec');
  const anyTag = member(spec, 'anyTag') === true;
  const entries: ImageSetEntry[] = [];
  const invalid: InvalidEntry[] = [];
  for (const item of arrayOf(member(spec, 'images'))) {
    const parsed = parseEntry(item, anyTag);
    if ('reason' in parsed) invalid.push(parsed);
    else entries.push(parsed);
  }
  return { name, generation, anyTag, entries, invalid };
}

/**
 * One `{image, digest}`. An image whose first component is a registry (it has
 * a `.` or `:`, or is `localhost`, as Docker decides) keeps it; one without
 * (`calico/node:v3.28.0`, `nginx:1.27`) is registry-less and matches that path
 * on any registry or mirror.
 */
export function parseEntry(item: unknown, anyTag: boolean): ImageSetEntry | InvalidEntry {
  if (!isRecord(item)) return { image: '', reason: 'entry is not an object with image and digest' };
  const image = member(item, 'image');
  const digest = member(item, 'digest');
  if (typeof image !== 'string' || image === '') return { image: '', reason: 'entry has no image' };
  if (typeof digest !== 'string' || !isValidDigest(digest)) return { image, reason: `digest ${JSON.stringify(digest ?? null)} is not a valid digest (${DIGEST_RULE})` };
  let ref;
  try {
    ref = parseImage(image);
  } catch (error) {
    return { image, reason: describeError(error) };
  }
  if (ref.digest !== undefined) return { image, reason: 'image carries a digest; write it in the digest field' };
  if (ref.tag === undefined && !anyTag) {
    return { image, reason: 'image has no tag; set spec.anyTag: true to map every tag of it to this digest' };
  }
  const registryLess = !writesRegistry(image);
  const path = registryLess ? nameWithoutTag(image) : ref.path;
  const name = registryLess ? undefined : ref.name;
  return { image, digest, name, path, tag: ref.tag };
}

/** Docker's rule for the first component of a name: a registry when it is `localhost` or has a `.` or `:` (or upper case). */
function writesRegistry(image: string): boolean {
  const slash = image.indexOf('/');
  if (slash === -1) return false;
  const first = image.slice(0, slash);
  return first === 'localhost' || first.includes('.') || first.includes(':') || first.toLowerCase() !== first;
}

/** `calico/node:v3.28.0` → `calico/node` (no registry, so the only `:` is the tag's). */
function nameWithoutTag(image: string): string {
  const colon = image.indexOf(':');
  return colon === -1 ? image : image.slice(0, colon);
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}
