/**
 * How much of one admission is resolved, and how much at once. A review may name any
 * number of images (kube-apiserver forwards objects of megabytes); an admission looks
 * up at most MAX_IMAGES_PER_ADMISSION distinct images, FIELDS_AT_ONCE fields at a time,
 * and starts none once its deadline has passed. With every admission bounded so, the
 * requests one admission has waiting for a registry are few, and an ordinary review
 * waits behind a few of each other admission's, never behind all of a large one's.
 */
import type { Deadline } from '../timeout.js';

/** Distinct images (as written) looked up per admission; a review naming more is not pinned beyond them. */
export const MAX_IMAGES_PER_ADMISSION = 256;
/** Image fields of one admission being resolved at once. */
export const FIELDS_AT_ONCE = 8;

/** Items split by the image limit: those looked up, and those not. */
export interface WithinLimit<T> {
  readonly admitted: readonly T[];
  readonly beyond: readonly T[];
  /** How many distinct images the items name. */
  readonly distinct: number;
}

/** Splits `items` at the `max`-th distinct image, in order; every item naming an admitted image is admitted. */
export function withinImageLimit<T extends { readonly image: string }>(items: readonly T[], max: number = MAX_IMAGES_PER_ADMISSION): WithinLimit<T> {
  const admittedImages = new Set<string>();
  const otherImages = new Set<string>();
  const admitted: T[] = [];
  const beyond: T[] = [];
  for (const item of items) {
    if (admittedImages.has(item.image) || admittedImages.size < max) {
      admittedImages.add(item.image);
      admitted.push(item);
    } else {
      otherImages.add(item.image);
      beyond.push(item);
    }
  }
  return { admitted, beyond, distinct: admittedImages.size + otherImages.size };
}

/** What a bounded run gave: an outcome per item started (undefined for the others), and how many were never started. */
export interface FanOutResult<R> {
  readonly outcomes: readonly (R | undefined)[];
  readonly notStarted: number;
}

/**
 * Runs `work` over `items`, at most `limit` at a time, in order; once `deadline` has
 * passed, nothing more is started (what runs finishes on its own terms). Reads
 * `passed()`, not the signal, so an admission answered from the cache arms no timer.
 */
export async function boundedFanOut<T, R>(
  items: readonly T[],
  work: (item: T) => Promise<R>,
  deadline: Deadline,
  limit: number = FIELDS_AT_ONCE,
): Promise<FanOutResult<R>> {
  const outcomes: (R | undefined)[] = new Array<R | undefined>(items.length).fill(undefined);
  let next = 0;
  let started = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !deadline.passed()) {
      const index = next;
      next += 1;
      started += 1;
      outcomes[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return { outcomes, notStarted: items.length - started };
}
