/** Shared by the patch tests: apply a patch as kube-apiserver would, and make stand-in pins. */
import jsonpatch, { type Operation } from 'fast-json-patch';
import type { Pin } from '../../src/patch/build.js';
import type { ImageField } from '../../src/workload/walker.js';

/** Applies `operations` to a copy of `object`, validating each one (as kube-apiserver does). */
export function applyTo(object: unknown, operations: Operation[]): unknown {
  return jsonpatch.applyPatch(structuredClone(object), operations, true).newDocument;
}

/** The value `pointer` addresses, read by fast-json-patch rather than by the code under test. */
export function at(document: unknown, pointer: string): unknown {
  return jsonpatch.getValueByPointer(document, pointer) as unknown;
}

/** The paths `jsonpatch.compare` finds changed between two documents. */
export function changedPaths(before: unknown, after: unknown): string[] {
  return jsonpatch.compare(before as object, after as object).map((operation) => operation.path);
}

/**
 * A stand-in for what the admission layer writes: the image with a digest. The
 * digest is a counter, not a resolution; placing strings is all the patch does.
 */
export function pinnedOf(image: string, index: number): string {
  return `${image}@sha256:${(index + 1).toString(16).padStart(64, '0')}`;
}

/** Pins for the fields the admission layer would pin: those not already pinned (no `@`). */
export function pinsFor(fields: readonly ImageField[]): Pin[] {
  return fields.filter((field) => !field.image.includes('@')).map((field, index) => ({ field, pinned: pinnedOf(field.image, index) }));
}
