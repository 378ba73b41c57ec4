/** patch/: image fields and their pinned references → the JSONPatch of an AdmissionResponse (pure). */
export { formatOriginalImages, ORIGINAL_IMAGES_ANNOTATION, parseOriginalImages } from './annotation.js';
export { buildPatch, encodePatch, type PatchInput, type Pin } from './build.js';
export { InvalidPinError } from './errors.js';
