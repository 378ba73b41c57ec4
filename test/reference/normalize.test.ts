import { describe, expect, it } from 'vitest';
import {
  familiarName,
  familiarString,
  NameIdentifierError,
  NameUppercaseError,
  parseAnyReference,
  parseDockerRef,
  parseNamed,
  parseNormalizedNamed,
  parseReference,
  ReferenceRuleError,
  referenceString,
  tagNameOnly,
} from '../../src/reference/index.js';
import { expectGoError, thrownBy } from './support.js';
import { rowName, vectors, type NormalizeRow } from './vectors.js';

const rowsOf = (func: NormalizeRow['func']): [number, NormalizeRow][] =>
  [...vectors.normalize.entries()].filter(([, row]) => row.func === func);

const sha = (hex: string): string => `sha256:${hex}`;

describe('conformance: normalize_test.go', () => {
  it('has a function under test this suite knows for every row', () => {
    const known = new Set(['ParseNormalizedNamed', 'ParseAnyReference', 'ParseDockerRef']);
    expect(vectors.normalize.filter((row) => !known.has(row.func))).toEqual([]);
  });
});

describe('parseNormalizedNamed', () => {
  describe('conformance', () => {
    for (const [index, row] of rowsOf('ParseNormalizedNamed')) {
      it(rowName(index, row.input, ` (${row.test})`), () => {
        if (!row.valid) {
          expect(thrownBy(() => parseNormalizedNamed(row.input))).toBeInstanceOf(ReferenceRuleError);
          return;
        }
        const ref = parseNormalizedNamed(row.input);
        if (row.domain !== undefined) expect(ref.domain).toBe(row.domain);
        if (row.path !== undefined) expect(ref.path).toBe(row.path);
        if (row.normalized !== undefined) expect(referenceString(ref)).toBe(row.normalized);
        if (row.tag !== undefined) expect(ref.tag).toBe(row.tag);
        if (row.digest !== undefined) expect(ref.digest).toBe(row.digest);
        if (row.familiar === undefined) return;
        // TestParseReferenceWithTagAndDigest checks FamiliarString; TestParseRepositoryInfo FamiliarName.
        const familiar = row.test === 'TestParseReferenceWithTagAndDigest' ? familiarString(ref) : familiarName(ref);
        expect(familiar).toBe(row.familiar);
      });
    }
  });

  it('refuses a bare 64-hex name with Go’s message, since it reads as an image ID', () => {
    const input = 'a'.repeat(64);
    const error = expectGoError(() => parseNormalizedNamed(input), {
      error: `invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`,
      input,
    });
    expect(error).toBeInstanceOf(NameIdentifierError);
    expect(error.goError).toBeUndefined();
  });

  it('names the lower-case rule with Go’s ad-hoc message, which has no sentinel', () => {
    const error = expectGoError(() => parseNormalizedNamed('docker/Docker:1'), {
      error: 'invalid reference format: repository name (docker/Docker) must be lowercase',
      input: 'docker/Docker:1',
    });
    expect(error).toBeInstanceOf(NameUppercaseError);
    expect(error.goError).toBeUndefined();
    expect(error.rule).toBe('repository name must be lowercase');
  });

  it('checks case up to the first colon, so an upper-case digest algorithm counts as the name', () => {
    const input = `nginx@SHA256:${'a'.repeat(64)}`;
    expectGoError(() => parseNormalizedNamed(input), {
      error: 'invalid reference format: repository name (library/nginx@SHA256) must be lowercase',
      input,
    });
  });

  it('treats an upper-case first component as a domain, as normalize.go does', () => {
    expect(parseNormalizedNamed('Registry/app')).toMatchObject({ domain: 'Registry', path: 'app' });
  });

  it('keeps a bare host:port on Docker Hub, reading the port as a tag', () => {
    expect(parseNormalizedNamed('localhost:5000')).toMatchObject({ name: 'docker.io/library/localhost', tag: '5000' });
  });

  it('keeps a bare localhost on Docker Hub (the FIXME in splitDockerDomain)', () => {
    expect(parseNormalizedNamed('localhost').name).toBe('docker.io/library/localhost');
  });

  it('maps index.docker.io to docker.io and adds library/ to one component', () => {
    expect(parseNormalizedNamed('index.docker.io/nginx:1').name).toBe('docker.io/library/nginx');
  });

  it('reports an error against the input as written, not the normalised text', () => {
    const error = expectGoError(() => parseNormalizedNamed('-docker'), { errorId: 'ErrReferenceInvalidFormat', input: '-docker' });
    expect(error.input).toBe('-docker');
  });

  it('applies the 255 limit to the path after library/ is added', () => {
    expect(parseNormalizedNamed('a'.repeat(247)).path).toHaveLength(255);
    expectGoError(() => parseNormalizedNamed('a'.repeat(248)), { errorId: 'ErrNameTooLong', input: 'a'.repeat(248) });
  });
});

describe('parseAnyReference', () => {
  describe('conformance', () => {
    for (const [index, row] of rowsOf('ParseAnyReference')) {
      it(rowName(index, row.input), () => {
        expect(row.valid).toBe(true);
        const ref = parseAnyReference(row.input);
        expect(referenceString(ref)).toBe(row.normalized);
        if (row.domain === undefined) {
          // A digest-only reference: not Named.
          expect(ref).toEqual({ kind: 'digest', digest: row.digest });
          return;
        }
        expect(ref).toEqual(parseReference(row.normalized ?? ''));
        expect(ref).toMatchObject({ domain: row.domain, path: row.path, tag: row.tag, digest: row.digest });
      });
    }
  });

  it('reads a sha512 digest as a digest reference', () => {
    expect(parseAnyReference(`sha512:${'0'.repeat(128)}`)).toEqual({ kind: 'digest', digest: `sha512:${'0'.repeat(128)}` });
  });

  it('reads an upper-case 64-hex string as a name, which then breaks the lower-case rule', () => {
    expect(thrownBy(() => parseAnyReference('A'.repeat(64)))).toBeInstanceOf(NameUppercaseError);
  });
});

describe('parseDockerRef', () => {
  describe('conformance', () => {
    for (const [index, row] of rowsOf('ParseDockerRef')) {
      it(rowName(index, row.input, ` (${String(row.case)})`), () => {
        const normalized = referenceString(parseDockerRef(row.input));
        expect(normalized).toBe(row.normalized);
        expect(() => parseReference(normalized)).not.toThrow();
      });
    }
  });

  it('keeps the digest and drops the tag when both are written', () => {
    expect(parseDockerRef(`nginx:1@${sha('b'.repeat(64))}`)).toMatchObject({ tag: undefined, digest: sha('b'.repeat(64)) });
  });
});

describe('parseNamed', () => {
  describe('conformance: TestParseNamed', () => {
    for (const [index, row] of vectors.extra.parseNamed.entries()) {
      it(rowName(index, row.input), () => {
        if (!row.valid) {
          expectGoError(() => parseNamed(row.input), row);
          return;
        }
        expect(parseNamed(row.input)).toMatchObject({ domain: row.domain, path: row.path });
      });
    }
  });

  it('accepts a canonical reference with tag and digest', () => {
    const input = `quay.io/org/app:1@${sha('c'.repeat(64))}`;
    expect(referenceString(parseNamed(input))).toBe(input);
  });
});

describe('tagNameOnly', () => {
  it('adds latest to a bare name', () => {
    expect(tagNameOnly(parseNormalizedNamed('nginx')).tag).toBe('latest');
  });

  it('leaves a digested name without a tag', () => {
    const ref = parseNormalizedNamed(`nginx@${sha('d'.repeat(64))}`);
    expect(tagNameOnly(ref)).toBe(ref);
  });
});

describe('familiarName', () => {
  it('keeps library/ when more than one component follows it', () => {
    expect(familiarName(parseNormalizedNamed('library/foo/bar'))).toBe('library/foo/bar');
  });

  it('familiarises a reference parsed without normalisation too', () => {
    expect(familiarName(parseReference('docker.io/library/nginx'))).toBe('nginx');
  });

  it('leaves other registries alone', () => {
    expect(familiarName(parseNormalizedNamed('quay.io/library/nginx'))).toBe('quay.io/library/nginx');
  });
});

describe('familiarString', () => {
  it('shortens the name and keeps tag and digest', () => {
    const digest = sha('e'.repeat(64));
    expect(familiarString(parseNormalizedNamed(`docker.io/library/nginx:1@${digest}`))).toBe(`nginx:1@${digest}`);
  });

  it('returns a digest reference as it is', () => {
    const digest = sha('f'.repeat(64));
    expect(familiarString(parseAnyReference(digest))).toBe(digest);
  });
});
