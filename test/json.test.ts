import { describe, expect, it } from 'vitest';
import { arrayOf, isRecord, member, parseJson, stringAt } from '../src/json.js';

describe('isRecord', () => {
  it('accepts a JSON object', () => {
    expect(isRecord({})).toBe(true);
  });

  it.each([null, undefined, [], 'x', 1, true])('rejects %j', (value) => {
    expect(isRecord(value)).toBe(false);
  });
});

describe('arrayOf', () => {
  it('returns an array as is', () => {
    const list = [1, 2];
    expect(arrayOf(list)).toBe(list);
  });

  it.each([null, undefined, {}, 'abc', 3])('returns no entries for %j', (value) => {
    expect(arrayOf(value)).toEqual([]);
  });
});

describe('member', () => {
  it('reads an own member', () => {
    expect(member({ a: 1 }, 'a')).toBe(1);
  });

  it('ignores inherited members', () => {
    expect(member({}, 'toString')).toBeUndefined();
  });

  it('reads a __proto__ key that JSON.parse made an own member', () => {
    expect(member(JSON.parse('{"__proto__": 5}'), '__proto__')).toBe(5);
  });

  it('reads nothing from arrays and scalars', () => {
    expect(member(['a'], '0')).toBeUndefined();
    expect(member('abc', 'length')).toBeUndefined();
    expect(member(null, 'a')).toBeUndefined();
  });
});

describe('stringAt', () => {
  it('reads an own string member', () => {
    expect(stringAt({ a: 'x' }, 'a')).toBe('x');
  });

  it('reads nothing that is not a string, inherited, or not on an object', () => {
    expect(stringAt({ a: 1 }, 'a')).toBeUndefined();
    expect(stringAt({}, 'constructor')).toBeUndefined();
    expect(stringAt('abc', 'length')).toBeUndefined();
  });
});

describe('parseJson', () => {
  it.each([
    ['{"a":[1,null]}', { a: [1, null] }],
    ['null', null],
    ['"text"', 'text'],
  ])('parses %s', (text, value) => {
    expect(parseJson(text)).toEqual(value);
  });

  it.each(['', '{', 'password=hunter2', '{"a":1,}'])('gives undefined for %j, which is not JSON', (text) => {
    expect(parseJson(text)).toBeUndefined();
  });
});
