import { rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { splitPem } from '../src/pem.js';

describe('splitPem', () => {
  it('splits a bundle into certificates and ignores text around them', () => {
    const [a, b] = rootCertificates;
    expect(splitPem(`comment\n${a ?? ''}\n\nmore\n${b ?? ''}\n`)).toEqual([a, b]);
  });

  it('normalises CRLF so duplicates compare equal', () => {
    const [a] = rootCertificates;
    expect(splitPem((a ?? '').replace(/\n/g, '\r\n'))).toEqual([a]);
  });

  it('finds nothing in text without a certificate', () => {
    expect(splitPem('not a certificate\n')).toEqual([]);
  });
});
