/**
 * What a stored Pod says about one image field (`containers/app`, `volumes/data`,
 * `env/app/RELATED_IMAGE_DB`): the reference in its spec, the digest pinned there, and
 * the digest its container runs (`status.*Statuses[].imageID`). Untrusted JSON: never throws.
 */
import { arrayOf, member, stringAt } from '../json.js';
import { isValidDigest, parseImage, taggedName } from '../reference/index.js';

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;
const STATUS_LISTS: Readonly<Record<(typeof CONTAINER_LISTS)[number], string>> = {
  containers: 'containerStatuses',
  initContainers: 'initContainerStatuses',
  ephemeralContainers: 'ephemeralContainerStatuses',
};

/** The reference a Pod's spec holds at `field`; undefined when it has no such field. */
export function fieldImage(pod: unknown, field: string): string | undefined {
  const spec = member(pod, 'spec');
  const [list, name, variable] = field.split('/');
  if (name === undefined) return undefined;
  if (list === 'volumes') return stringAt(member(named(member(spec, 'volumes'), name), 'image'), 'reference');
  if (list === 'env') {
    if (variable === undefined) return undefined;
    for (const containers of CONTAINER_LISTS) {
      const container = named(member(spec, containers), name);
      if (container !== undefined) return stringAt(named(member(container, 'env'), variable), 'value');
    }
    return undefined;
  }
  if (!isContainerList(list)) return undefined;
  return stringAt(named(member(spec, list), name), 'image');
}

/** The digest pinned in a Pod's spec at `field`; undefined when its reference carries none. */
export function fieldDigest(pod: unknown, field: string): string | undefined {
  return digestAfterAt(fieldImage(pod, field));
}

/** Whether a Pod's spec at `field` names the tag `image` (`name:tag`), pinned or not. */
export function sameTag(pod: unknown, field: string, image: string): boolean {
  const written = fieldImage(pod, field);
  if (written === undefined) return false;
  try {
    return taggedName(parseImage(written)) === image;
  } catch {
    return false;
  }
}

/**
 * The digest a Pod's container at `field` runs, from its status `imageID`
 * (`docker.io/library/nginx@sha256:…`, `docker-pullable://…@sha256:…`); undefined when it
 * does not run yet, is not a container, or the runtime reported only an image ID.
 */
export function runningDigest(pod: unknown, field: string): string | undefined {
  const [list, name] = field.split('/');
  if (name === undefined || !isContainerList(list)) return undefined;
  return digestAfterAt(stringAt(named(member(member(pod, 'status'), STATUS_LISTS[list]), name), 'imageID'));
}

function isContainerList(list: string | undefined): list is (typeof CONTAINER_LISTS)[number] {
  return list === 'containers' || list === 'initContainers' || list === 'ephemeralContainers';
}

function named(list: unknown, name: string): unknown {
  return arrayOf(list).find((item) => stringAt(item, 'name') === name);
}

function digestAfterAt(reference: string | undefined): string | undefined {
  if (reference === undefined) return undefined;
  const at = reference.lastIndexOf('@');
  if (at < 0) return undefined;
  const digest = reference.slice(at + 1);
  return isValidDigest(digest) ? digest : undefined;
}
