import { describe, expect, it } from 'vitest';
import { MANIFEST_ACCEPT, ociErrorCode, sha256Digest, shownValue } from '../../src/registry/manifest.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('MANIFEST_ACCEPT', () => {
  it('lists both index types and both manifest types', () => {
    expect(MANIFEST_ACCEPT).toBe(
      'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json',
    );
  });
});

describe('sha256Digest', () => {
  it('hashes the bytes as served', () => {
    expect(sha256Digest(Buffer.from(''))).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('ociErrorCode', () => {
  it('reads the first error code', () => {
    expect(ociErrorCode(json({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'v9' } }, { code: 'X' }] }))).toBe(
      'MANIFEST_UNKNOWN',
    );
  });

  it.each([
    ['an empty body', Buffer.from('')],
    ['HTML', Buffer.from('<html>proxy error</html>')],
    ['no errors array', json({ message: 'nope' })],
    ['an empty errors array', json({ errors: [] })],
    ['a code that is not a code', json({ errors: [{ code: 'manifest unknown; see http://evil' }] })],
    ['a code that is not a string', json({ errors: [{ code: 404 }] })],
    ['an error that is not an object', json({ errors: ['MANIFEST_UNKNOWN'] })],
  ])('is undefined for %s', (_n, bytes) => {
    expect(ociErrorCode(bytes)).toBeUndefined();
  });
});

describe('shownValue', () => {
  it('quotes printable ASCII and shortens long values', () => {
    expect(shownValue('sha256:ABC')).toBe('"sha256:ABC"');
    expect(shownValue('a\u0000b\u00e9')).toBe('"a?b?"');
    expect(shownValue('x'.repeat(100))).toBe(JSON.stringify(`${'x'.repeat(80)}…`));
  });
});
