/** Which image fields an admission request should pin, by operation and subresource. */
import { fieldKey, findImageFields, type FindOptions, type ImageField } from './walker.js';

/** `request.operation` of an AdmissionReview. */
export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The parts of an admission request that decide what to pin. */
export interface PinRequest {
  /** `request.kind.kind`, e.g. `Deployment`. */
  readonly kind: string;
  readonly operation: AdmissionOperation;
  /** `request.subResource`; absent or `''` for the main resource. */
  readonly subResource?: string | undefined;
  readonly object: unknown;
  /** `request.oldObject`: null on CREATE. */
  readonly oldObject?: unknown;
  /** Also pin `RELATED_IMAGE_*` env values (not on the ephemeralcontainers subresource: debug containers carry none). */
  readonly relatedImages?: boolean | undefined;
}

/** What `kubectl debug` writes to: UPDATE of pods/ephemeralcontainers. */
export const EPHEMERAL_CONTAINERS_SUBRESOURCE = 'ephemeralcontainers';

/**
 * The image fields to pin for one request:
 * - CREATE of the main resource: every field.
 * - UPDATE of the main resource: the fields whose image differs from the old
 *   object's field with the same location and name, or that the old object
 *   lacks. Re-pinning an unchanged tag would restart a running container or
 *   roll a Deployment in the middle of an unrelated edit.
 * - UPDATE of a Pod's `ephemeralcontainers` subresource: the ephemeral
 *   containers the old Pod lacks (existing ones cannot change).
 * - Anything else (DELETE, CONNECT, status, scale…): nothing.
 */
export function imagesToPin(request: PinRequest): ImageField[] {
  const { kind, operation, object, oldObject } = request;
  const subResource = request.subResource ?? '';
  const options: FindOptions = { relatedImages: request.relatedImages };
  if (subResource === '' && operation === 'CREATE') return findImageFields(kind, object, options);
  if (subResource === '' && operation === 'UPDATE') return changedFields(kind, object, oldObject, options);
  if (subResource === EPHEMERAL_CONTAINERS_SUBRESOURCE && operation === 'UPDATE' && kind === 'Pod') {
    return newEphemeralContainers(object, oldObject);
  }
  return [];
}

function changedFields(kind: string, object: unknown, oldObject: unknown, options: FindOptions): ImageField[] {
  const oldImages = new Map(findImageFields(kind, oldObject, options).map((field) => [fieldKey(field), field.image]));
  return findImageFields(kind, object, options).filter((field) => oldImages.get(fieldKey(field)) !== field.image);
}

function newEphemeralContainers(object: unknown, oldObject: unknown): ImageField[] {
  const ephemeral = (field: ImageField): boolean => field.location === 'ephemeralContainers';
  const oldNames = new Set(findImageFields('Pod', oldObject).filter(ephemeral).map((field) => field.name));
  return findImageFields('Pod', object).filter((field) => ephemeral(field) && !oldNames.has(field.name));
}
