import { describe, expect, it } from 'vitest';
import { formatOriginalImages, ORIGINAL_IMAGES_ANNOTATION, parseOriginalImages } from '../../src/patch/annotation.js';

describe('ORIGINAL_IMAGES_ANNOTATION', () => {
  it('is a qualified annotation name under digest-pinner.io', () => {
    expect(ORIGINAL_IMAGES_ANNOTATION).toBe('digest-pinner.io/original-images');
  });
});

describe('parseOriginalImages', () => {
  it('reads a JSON object of strings', () => {
    expect(parseOriginalImages('{"containers/app":"nginx:1.27","volumes/models":"quay.io/x/y:1"}')).toEqual(
      new Map([['containers/app', 'nginx:1.27'], ['volumes/models', 'quay.io/x/y:1']]),
    );
  });

  it.each(['', 'not json', '{', '[]', '["a"]', '"a"', '1', 'null', 'true'])('reads nothing from %j', (value) => {
    expect(parseOriginalImages(value)).toEqual(new Map());
  });

  it.each([undefined, null, 5, {}])('reads nothing from the non-string %j', (value) => {
    expect(parseOriginalImages(value)).toEqual(new Map());
  });

  it('drops entries that are not strings', () => {
    expect(parseOriginalImages('{"containers/a":"a:1","containers/b":2,"containers/c":null,"containers/d":{"x":1}}')).toEqual(new Map([['containers/a', 'a:1']]));
  });

  it('keeps a __proto__ key as data', () => {
    expect(parseOriginalImages('{"__proto__":"x:1"}')).toEqual(new Map([['__proto__', 'x:1']]));
  });
});

describe('formatOriginalImages', () => {
  it('writes compact JSON with sorted keys', () => {
    expect(formatOriginalImages(new Map([['volumes/models', 'quay.io/x/y:1'], ['containers/app', 'nginx:1.27']]))).toBe(
      '{"containers/app":"nginx:1.27","volumes/models":"quay.io/x/y:1"}',
    );
  });

  it('sorts by code unit, not by locale', () => {
    expect(formatOriginalImages(new Map([['containers/b', 'b'], ['containers/B', 'B'], ['containers/a', 'a']]))).toBe(
      '{"containers/B":"B","containers/a":"a","containers/b":"b"}',
    );
  });

  it('writes {} for no entries', () => {
    expect(formatOriginalImages(new Map())).toBe('{}');
  });

  it('round-trips through parseOriginalImages', () => {
    const originals = new Map([['initContainers/migrate', 'r/m:1'], ['ephemeralContainers/debugger-q7t5z', 'busybox:1.36']]);
    expect(parseOriginalImages(formatOriginalImages(originals))).toEqual(originals);
  });

  it('keeps a __proto__ key as data', () => {
    expect(formatOriginalImages(new Map([['__proto__', 'x:1']]))).toBe('{"__proto__":"x:1"}');
  });
});
