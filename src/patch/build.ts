/** Turns pinned image fields into the JSONPatch an AdmissionResponse carries. */
import type { Operation } from 'fast-json-patch';
import { isRecord, member } from '../json.js';
import { podSpecLocation } from '../workload/kinds.js';
import { escapeToken, valueAt } from '../workload/pointer.js';
import { fieldKey, findImageFields, type ImageField } from '../workload/walker.js';
import { formatOriginalImages, ORIGINAL_IMAGES_ANNOTATION, parseOriginalImages } from './annotation.js';
import { InvalidPinError } from './errors.js';

/** An image field and the full reference to write in its place (formatted elsewhere). */
export interface Pin {
  readonly field: ImageField;
  readonly pinned: string;
}

export interface PatchInput {
  /** The object exactly as the AdmissionReview carried it. */
  readonly object: unknown;
  /** `request.kind.kind`. */
  readonly kind: string;
  readonly pins: readonly Pin[];
}

/**
 * The JSONPatch that writes each pin into `object` and records the images the
 * pinned fields asked for in the `digest-pinner.io/original-images` annotation
 * of the metadata Pods are created with (the Pod's own, or the template's, so
 * Pods inherit it). No pins, no operations.
 *
 * Each `replace` follows a `test` of the value the walker read. kube-apiserver
 * applies the patch to the very object it sent in this review, so the test
 * never fails in normal operation; it costs a few bytes and turns a mistake (a
 * walker/patch mismatch, a patch replayed against another object) into a
 * rejected patch instead of an image written over something else.
 *
 * @throws InvalidPinError when a pin does not describe `object`.
 */
export function buildPatch(input: PatchInput): Operation[] {
  const { object, kind, pins } = input;
  const [first] = pins;
  if (first === undefined) return [];
  const location = podSpecLocation(kind);
  if (location === undefined) throw new InvalidPinError(first.field.pointer, `a ${kind} has no pod spec`);
  checkPins(object, pins);
  return [...pins.flatMap(imageOperations), ...annotationOperations(input, location.metadataPointer)];
}

/** The patch as `response.patch` carries it: base64 of its JSON. */
export function encodePatch(operations: readonly Operation[]): string {
  return Buffer.from(JSON.stringify(operations), 'utf8').toString('base64');
}

function checkPins(object: unknown, pins: readonly Pin[]): void {
  const seen = new Set<string>();
  for (const { field } of pins) {
    if (seen.has(field.pointer)) throw new InvalidPinError(field.pointer, 'it is pinned twice');
    seen.add(field.pointer);
    const found = valueAt(object, field.pointer);
    if (found !== field.image) {
      const holds = found === undefined ? 'nothing' : JSON.stringify(found);
      throw new InvalidPinError(field.pointer, `the object holds ${holds} there, not ${JSON.stringify(field.image)}`);
    }
  }
}

function imageOperations({ field, pinned }: Pin): Operation[] {
  return [
    { op: 'test', path: field.pointer, value: field.image },
    { op: 'replace', path: field.pointer, value: pinned },
  ];
}

/** Sets the annotation, adding `metadata` and `annotations` where they are absent (or null). */
function annotationOperations({ object, kind, pins }: PatchInput, metadataPointer: string): Operation[] {
  const metadata = valueAt(object, metadataPointer);
  const annotations = member(metadata, 'annotations');
  const existing = member(annotations, ORIGINAL_IMAGES_ANNOTATION);
  const value = formatOriginalImages(originalImages(kind, object, existing, pins));

  const annotationsPointer = `${metadataPointer}/annotations`;
  const valuePointer = `${annotationsPointer}/${escapeToken(ORIGINAL_IMAGES_ANNOTATION)}`;
  if (!isRecord(metadata)) return [{ op: 'add', path: metadataPointer, value: { annotations: { [ORIGINAL_IMAGES_ANNOTATION]: value } } }];
  if (!isRecord(annotations)) return [{ op: 'add', path: annotationsPointer, value: { [ORIGINAL_IMAGES_ANNOTATION]: value } }];
  if (existing === undefined) return [{ op: 'add', path: valuePointer, value }];
  return [
    { op: 'test', path: valuePointer, value: existing },
    { op: 'replace', path: valuePointer, value },
  ];
}

/**
 * The existing record, less the entries of fields the object no longer has,
 * overwritten by what the pinned fields ask for now. Entries of fields left
 * alone (unchanged on UPDATE) survive.
 */
function originalImages(kind: string, object: unknown, existing: unknown, pins: readonly Pin[]): Map<string, string> {
  const recorded = parseOriginalImages(existing);
  const asked = pins.map(({ field }): [string, string] => [fieldKey(field), field.image]);
  if (recorded.size === 0) return new Map(asked);
  // RELATED_IMAGE_* fields count as present whether or not this admission pins them, so their entries survive.
  const present = new Set(findImageFields(kind, object, { relatedImages: true }).map(fieldKey));
  const kept = [...recorded].filter(([key]) => present.has(key));
  return new Map([...kept, ...asked]);
}
