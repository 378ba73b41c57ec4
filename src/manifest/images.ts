/** Every image field of every Kubernetes object in a manifest, with the source range and position of its scalar. */
import { findImageFields, type ImageField } from '../workload/index.js';
import { ManifestRewriteError } from './errors.js';
import { scalarAt } from './nodes.js';
import { isWorkloadGroup, objectsOf, type ObjectIdentity } from './objects.js';
import { positionAt, type ParsedManifest } from './parse.js';
import { styleOf, type ScalarStyle } from './scalar.js';

/** One image field and the scalar that holds it in the source. */
export interface ImageScalar {
  readonly documentIndex: number;
  /** Where the object sits in its document: `''`, or `/items/N` inside a List. */
  readonly objectPointer: string;
  readonly object: ObjectIdentity;
  /** The walker's field: `pointer` is relative to the object, e.g. `/spec/template/spec/containers/0/image`. */
  readonly field: ImageField;
  /** The scalar's source text is `source.slice(start, end)` (quotes included, comments not). */
  readonly start: number;
  readonly end: number;
  readonly style: ScalarStyle;
  /** 1-based position of the scalar's first character. */
  readonly line: number;
  readonly column: number;
}

/**
 * The image fields the webhook's walker finds in every object of the manifest
 * (lists expanded), in source order. Objects whose apiVersion is outside the workload groups (CRDs that
 * reuse a kind's name) are left out.
 */
export function findImageScalars(manifest: ParsedManifest): ImageScalar[] {
  const scalars = manifest.values.flatMap((value, documentIndex) =>
    objectsOf(value, documentIndex)
      .filter((object) => isWorkloadGroup(object.identity))
      .flatMap((object) =>
        findImageFields(object.identity.kind, object.value).map((field) =>
          locate(manifest, { documentIndex, objectPointer: object.pointer, object: object.identity, field }),
        ),
      ),
  );
  // Source order (the walker's is containers, initContainers, …), so reports read top to bottom.
  return scalars.sort((a, b) => a.start - b.start);
}

type Unlocated = Pick<ImageScalar, 'documentIndex' | 'objectPointer' | 'object' | 'field'>;

function locate(manifest: ParsedManifest, found: Unlocated): ImageScalar {
  const document = manifest.documents[found.documentIndex];
  const pointer = found.objectPointer + found.field.pointer;
  const scalar = document === undefined ? undefined : scalarAt(document, pointer);
  const range = scalar?.range;
  if (scalar === undefined || range === undefined || range === null) {
    // The value came from the document's data, so its node exists; this is a bug, reported rather than skipped.
    throw new ManifestRewriteError(manifest.file, `no YAML scalar found for the image at ${pointer} in document ${found.documentIndex + 1}`);
  }
  const [start, end] = range;
  return { ...found, start, end, style: styleOf(scalar), ...positionAt(manifest, start) };
}
