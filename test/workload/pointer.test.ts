import { describe, expect, it } from 'vitest';
import { escapeToken, isArrayIndex, tokensOf, valueAt } from '../../src/workload/pointer.js';

describe('escapeToken', () => {
  it('escapes / as ~1', () => {
    expect(escapeToken('digest-pinner.io/original-images')).toBe('digest-pinner.io~1original-images');
  });

  it('escapes ~ as ~0 before it escapes /', () => {
    expect(escapeToken('a~/b')).toBe('a~0~1b');
  });

  it('leaves other tokens alone', () => {
    expect(escapeToken('containers')).toBe('containers');
  });
});

describe('tokensOf', () => {
  it('has no tokens for the whole document', () => {
    expect(tokensOf('')).toEqual([]);
  });

  it('splits and unescapes', () => {
    expect(tokensOf('/metadata/annotations/a~1b~0c')).toEqual(['metadata', 'annotations', 'a/b~c']);
  });

  it('reads ~01 as ~1, not /', () => {
    expect(tokensOf('/~01')).toEqual(['~1']);
  });

  it('keeps empty tokens', () => {
    expect(tokensOf('/')).toEqual(['']);
  });
});

describe('valueAt', () => {
  const doc = { spec: { containers: [{ image: 'a' }, { image: 'b' }] }, 'a/b': 1 };

  it('walks objects and arrays', () => {
    expect(valueAt(doc, '/spec/containers/1/image')).toBe('b');
  });

  it('returns the document for the empty pointer', () => {
    expect(valueAt(doc, '')).toBe(doc);
  });

  it('reads escaped keys', () => {
    expect(valueAt(doc, '/a~1b')).toBe(1);
  });

  it('is undefined past a missing step', () => {
    expect(valueAt(doc, '/spec/initContainers/0/image')).toBeUndefined();
  });

  it.each(['/spec/containers/01/image', '/spec/containers/-/image', '/spec/containers/2/image', '/spec/containers/length'])(
    'is undefined for %s, which is no array index in range',
    (pointer) => {
      expect(valueAt(doc, pointer)).toBeUndefined();
    },
  );

  it('does not follow inherited members', () => {
    expect(valueAt({}, '/constructor')).toBeUndefined();
    expect(valueAt({}, '/__proto__')).toBeUndefined();
  });

  it('is undefined through a string or null', () => {
    expect(valueAt({ a: 'text', b: null }, '/a/0')).toBeUndefined();
    expect(valueAt({ a: 'text', b: null }, '/b/c')).toBeUndefined();
  });
});

describe('isArrayIndex', () => {
  it.each(['0', '7', '10'])('%s addresses an element', (token) => {
    expect(isArrayIndex(token)).toBe(true);
  });

  it.each(['', '01', '-1', '1.0', 'a', '-'])('%j does not', (token) => {
    expect(isArrayIndex(token)).toBe(false);
  });
});
