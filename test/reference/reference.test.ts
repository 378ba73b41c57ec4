import { describe, expect, it } from 'vitest';
import {
  DigestFormatError,
  digestReference,
  namedReference,
  parseNormalizedNamed,
  referenceString,
  TagFormatError,
  toString,
  withDigest,
  withName,
  withTag,
} from '../../src/reference/index.js';
import { expectGoError, thrownBy } from './support.js';
import { rowName, vectors } from './vectors.js';

describe('withName', () => {
  describe('conformance: TestWithNameFailure and TestDomainAndPath', () => {
    for (const [index, row] of vectors.extra.withName.entries()) {
      it(rowName(index, row.input, ` (${row.test})`), () => {
        if (!row.valid) {
          expectGoError(() => withName(row.input), row);
          return;
        }
        const named = withName(row.input);
        expect(named.domain).toBe(row.domain ?? '');
        expect(named.path).toBe(row.path);
        expect(named).toMatchObject({ tag: undefined, digest: undefined });
      });
    }
  });

  it('does not normalise: a single component has no domain', () => {
    expect(withName('nginx')).toMatchObject({ domain: '', path: 'nginx', name: 'nginx' });
  });
});

describe('withTag', () => {
  describe('conformance: TestWithTag', () => {
    for (const [index, row] of vectors.extra.withTagDigest.entries()) {
      if (row.test !== 'TestWithTag') continue;
      it(rowName(index, row.combined), () => {
        let ref = withName(row.name);
        if (row.digest !== undefined) ref = withDigest(ref, row.digest);
        ref = withTag(ref, row.tag ?? '');
        expect(referenceString(ref)).toBe(row.combined);
        expect(ref.digest).toBe(row.digest);
      });
    }
  });

  describe('conformance: TestInvalidReferenceComponents (WithTag)', () => {
    for (const [index, row] of vectors.extra.invalidComponents.entries()) {
      if (row.op !== 'WithTag') continue;
      it(rowName(index, row.arg, ` on ${row.base}`), () => {
        const error = expectGoError(() => withTag(parseNormalizedNamed(row.base), row.arg), { errorId: 'ErrTagInvalidFormat', input: row.arg });
        expect(error).toBeInstanceOf(TagFormatError);
      });
    }
  });

  it('rejects an empty tag', () => {
    expect(thrownBy(() => withTag(withName('app'), ''))).toBeInstanceOf(TagFormatError);
  });
});

describe('withDigest', () => {
  describe('conformance: TestWithDigest', () => {
    for (const [index, row] of vectors.extra.withTagDigest.entries()) {
      if (row.test !== 'TestWithDigest') continue;
      it(rowName(index, row.combined), () => {
        let ref = withName(row.name);
        if (row.tag !== undefined) ref = withTag(ref, row.tag);
        ref = withDigest(ref, row.digest ?? '');
        expect(referenceString(ref)).toBe(row.combined);
        expect(ref.tag).toBe(row.tag);
      });
    }
  });

  describe('conformance: TestInvalidReferenceComponents (WithDigest)', () => {
    for (const [index, row] of vectors.extra.invalidComponents.entries()) {
      if (row.op !== 'WithDigest') continue;
      it(rowName(index, row.arg, ` on ${row.base}`), () => {
        const error = expectGoError(() => withDigest(parseNormalizedNamed(row.base), row.arg), {
          error: 'invalid digest format',
          errorId: 'ErrDigestInvalidFormat',
          input: row.arg,
        });
        expect(error).toBeInstanceOf(DigestFormatError);
      });
    }
  });

  it('checks the grammar only, so an unknown algorithm passes as in Go', () => {
    expect(withDigest(withName('app'), `md5:${'0'.repeat(32)}`).digest).toBe(`md5:${'0'.repeat(32)}`);
  });
});

describe('referenceString', () => {
  it('writes name, tag and digest in that order', () => {
    const ref = namedReference({ domain: 'quay.io', path: 'org/app', tag: '1', digest: `sha256:${'a'.repeat(64)}` });
    expect(referenceString(ref)).toBe(`quay.io/org/app:1@sha256:${'a'.repeat(64)}`);
  });

  it('writes a name without a domain as its path', () => {
    expect(referenceString(namedReference({ domain: '', path: 'app' }))).toBe('app');
  });

  it('writes a digest reference as the digest', () => {
    expect(referenceString(digestReference(`sha256:${'b'.repeat(64)}`))).toBe(`sha256:${'b'.repeat(64)}`);
  });
});

describe('toString', () => {
  it('is referenceString under Go’s name', () => {
    expect(toString).toBe(referenceString);
  });
});

describe('namedReference', () => {
  it('derives the name from domain and path', () => {
    expect(namedReference({ domain: '[::1]:5000', path: 'app' }).name).toBe('[::1]:5000/app');
  });
});

describe('digestReference', () => {
  it('holds the digest alone', () => {
    expect(digestReference('sha256:x')).toEqual({ kind: 'digest', digest: 'sha256:x' });
  });
});
