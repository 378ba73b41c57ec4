/** manifest/: Kubernetes YAML documents as source text — image scalars with their ranges, and splicing new values in (pure). */
export { ManifestRewriteError, ManifestSyntaxError, OverlappingEditsError } from './errors.js';
export { parseManifest, positionAt, type ParsedManifest, type Position } from './parse.js';
export { isWorkloadGroup, objectLabel, objectsOf, type ManifestObject, type ObjectIdentity } from './objects.js';
export { scalarAt } from './nodes.js';
export { renderScalar, styleOf, type ScalarStyle } from './scalar.js';
export { findImageScalars, type ImageScalar } from './images.js';
export { splice, type Edit } from './splice.js';
export { rewriteImages, rewriteProblem, type Replacement } from './rewrite.js';
export { appendTopLevelEntry } from './append.js';
