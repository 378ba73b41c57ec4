/** imageset/: ImageSets (digest-pinner.io/v1alpha1) read into a catalog the admission consults before any registry. */
export { ImageSetCatalog } from './catalog.js';
export { parseEntry, parseImageSet } from './parse.js';
export { AuthoritativeRegistries, InvalidAuthoritativeRegistryError, normalizeRegistry, withoutImageSets } from './authoritative.js';
export {
  CONDITION_CONFLICT,
  CONDITION_READY,
  REASON_CONFLICTING,
  REASON_INVALID_ENTRIES,
  REASON_LOADED,
  REASON_NO_CONFLICTS,
  desiredStatus,
  statusUpToDate,
  withTransitionTimes,
  type ImageSetCondition,
  type ImageSetStatus,
} from './status.js';
export { ImageSetInformer, type ImageSetInformerOptions, type ImageSetInformerState } from './informer.js';
export { LeaseElector, type LeaseElectorOptions } from './lease.js';
export { ImageSetStatusWriter, type StatusWriterOptions } from './status-writer.js';
export * from './types.js';
export { ImageSetWatch, STATUS_LEASE_NAME, type ImageSetWatchOptions } from './watch.js';
