/** The pre-parse scan: exact value counts and depths for any JSON text, however it is chunked; refusals past the limits. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonShapeError, JsonShapeScanner } from '../../src/server/json-shape.js';

const UNLIMITED = { jsonDepth: 10_000, jsonValues: Number.MAX_SAFE_INTEGER };

/** Values (not keys) and nesting of a parsed value, counted the plain way. */
function shapeOf(value: unknown): { values: number; depth: number } {
  if (typeof value !== 'object' || value === null) return { values: 1, depth: 0 };
  const children = (Array.isArray(value) ? value : Object.values(value as Record<string, unknown>)).map(shapeOf);
  return { values: 1 + children.reduce((sum, c) => sum + c.values, 0), depth: 1 + Math.max(0, ...children.map((c) => c.depth)) };
}

/** Scans `text` split at `cuts` (byte offsets), as a body arrives in chunks. */
function scan(text: string, limits = UNLIMITED, cuts: readonly number[] = []): JsonShapeScanner {
  const bytes = Buffer.from(text, 'utf8');
  const scanner = new JsonShapeScanner(limits);
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b).filter((c) => c > 0 && c < bytes.length)) {
    scanner.feed(bytes.subarray(from, cut));
    from = cut;
  }
  scanner.feed(bytes.subarray(from));
  return scanner;
}

describe('JsonShapeScanner', () => {
  it('counts exactly the values JSON.parse builds, compact or indented, in any chunking', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.boolean(), fc.array(fc.nat(2_000), { maxLength: 6 }), (value, indent, cuts) => {
        const text = JSON.stringify(value, null, indent ? 2 : undefined);
        expect(scan(text, UNLIMITED, cuts).values).toBe(shapeOf(JSON.parse(text)).values);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a text exactly when it nests deeper than the limit', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), (value) => {
        const text = JSON.stringify(value);
        const { depth } = shapeOf(value);
        expect(() => scan(text, { ...UNLIMITED, jsonDepth: depth })).not.toThrow();
        if (depth > 0) expect(() => scan(text, { ...UNLIMITED, jsonDepth: depth - 1 })).toThrow(JsonShapeError);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a text exactly when it holds more values than the limit', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value);
        const { values } = shapeOf(value);
        expect(() => scan(text, { ...UNLIMITED, jsonValues: values })).not.toThrow();
        expect(() => scan(text, { ...UNLIMITED, jsonValues: values - 1 })).toThrow(JsonShapeError);
      }),
      { numRuns: 100 },
    );
  });

  it('finds the end of strings made of backslashes, quotes and brackets, cut anywhere', () => {
    const tricky = fc.string({ unit: fc.constantFrom('\\', '"', '[', ']', '{', '}', ':', ',', 'a', 'é') });
    fc.assert(
      fc.property(fc.array(fc.tuple(tricky, tricky), { maxLength: 8 }), fc.array(fc.nat(400), { maxLength: 8 }), (pairs, cuts) => {
        const text = JSON.stringify({ list: pairs.map(([a]) => a), map: Object.fromEntries(pairs) });
        expect(scan(text, UNLIMITED, cuts).values).toBe(shapeOf(JSON.parse(text)).values);
      }),
      { numRuns: 150 },
    );
  });

  it('reads brackets, quotes and backslashes inside strings (and split across chunks) as text', () => {
    const text = JSON.stringify({ 'k[{': ['a"]}[{', '\\', '\\"', 'é€😀', '\u0000'], n: -1.5e3, t: true, f: false, z: null });
    const bytes = Buffer.byteLength(text);
    for (let cut = 1; cut < bytes; cut += 1) expect(scan(text, UNLIMITED, [cut]).values).toBe(11);
  });

  it('names the limit it refuses: nested empty arrays past the value count, a deep nest past the depth', () => {
    const bomb = `[${Array.from({ length: 1_001 }, () => '[]').join(',')}]`;
    expect(() => scan(bomb, { jsonDepth: 100, jsonValues: 1_000 })).toThrow('invalid AdmissionReview: it holds more than 1000 JSON values, which no Kubernetes object does');
    const deep = `{"spec":{"imagePullSecrets":${'['.repeat(5_000)}${']'.repeat(5_000)}}}`;
    const error = (() => {
      try {
        scan(deep, { jsonDepth: 100, jsonValues: 1_000_000 });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(JsonShapeError);
    expect(error).toMatchObject({ code: 'DP_ERR_BODY_SHAPE', statusCode: 400, message: 'invalid AdmissionReview: it nests deeper than 100 levels, which no Kubernetes object does' });
  });

  it('lets every review fixture through the server limits', async () => {
    const { SERVER_LIMITS } = await import('../../src/server/limits.js');
    const { readdir, readFile } = await import('node:fs/promises');
    const dir = new URL('../fixtures/admission/', import.meta.url);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = await readFile(new URL(file, dir), 'utf8');
      expect(scan(text, SERVER_LIMITS).values).toBe(shapeOf(JSON.parse(text)).values);
    }
  });
});
