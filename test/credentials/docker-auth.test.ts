import { describe, expect, it } from 'vitest';
import { quoteKey, readAuthEntry } from '../../src/credentials/docker-auth.js';
import { b64 } from './fixtures.js';


describe('readAuthEntry', () => {
  it('decodes auth, keeping colons in the password', () => {
    expect(readAuthEntry({ auth: b64('robot:pa:ss') })).toEqual({ kind: 'credential', username: 'robot', password: 'pa:ss' });
  });

  it('lets a non-empty auth win over username and password', () => {
    expect(readAuthEntry({ auth: b64('a:1'), username: 'b', password: '2' })).toEqual({ kind: 'credential', username: 'a', password: '1' });
  });

  it('reads username and password, the password defaulting to empty', () => {
    expect(readAuthEntry({ username: 'u', password: 'p' })).toEqual({ kind: 'credential', username: 'u', password: 'p' });
    expect(readAuthEntry({ username: 'u', auth: '', password: null })).toEqual({ kind: 'credential', username: 'u', password: '' });
  });

  it.each([
    [{}, 'has no credentials'],
    [{ email: 'x@example.com' }, 'has no credentials'],
    [{ identitytoken: 'refresh' }, 'has only an identity or registry token (not supported)'],
    [{ registrytoken: 'bearer' }, 'has only an identity or registry token (not supported)'],
  ])('%j holds nothing to send: %s', (entry, reason) => {
    expect(readAuthEntry(entry)).toEqual({ kind: 'none', reason });
  });

  it.each([
    ['x', undefined, 'is not an object'],
    [[], undefined, 'is not an object'],
    [{ auth: 42 }, 'auth', 'is not a string'],
    [{ auth: b64('a:1'), username: 7 }, 'username', 'is not a string'],
    [{ auth: 'not base64!' }, 'auth', 'is not valid base64'],
    [{ auth: 'YTp' }, 'auth', 'is not valid base64'],
    [{ auth: b64('no-colon') }, 'auth', 'does not decode to "username:password"'],
    [{ auth: b64(':password') }, 'auth', 'does not decode to "username:password"'],
    [{ password: 'secret' }, undefined, 'has a password but no username'],
  ])('%j is invalid: %s %s', (entry, field, problem) => {
    expect(readAuthEntry(entry)).toEqual({ kind: 'invalid', field, problem });
  });

  it('reads own fields only', () => {
    expect(readAuthEntry(Object.create({ username: 'inherited', password: 'p' }))).toEqual({ kind: 'none', reason: 'has no credentials' });
  });

  it('never puts a value in a problem', () => {
    expect(JSON.stringify(readAuthEntry({ auth: 'c2VjcmV0LXZhbHVl' }))).not.toContain('secret-value');
  });
});

describe('quoteKey', () => {
  it('quotes a key, shortening a long one', () => {
    expect(quoteKey('quay.io')).toBe('"quay.io"');
    expect(quoteKey('x'.repeat(100))).toBe(JSON.stringify(`${'x'.repeat(79)}…`));
  });
});
