import { describe, expect, it } from 'vitest';
import {
  ChecksumFormatError,
  NameUppercaseError,
  parseReference,
  referenceString,
  type NamedReference,
} from '../../src/reference/index.js';
import { expectGoError } from './support.js';
import { rowName, vectors, type Row } from './vectors.js';

/**
 * The one row whose Go expectation comes from Go's test binary rather than the
 * grammar: distribution/reference's tests do not link crypto/sha512, so go-digest
 * reports sha512 as unsupported there. This project registers sha512 (as any
 * binary importing crypto/sha512 does), so the row is run against acceptance.
 */
const SHA512_ROW = `validname@sha512:${'f'.repeat(128)}`;

/** What Go's TestReferenceParse asserts of a valid row. */
function expectParsed(ref: NamedReference, row: Row): void {
  expect(referenceString(ref)).toBe(row.input);
  expect(ref.name).toBe(row.name);
  expect(ref.domain).toBe(row.domain ?? '');
  expect(ref.path).toBe(row.path);
  expect(ref.tag).toBe(row.tag);
  expect(ref.digest).toBe(row.digest);
}

describe('parseReference', () => {
  describe('conformance: TestReferenceParse', () => {
    for (const [index, row] of vectors.parse.entries()) {
      if (row.input === SHA512_ROW) {
        it(rowName(index, row.input, ' is accepted: sha512 is registered here (the row says Go only lacks the import)'), () => {
          expect(row.errorId).toBe('digest.ErrDigestUnsupported');
          expect(row.note).toMatch(/would accept this input/);
          expectParsed(parseReference(row.input), { ...row, name: 'validname', path: 'validname', digest: row.input.slice('validname@'.length) });
        });
        continue;
      }
      it(rowName(index, row.input), () => {
        if (row.valid) expectParsed(parseReference(row.input), row);
        else expectGoError(() => parseReference(row.input), row);
      });
    }
  });

  describe('conformance: TestSerialization (Field.UnmarshalText is Parse)', () => {
    for (const [index, row] of vectors.extra.serialization.entries()) {
      it(rowName(index, row.input, ` (${row.description})`), () => {
        if (!row.valid) {
          expectGoError(() => parseReference(row.input), row);
          return;
        }
        const ref = parseReference(row.input);
        expect(ref.name).toBe(row.name);
        expect(ref.tag).toBe(row.tag);
        expect(ref.digest).toBe(row.digest);
        // Re-marshalling yields the same JSON.
        expect(JSON.stringify({ Field: referenceString(ref) })).toBe(JSON.stringify({ Field: row.input }));
      });
    }
  });

  it('keeps the domain empty for a single component, since Parse does not normalise', () => {
    expect(parseReference('nginx:1.27')).toMatchObject({ domain: '', path: 'nginx', name: 'nginx', tag: '1.27' });
  });

  it('reads the first component as the domain whenever a second follows', () => {
    expect(parseReference('library/nginx')).toMatchObject({ domain: 'library', path: 'nginx' });
  });

  it('reports upper case in the path with the sentinel, not a format error', () => {
    const error = expectGoError(() => parseReference('quay.io/Org/app'), { errorId: 'ErrNameContainsUppercase', input: 'quay.io/Org/app' });
    expect(error).toBeInstanceOf(NameUppercaseError);
  });

  it('lower-cases U+0130 as Go does (to a plain i), so the fault is upper case', () => {
    expectGoError(() => parseReference('\u0130mage'), { errorId: 'ErrNameContainsUppercase', input: '\u0130mage' });
  });

  it('rejects a sha256 digest in upper-case hex with go-digest’s format error', () => {
    const input = `app@sha256:${'F'.repeat(64)}`;
    const error = expectGoError(() => parseReference(input), { error: 'invalid checksum digest format', input });
    expect(error).toBeInstanceOf(ChecksumFormatError);
  });

  it('accepts a 255-character path under a long domain (the limit is on the path)', () => {
    const domain = `${'d'.repeat(60)}.example.com`;
    const ref = parseReference(`${domain}/${'p'.repeat(255)}`);
    expect(ref.path).toHaveLength(255);
    expect(ref.domain).toBe(domain);
  });

  it('accepts a 128-character tag and rejects 129', () => {
    expect(parseReference(`app:${'t'.repeat(128)}`).tag).toHaveLength(128);
    expectGoError(() => parseReference(`app:${'t'.repeat(129)}`), { errorId: 'ErrReferenceInvalidFormat', input: `app:${'t'.repeat(129)}` });
  });

  it('rejects surrounding whitespace', () => {
    expectGoError(() => parseReference(' nginx'), { errorId: 'ErrReferenceInvalidFormat', input: ' nginx' });
    expectGoError(() => parseReference('nginx\n'), { errorId: 'ErrReferenceInvalidFormat', input: 'nginx\n' });
  });
});
