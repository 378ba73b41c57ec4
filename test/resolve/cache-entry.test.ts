/** What the cache keeps per digest: the same values, stored compactly. */
import { describe, expect, it } from 'vitest';
import { digestEntry, flatString } from '../../src/resolve/cache-entry.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('digestEntry', () => {
  it('keeps the digest and time exactly, and nothing else', () => {
    const header = `Docker-Content-Digest: ${DIGEST}`;
    expect(digestEntry(header.slice(header.indexOf(' ') + 1), 42)).toStrictEqual({ kind: 'digest', digest: DIGEST, fetchedAt: 42 });
  });
});

describe('flatString', () => {
  it('copies any string, non-ASCII included', () => {
    const built = ['registry.example/', 'tëam', '/app', ':v1'].join('');
    expect(flatString(built)).toBe('registry.example/tëam/app:v1');
    expect(flatString('')).toBe('');
  });
});
