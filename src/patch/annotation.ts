/** The annotation that records what each pinned field asked for before it was pinned. */
import { isRecord, parseJson } from '../json.js';

/** Set on the Pod, or on the pod template so that Pods inherit it. */
export const ORIGINAL_IMAGES_ANNOTATION = 'digest-pinner.io/original-images';

/**
 * Reads an annotation value: `<location>/<name>` → original image. A value that
 * is not a JSON object of strings yields what can be salvaged (nothing, for
 * text that is not JSON), so a hand-edited annotation never blocks admission.
 */
export function parseOriginalImages(value: unknown): Map<string, string> {
  const parsed = typeof value === 'string' ? parseJson(value) : undefined;
  if (!isRecord(parsed)) return new Map();
  return new Map(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/**
 * Writes an annotation value: compact JSON with sorted keys, so re-pinning the
 * same images writes the same text and a Deployment does not roll for nothing.
 */
export function formatOriginalImages(originals: ReadonlyMap<string, string>): string {
  const sorted = [...originals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // JSON.stringify(Object.fromEntries(sorted)), without building an object of arbitrary keys.
  return `{${sorted.map(([key, image]) => `${JSON.stringify(key)}:${JSON.stringify(image)}`).join(',')}}`;
}
