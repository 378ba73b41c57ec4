import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credentialKey } from '../../src/registry/credential-key.js';

const cred = (username: string, password: string, source = 'test') => ({ username, password, source });

describe('credentialKey', () => {
  it('is "anonymous" without a credential', () => {
    expect(credentialKey(undefined)).toBe('anonymous');
  });

  it('is a sha256 hex, never containing the secret', () => {
    const key = credentialKey(cred('alice', 'hunter2'));
    expect(key).toMatch(/^cred-[\w-]{43}$/);
    expect(key).not.toContain('hunter2');
    expect(key).not.toContain('alice');
  });

  it('is stable and ignores where the credential came from', () => {
    expect(credentialKey(cred('alice', 'pw', 'secret ns/a'))).toBe(credentialKey(cred('alice', 'pw', 'docker config x')));
  });

  it('tells apart pairs that concatenate to the same text', () => {
    const keys = [cred('ab', 'c'), cred('a', 'bc'), cred('a\0', 'b'), cred('a', '\0b'), cred('a:b', 'c'), cred('a', 'b:c'), cred('', '')].map((c) =>
      credentialKey(c),
    );
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).not.toContain('anonymous');
  });

  it('differs whenever username or password differs', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (u1, p1, u2, p2) => {
        fc.pre(u1 !== u2 || p1 !== p2);
        expect(credentialKey(cred(u1, p1))).not.toBe(credentialKey(cred(u2, p2)));
      }),
    );
  });
});
