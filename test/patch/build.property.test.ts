import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ORIGINAL_IMAGES_ANNOTATION, parseOriginalImages } from '../../src/patch/annotation.js';
import { buildPatch, type Pin } from '../../src/patch/build.js';
import { POD_SPEC_KINDS, podSpecLocation } from '../../src/workload/kinds.js';
import { tokensOf } from '../../src/workload/pointer.js';
import { fieldKey, findImageFields } from '../../src/workload/walker.js';
import { applyTo, at, changedPaths, pinnedOf } from './helpers.js';

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
const image = fc.oneof(
  fc.string(),
  fc.stringMatching(/^[a-z0-9.-]{1,12}(:[0-9]{2,5})?\/[a-z0-9/]{1,12}(:[a-z0-9.]{1,8})?$/),
  fc.constant(''),
);
/** Some entries are malformed on purpose: no name, a numeric image, null. */
const container = fc.oneof(
  fc.record({ name, image }),
  fc.record({ name: fc.oneof(name, fc.constant(''), fc.integer()), image: fc.oneof(image, fc.integer(), fc.constant(null)) }, { requiredKeys: [] }),
  fc.constant(null),
);
const volume = fc.oneof(
  fc.record({ name, image: fc.record({ reference: image, pullPolicy: fc.constantFrom('Always', 'IfNotPresent') }, { requiredKeys: ['reference'] }) }),
  fc.record({ name, emptyDir: fc.constant({}) }),
  fc.record({ name, image: fc.record({ reference: fc.oneof(fc.integer(), fc.constant(null)) }) }),
);
const podSpec = fc.record(
  {
    containers: fc.array(container, { maxLength: 5 }),
    initContainers: fc.array(container, { maxLength: 3 }),
    ephemeralContainers: fc.array(container, { maxLength: 3 }),
    volumes: fc.array(volume, { maxLength: 3 }),
    restartPolicy: fc.constantFrom('Always', 'Never'),
  },
  { requiredKeys: [] },
);
const annotationKey = fc.oneof(fc.constant(ORIGINAL_IMAGES_ANNOTATION), fc.stringMatching(/^[a-z.]{1,10}\/[a-z-]{1,10}$/));
const metadata = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.record({ labels: fc.dictionary(name, name, { maxKeys: 2 }), annotations: fc.oneof(fc.constant(null), fc.dictionary(annotationKey, fc.string(), { maxKeys: 3 })) }, { requiredKeys: [] }),
);

/** An object of `kind` with `spec` at its pod spec pointer and `meta` at its metadata pointer. */
function objectOf(kind: string, spec: unknown, meta: unknown): unknown {
  const location = podSpecLocation(kind);
  if (location === undefined) throw new Error(`no location for ${kind}`);
  const root: Record<string, unknown> = { kind };
  place(root, tokensOf(location.specPointer), spec);
  if (meta !== undefined) place(root, tokensOf(location.metadataPointer), meta);
  return root;
}

function place(root: Record<string, unknown>, tokens: readonly string[], value: unknown): void {
  let parent = root;
  for (const token of tokens.slice(0, -1)) {
    const next = parent[token];
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) {
      parent = next as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      parent[token] = created;
      parent = created;
    }
  }
  const last = tokens.at(-1);
  if (last !== undefined) parent[last] = value;
}

describe('buildPatch (property)', () => {
  it('replaces exactly the pinned fields, and records each of them, for any pod spec of any kind', () => {
    fc.assert(
      fc.property(fc.constantFrom(...POD_SPEC_KINDS), podSpec, metadata, fc.array(fc.boolean(), { maxLength: 20 }), (kind, spec, meta, chosen) => {
        const object = objectOf(kind, spec, meta);
        const fields = findImageFields(kind, object);
        const pins: Pin[] = fields.flatMap((field, index) => (chosen[index] === true ? [{ field, pinned: pinnedOf(field.image, index) }] : []));

        const operations = buildPatch({ object, kind, pins });
        if (pins.length === 0) {
          expect(operations).toEqual([]);
          return;
        }
        const result = applyTo(object, operations);

        const pinned = new Map(pins.map((pin) => [pin.field.pointer, pin.pinned]));
        for (const field of fields) expect(at(result, field.pointer)).toBe(pinned.get(field.pointer) ?? field.image);

        const metadataPointer = podSpecLocation(kind)?.metadataPointer ?? '';
        const outsideMetadata = changedPaths(object, result).filter((path) => path !== metadataPointer && !path.startsWith(`${metadataPointer}/`));
        expect(outsideMetadata.sort()).toEqual([...pinned.keys()].sort());

        const recorded = parseOriginalImages(at(result, `${metadataPointer}/annotations/digest-pinner.io~1original-images`));
        for (const pin of pins) expect(recorded.has(fieldKey(pin.field))).toBe(true);
        expect(findImageFields(kind, result).map((field) => field.pointer)).toEqual(fields.map((field) => field.pointer));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves the other annotations as they were', () => {
    fc.assert(
      fc.property(podSpec, fc.dictionary(fc.stringMatching(/^[a-z.]{1,10}\/[a-z-]{1,10}$/), fc.string(), { maxKeys: 4 }), (spec, annotations) => {
        const object = objectOf('Pod', spec, { annotations });
        const fields = findImageFields('Pod', object);
        const pins = fields.map((field, index): Pin => ({ field, pinned: pinnedOf(field.image, index) }));
        const result = applyTo(object, buildPatch({ object, kind: 'Pod', pins }));
        const after = at(result, '/metadata/annotations') as Record<string, unknown>;
        for (const [key, value] of Object.entries(annotations)) {
          if (key !== ORIGINAL_IMAGES_ANNOTATION) expect(after[key]).toBe(value);
        }
      }),
    );
  });
});
