/** Narrowing of untrusted JSON (API objects, pod specs) without casts. */

/** True for a plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The array itself, or an empty one for anything else. */
export function arrayOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? (value as readonly unknown[]) : [];
}

/** `record[field]` when it is a string. */
export function stringAt(record: Record<string, unknown>, field: string): string | undefined {
  const value = record[field];
  return typeof value === 'string' ? value : undefined;
}

/** `value[field]` when `value` is an object, else undefined. */
export function member(value: unknown, field: string): unknown {
  return isRecord(value) ? value[field] : undefined;
}
