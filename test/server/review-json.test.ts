/** reviewJson: the AdmissionReview text the webhook sends, written directly for the common answer. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdmissionResponse } from '../../src/admission/types.js';
import { encodePatch } from '../../src/patch/index.js';
import { reviewJson, reviewResponse } from '../../src/server/app.js';

/** Patches as admit makes them: JSONPatch operations of any text, encoded. */
const patch = fc
  .array(fc.record({ op: fc.constantFrom('test' as const, 'replace' as const), path: fc.string(), value: fc.string({ unit: 'binary' }) }), { maxLength: 6 })
  .map((ops) => encodePatch(ops));
const uid = fc.oneof(fc.uuid(), fc.string(), fc.string({ unit: 'binary' }));

describe('reviewJson', () => {
  it('writes an allowed answer with a patch exactly as JSON.stringify would, whatever the uid and patch hold', () => {
    fc.assert(
      fc.property(uid, patch, (id, encoded) => {
        const response: AdmissionResponse = { uid: id, allowed: true, patchType: 'JSONPatch', patch: encoded };
        expect(reviewJson(response)).toBe(JSON.stringify(reviewResponse(response)));
      }),
    );
  });

  it('gives the same JSON as JSON.stringify for any other answer (warnings, denials, no patch)', () => {
    const response = fc.record(
      {
        uid,
        allowed: fc.boolean(),
        patchType: fc.constant('JSONPatch' as const),
        patch,
        warnings: fc.array(fc.string({ unit: 'binary' }), { maxLength: 3 }),
        status: fc.record({ code: fc.integer({ min: 400, max: 599 }), message: fc.string() }),
      },
      { requiredKeys: ['uid', 'allowed'] },
    );
    fc.assert(
      fc.property(response, (r) => {
        expect(JSON.parse(reviewJson(r))).toEqual(JSON.parse(JSON.stringify(reviewResponse(r))));
      }),
    );
  });

  it('escapes a uid that would otherwise break out of its string', () => {
    const text = reviewJson({ uid: '","allowed":false,"x":"\u2028', allowed: true, patchType: 'JSONPatch', patch: encodePatch([]) });
    const parsed = JSON.parse(text) as { response: { uid: string; allowed: boolean } };
    expect(parsed.response.uid).toBe('","allowed":false,"x":"\u2028');
    expect(parsed.response.allowed).toBe(true);
  });
});
