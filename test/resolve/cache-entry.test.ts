/** What the cache keeps per digest: the same values, stored compactly. */
import { describe, expect, it } from 'vitest';
import { digestEntry, flatString } from '../../src/resolve/cache-entry.js';
import { MANIFEST_MEDIA_TYPES } from '../../src/registry/index.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('digestEntry', () => {
  it('keeps the digest, media type and time exactly', () => {
    for (const mediaType of [...MANIFEST_MEDIA_TYPES, 'application/vnd.example.custom+json']) {
      const header = ` ${mediaType}; charset=utf-8`.split(';')[0]?.trim() ?? '';
      expect(digestEntry({ digest: `sha256:${'ab'.repeat(32)}`, mediaType: header }, 42)).toEqual({
        kind: 'digest',
        manifest: { digest: DIGEST, mediaType },
        fetchedAt: 42,
      });
    }
  });
});

describe('flatString', () => {
  it('copies any string, non-ASCII included', () => {
    const built = ['registry.example/', 'tëam', '/app', ':v1'].join('');
    expect(flatString(built)).toBe('registry.example/tëam/app:v1');
    expect(flatString('')).toBe('');
  });
});
