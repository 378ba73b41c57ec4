/** workload/: the kind table and the walker that turns an object into image fields (pure). */
export { podSpecLocation, POD_SPEC_KINDS, type PodSpecLocation } from './kinds.js';
export { EPHEMERAL_CONTAINERS_SUBRESOURCE, imagesToPin, type AdmissionOperation, type PinRequest } from './operations.js';
export { hasControllerOwner, skipsControlledTemplate } from './owner.js';
export { escapeToken, isArrayIndex, tokensOf, valueAt } from './pointer.js';
export { fieldKey, findImageFields, RELATED_IMAGE_PREFIX, type FindOptions, type ImageField, type ImageLocation } from './walker.js';
