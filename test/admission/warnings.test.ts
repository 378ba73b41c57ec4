import { describe, expect, it } from 'vitest';
import { denialMessage, failureWarnings, shorten, type ImageFailure } from '../../src/admission/index.js';
import { tooManyImagesMessage, type Unattempted } from '../../src/admission/warnings.js';

const failure = (n: number, image = `registry.example.com/team/app-${n}:v1`): ImageFailure => ({
  where: `containers/c${n}`,
  image,
  reason: 'registry answered 404 MANIFEST_UNKNOWN',
  code: 'DP_ERR_MANIFEST_UNKNOWN',
});

describe('shorten', () => {
  it('keeps short text', () => {
    expect(shorten('abc', 5)).toBe('abc');
  });
  it('keeps both ends of long text within the limit', () => {
    const text = `registry.example.com/${'x'.repeat(300)}:tag-at-the-end`;
    const short = shorten(text, 100);
    expect(short).toHaveLength(100);
    expect(short.startsWith('registry.example.com/')).toBe(true);
    expect(short.endsWith(':tag-at-the-end')).toBe(true);
  });
});

describe('failureWarnings', () => {
  it('names the image, where it is and why', () => {
    expect(failureWarnings([failure(1)])).toEqual([
      'digest-pinner: containers/c1 image "registry.example.com/team/app-1:v1" not pinned: registry answered 404 MANIFEST_UNKNOWN',
    ]);
  });
  it('keeps every warning under 256 characters', () => {
    const warnings = failureWarnings([failure(1, `r.io/${'a'.repeat(400)}:v1`)]);
    expect(warnings[0]?.length).toBeLessThanOrEqual(250);
    expect(warnings[0]).toContain(':v1"');
  });
  it('stays under 4 KiB in all and says how many were omitted', () => {
    const many = Array.from({ length: 60 }, (_, i) => failure(i));
    const warnings = failureWarnings(many);
    const bytes = warnings.reduce((sum, w) => sum + Buffer.byteLength(w), 0);
    expect(bytes).toBeLessThanOrEqual(4096);
    const last = warnings.at(-1) ?? '';
    const omitted = Number(/(\d+) more warnings about images omitted/.exec(last)?.[1]);
    expect(warnings.length - 1 + omitted).toBe(60);
  });
  it('says first, in one warning, how many image fields were not looked up, however many failures follow', () => {
    const unattempted: Unattempted = { kind: 'Deployment', fields: 1200, distinctImages: 1300, maxImages: 256 };
    const warnings = failureWarnings(Array.from({ length: 60 }, (_, i) => failure(i)), [], unattempted);
    expect(warnings[0]).toBe('digest-pinner: 1200 image fields not pinned: the Deployment names 1300 distinct images, more than the 256 looked up per admission');
    expect(warnings.filter((w) => w.includes('not looked up') || w.includes('looked up per admission'))).toHaveLength(1);
  });
  it('says the deadline passed when the images were within the limit', () => {
    const warnings = failureWarnings([], [], { kind: 'Pod', fields: 1, distinctImages: 3, maxImages: 256 });
    expect(warnings).toEqual(['digest-pinner: 1 image field not pinned: the admission deadline passed before they were looked up']);
  });
});

describe('tooManyImagesMessage', () => {
  it('names the kind, the count and the limit', () => {
    expect(tooManyImagesMessage({ kind: 'Pod', fields: 9000, distinctImages: 9000, maxImages: 256 })).toBe(
      'digest-pinner: the Pod names 9000 distinct images, more than the 256 looked up per admission (namespace mode strict); none was pinned',
    );
  });
});

describe('denialMessage', () => {
  it('counts and names every failure', () => {
    const message = denialMessage([failure(1), failure(2)]);
    expect(message).toMatch(/^digest-pinner: 2 images could not be pinned/);
    expect(message).toContain('containers/c1 image "registry.example.com/team/app-1:v1"');
    expect(message).toContain('containers/c2 image "registry.example.com/team/app-2:v1"');
  });
  it('counts fields not looked up with the failures, and says why first', () => {
    const message = denialMessage([failure(1)], { kind: 'Pod', fields: 4, distinctImages: 5, maxImages: 256 });
    expect(message).toMatch(/^digest-pinner: 5 images could not be pinned to a digest \(namespace mode strict\): 4 image fields not pinned: the admission deadline passed/);
    expect(message).toContain('containers/c1 image');
  });
});
