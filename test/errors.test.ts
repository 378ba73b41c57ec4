/** errorCode: the one reading of a Node.js or library error's `code`. */
import { describe, expect, it } from 'vitest';
import { errorCode } from '../src/errors.js';

describe('errorCode', () => {
  it('reads a string code', () => {
    expect(errorCode(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBe('ENOENT');
    expect(errorCode({ code: 'UND_ERR_CONNECT_TIMEOUT' })).toBe('UND_ERR_CONNECT_TIMEOUT');
  });

  it.each([
    ['an error without a code', new Error('plain')],
    ['a numeric code (an HTTP status)', { code: 404 }],
    ['a string', 'ENOENT'],
    ['null', null],
    ['undefined', undefined],
  ])('is undefined for %s', (_name, value) => {
    expect(errorCode(value)).toBeUndefined();
  });
});
