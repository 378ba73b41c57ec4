/** Pure helpers for manifest responses: accepted media types, error codes. */
import { createHash } from 'node:crypto';
import { isRecord } from '../json.js';

/**
 * Media types asked for, index types first, so a multi-arch image answers with
 * its index (and the index's digest) rather than one platform's manifest.
 */
const MANIFEST_MEDIA_TYPES: readonly string[] = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/** The `Accept` header of manifest requests. */
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

// An OCI error code as the distribution spec writes them (MANIFEST_UNKNOWN, DENIED, TOOMANYREQUESTS).
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const PRINTABLE = /[^\x20-\x7E]/g;
const MAX_SHOWN = 80;

/** `sha256:<hex>` of the manifest bytes exactly as served. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * The first OCI error code of an error body (`{"errors":[{"code":"MANIFEST_UNKNOWN",…}]}`),
 * only when it looks like a code: the rest of the body is never shown.
 */
export function ociErrorCode(bytes: Uint8Array): string | undefined {
  const errors = parseJsonObject(bytes)?.['errors'];
  if (!Array.isArray(errors)) return undefined;
  const first: unknown = errors[0];
  if (typeof first !== 'object' || first === null || !('code' in first)) return undefined;
  const code = first.code;
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : undefined;
}

/** A header value made safe to quote in a message: printable ASCII, shortened. */
export function shownValue(value: string): string {
  const clean = value.replace(PRINTABLE, '?');
  return JSON.stringify(clean.length > MAX_SHOWN ? `${clean.slice(0, MAX_SHOWN)}…` : clean);
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
