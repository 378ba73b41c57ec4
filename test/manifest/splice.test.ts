import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OverlappingEditsError } from '../../src/manifest/errors.js';
import { splice, type Edit } from '../../src/manifest/splice.js';

/**
 * Any code point, lone surrogates included (what `unit: 'binary'` gives, without the table of
 * every code point fast-check builds for it, which costs more than the tests).
 */
const codePoint = fc.integer({ min: 0, max: 0x10ffff }).map((point) => String.fromCodePoint(point));

/** A source and edits on disjoint ranges of it, in random order. */
const sourceWithEdits = fc
  .tuple(fc.string({ unit: codePoint, maxLength: 80 }), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 12 })), { maxLength: 8 }))
  .map(([source, raw]) => {
    const cuts = [...new Set(raw.flatMap(([a, b]) => [a % (source.length + 1), b % (source.length + 1)]))].sort((x, y) => x - y);
    const edits: Edit[] = [];
    for (let index = 0; index + 1 < cuts.length; index += 2) {
      edits.push({ start: cuts[index] ?? 0, end: cuts[index + 1] ?? 0, text: raw[index / 2]?.[2] ?? '' });
    }
    return { source, edits };
  })
  .chain(({ source, edits }) => fc.shuffledSubarray(edits, { minLength: edits.length, maxLength: edits.length }).map((shuffled) => ({ source, edits: shuffled })));

describe('splice', () => {
  it('replaces ranges and keeps every character outside them, in order', () => {
    fc.assert(
      fc.property(sourceWithEdits, ({ source, edits }) => {
        const result = splice(source, edits);
        const sorted = [...edits].sort((a, b) => a.start - b.start);
        let expected = '';
        let cursor = 0;
        for (const edit of sorted) {
          expected += source.slice(cursor, edit.start) + edit.text;
          cursor = edit.end;
        }
        expect(result).toBe(expected + source.slice(cursor));
      }),
    );
  });

  it('is the identity when each range is replaced by its own text', () => {
    fc.assert(
      fc.property(sourceWithEdits, ({ source, edits }) => {
        expect(splice(source, edits.map((edit) => ({ ...edit, text: source.slice(edit.start, edit.end) })))).toBe(source);
      }),
    );
  });

  it('applies an edit given twice once (one aliased scalar reached by two fields)', () => {
    expect(splice('image: a', [{ start: 7, end: 8, text: 'b' }, { start: 7, end: 8, text: 'b' }])).toBe('image: b');
  });

  it('inserts at an empty range', () => {
    expect(splice('ab', [{ start: 1, end: 1, text: 'X' }])).toBe('aXb');
  });

  it.each([
    [[{ start: 0, end: 3, text: 'x' }, { start: 2, end: 4, text: 'y' }]],
    [[{ start: 1, end: 2, text: 'x' }, { start: 1, end: 2, text: 'y' }]],
    [[{ start: 2, end: 1, text: 'x' }]],
    [[{ start: 0, end: 9, text: 'x' }]],
  ])('throws on overlapping or out-of-range edits %j', (edits) => {
    expect(() => splice('abcdef', edits)).toThrow(OverlappingEditsError);
  });
});
