/** Finds every image a pod spec names, each with the JSON Pointer of its field. */
import { arrayOf, isRecord, member } from '../json.js';
import { podSpecLocation } from './kinds.js';
import { valueAt } from './pointer.js';

/** The pod spec list an image was found in; `env` for a container's `RELATED_IMAGE_*` variable. */
export type ImageLocation = 'containers' | 'initContainers' | 'ephemeralContainers' | 'volumes' | 'env';

/** One image field of an object. */
export interface ImageField {
  /** RFC 6901 pointer of the string, e.g. `/spec/template/spec/containers/0/image`. */
  readonly pointer: string;
  /** The reference exactly as written, possibly empty: the walker does not judge references. */
  readonly image: string;
  readonly location: ImageLocation;
  /**
   * Container or volume name, or `<container>/<ENV_NAME>` for `env`: unique within its
   * location, so `location` + `name` identify a field across versions of an object.
   */
  readonly name: string;
}

/** Which fields besides images to report. */
export interface FindOptions {
  /**
   * Also the plain `value` of each container's `RELATED_IMAGE_*` env variables, after
   * the images: operators built with operator-sdk read the images they deploy from them.
   */
  readonly relatedImages?: boolean | undefined;
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
/** operator-sdk's convention for the images an operator deploys. */
export const RELATED_IMAGE_PREFIX = 'RELATED_IMAGE_';

/**
 * Every image field in the pod spec of an object of `kind`, in the order
 * containers, initContainers, ephemeralContainers, volumes (`volumes[].image.reference`).
 *
 * The object is untrusted JSON and this never throws on its shape: an unknown
 * kind, a missing spec, a list that is not an array, an entry without a
 * non-empty string `name`, or an image that is not a string is skipped. An
 * entry without a name fails the API server's validation (which runs after
 * mutating admission) whatever we do, and skipping it keeps every field's
 * `location/name` key meaningful. An empty or blank image IS reported: it is a
 * string the user wrote (OpenShift puts `" "` in templates for a trigger to
 * fill), and the admission layer, not the walker, decides what to say about it.
 */
export function findImageFields(kind: string, object: unknown, options: FindOptions = {}): ImageField[] {
  const location = podSpecLocation(kind);
  if (location === undefined) return [];
  const spec = valueAt(object, location.specPointer);
  if (!isRecord(spec)) return [];
  // Loops that push into one array: this runs on every admission, and flatMap's
  // intermediate arrays cost more than the walk itself.
  const fields: ImageField[] = [];
  for (const list of CONTAINER_LISTS) containerImages(fields, spec, list, location.specPointer);
  volumeImages(fields, spec, location.specPointer);
  if (options.relatedImages === true) {
    for (const list of CONTAINER_LISTS) relatedImages(fields, spec, list, location.specPointer);
  }
  return fields;
}

/** The key that identifies a field across versions of an object: `<location>/<name>`, e.g. `containers/app`. */
export function fieldKey(field: Pick<ImageField, 'location' | 'name'>): string {
  return `${field.location}/${field.name}`;
}

function containerImages(fields: ImageField[], spec: unknown, list: (typeof CONTAINER_LISTS)[number], specPointer: string): void {
  const containers = arrayOf(member(spec, list));
  for (let index = 0; index < containers.length; index += 1) {
    const container = containers[index];
    const name = member(container, 'name');
    const image = member(container, 'image');
    if (isName(name) && typeof image === 'string') fields.push({ pointer: `${specPointer}/${list}/${index}/image`, image, location: list, name });
  }
}

function volumeImages(fields: ImageField[], spec: unknown, specPointer: string): void {
  const volumes = arrayOf(member(spec, 'volumes'));
  for (let index = 0; index < volumes.length; index += 1) {
    const volume = volumes[index];
    const name = member(volume, 'name');
    const reference = member(member(volume, 'image'), 'reference');
    if (isName(name) && typeof reference === 'string') {
      fields.push({ pointer: `${specPointer}/volumes/${index}/image/reference`, image: reference, location: 'volumes', name });
    }
  }
}

/**
 * `RELATED_IMAGE_*` variables with a plain, non-blank `value` (one set through
 * `valueFrom` is not in the object, and an empty one means "the operator's default").
 */
function relatedImages(fields: ImageField[], spec: unknown, list: (typeof CONTAINER_LISTS)[number], specPointer: string): void {
  const containers = arrayOf(member(spec, list));
  for (let index = 0; index < containers.length; index += 1) {
    const container = containers[index];
    const containerName = member(container, 'name');
    if (!isName(containerName)) continue;
    const variables = arrayOf(member(container, 'env'));
    for (let envIndex = 0; envIndex < variables.length; envIndex += 1) {
      const variable = variables[envIndex];
      const name = member(variable, 'name');
      const value = member(variable, 'value');
      if (typeof name !== 'string' || !name.startsWith(RELATED_IMAGE_PREFIX) || typeof value !== 'string' || value.trim() === '') continue;
      fields.push({ pointer: `${specPointer}/${list}/${index}/env/${envIndex}/value`, image: value, location: 'env', name: `${containerName}/${name}` });
    }
  }
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
