import { describe, expect, it } from 'vitest';
import { parseReference, referenceProblem } from '../../src/reference/parse.js';
import type { NamedReference } from '../../src/reference/reference.js';
import { expectRuleError, written } from './support.js';
import { rowName, vectors, type Row } from './vectors.js';

/**
 * The one row whose Go expectation comes from Go's test binary rather than the
 * grammar: distribution/reference's tests do not link crypto/sha512, so go-digest
 * reports sha512 as unsupported there. This project registers sha512 (as any
 * binary importing crypto/sha512 does), so the row is run against acceptance.
 */
const SHA512_ROW = `validname@sha512:${'f'.repeat(128)}`;

/** Go's `reference.Parse`: the text as written is what errors name. */
const parse = (input: string): NamedReference => parseReference(input, input);

/** What Go's TestReferenceParse asserts of a valid row. */
function expectParsed(ref: NamedReference, row: Row): void {
  expect(written(ref)).toBe(row.input);
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
          expectParsed(parse(row.input), { ...row, name: 'validname', path: 'validname', digest: row.input.slice('validname@'.length) });
        });
        continue;
      }
      it(rowName(index, row.input, row.valid ? '' : ` is rejected with ${row.code ?? '?'}`), () => {
        if (row.valid) expectParsed(parse(row.input), row);
        else expectRuleError(() => parse(row.input), { code: row.code, input: row.input });
      });
    }
  });

  describe('conformance: TestSerialization (Field.UnmarshalText is Parse)', () => {
    for (const [index, row] of vectors.extra.serialization.entries()) {
      it(rowName(index, row.input, ` (${row.description})`), () => {
        if (!row.valid) {
          expectRuleError(() => parse(row.input), { code: row.code, input: row.input });
          return;
        }
        const ref = parse(row.input);
        expect(ref.name).toBe(row.name);
        expect(ref.tag).toBe(row.tag);
        expect(ref.digest).toBe(row.digest);
        // Re-marshalling yields the same JSON.
        expect(JSON.stringify({ Field: written(ref) })).toBe(JSON.stringify({ Field: row.input }));
      });
    }
  });

  it('keeps the domain empty for a single component, since Parse does not normalise', () => {
    expect(parse('nginx:1.27')).toMatchObject({ domain: '', path: 'nginx', name: 'nginx', tag: '1.27' });
  });

  it('reads the first component as the domain whenever a second follows', () => {
    expect(parse('library/nginx')).toMatchObject({ domain: 'library', path: 'nginx' });
  });

  it('names the input the caller wrote, not the text it parsed', () => {
    expectRuleError(() => parseReference('docker.io/library/-x', '-x'), { code: 'DP_ERR_NAME_FORMAT', input: '-x' });
  });

  it('accepts a 255-character path under a long domain (the limit is on the path)', () => {
    const domain = `${'d'.repeat(60)}.example.com`;
    const ref = parse(`${domain}/${'p'.repeat(255)}`);
    expect(ref.path).toHaveLength(255);
    expect(ref.domain).toBe(domain);
  });

  it('rejects a 256-character path, saying how long it is', () => {
    const input = `quay.io/${'p'.repeat(256)}`;
    expect(expectRuleError(() => parse(input), { code: 'DP_ERR_NAME_TOO_LONG', input }).rule).toBe('its repository path has 256 characters, more than 255');
  });

  it('accepts a 128-character tag and rejects 129', () => {
    expect(parse(`app:${'t'.repeat(128)}`).tag).toHaveLength(128);
    expectRuleError(() => parse(`app:${'t'.repeat(129)}`), { code: 'DP_ERR_TAG_FORMAT', input: `app:${'t'.repeat(129)}` });
  });

  it('rejects a digest in upper-case hex, saying so', () => {
    const input = `app@sha256:${'F'.repeat(64)}`;
    const error = expectRuleError(() => parse(input), { code: 'DP_ERR_DIGEST_FORMAT', input });
    expect(error.rule).toBe(`digest "sha256:${'F'.repeat(64)}" must have only lower-case hex digits after "sha256:"`);
  });
});

describe('referenceProblem', () => {
  // What is wrong, as the message says it: the part at fault, not "invalid reference format".
  const cases: readonly [string, string, string | RegExp][] = [
    ['Bad Image', 'DP_ERR_REFERENCE_CHARACTER', 'the character " " (U+0020) is not allowed in an image reference'],
    [' nginx', 'DP_ERR_REFERENCE_CHARACTER', 'the character " " (U+0020) is not allowed in an image reference'],
    ['nginx\n', 'DP_ERR_REFERENCE_CHARACTER', 'the character "\\n" (U+000A) is not allowed in an image reference'],
    ['nginx:1.0 ', 'DP_ERR_REFERENCE_CHARACTER', 'the character " " (U+0020) is not allowed in an image reference'],
    ['ngïnx', 'DP_ERR_REFERENCE_CHARACTER', 'the character "ï" (U+00EF) is not allowed in an image reference'],
    ['https://ghcr.io/o/a:1', 'DP_ERR_REFERENCE_SCHEME', 'an image reference has no URL scheme: leave out "https://"'],
    ['', 'DP_ERR_NAME_EMPTY', 'it is empty'],
    [':1', 'DP_ERR_NAME_EMPTY', 'it has no repository name'],
    ['Nginx:1', 'DP_ERR_NAME_UPPERCASE', 'repository name "Nginx" must be lowercase (only the registry host may have upper case)'],
    ['Quay.io/Org/app', 'DP_ERR_NAME_UPPERCASE', 'repository name "Quay.io/Org/app" must be lowercase (only the registry host may have upper case)'],
    ['a//b', 'DP_ERR_NAME_FORMAT', /^repository name "a\/\/b" is not \[host\[:port\]\/\]path/],
    ['nginx:-1', 'DP_ERR_TAG_FORMAT', 'tag "-1" must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"'],
    ['localhost:5000/app:', 'DP_ERR_TAG_FORMAT', 'tag "" must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"'],
    ['nginx@sha256:abc', 'DP_ERR_DIGEST_FORMAT', 'digest "sha256:abc" has 3 hex digits after "sha256:"; sha256 has 64'],
    ['nginx@latest', 'DP_ERR_DIGEST_FORMAT', /^digest "latest" has no algorithm/],
  ];
  for (const [input, code, rule] of cases) {
    it(`says what is wrong with ${JSON.stringify(input)}: ${code}`, () => {
      const problem = referenceProblem(input);
      expect(problem.code).toBe(code);
      if (typeof rule === 'string') expect(problem.rule).toBe(rule);
      else expect(problem.rule).toMatch(rule);
      expect(problem.input).toBe(input);
    });
  }

  it('reads a colon before the last slash or bracket as a port or an IPv6 address, not a tag', () => {
    expect(referenceProblem('[::1]:5000/-app').code).toBe('DP_ERR_NAME_FORMAT');
    expect(referenceProblem('host:5000/App').code).toBe('DP_ERR_NAME_UPPERCASE');
  });

  it('finds the first problem from the left', () => {
    expect(referenceProblem('Nginx:-1@sha256:abc').code).toBe('DP_ERR_NAME_UPPERCASE');
    expect(referenceProblem('nginx:-1@sha256:abc').code).toBe('DP_ERR_TAG_FORMAT');
  });
});
