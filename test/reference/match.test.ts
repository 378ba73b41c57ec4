import { describe, expect, it } from 'vitest';
import { familiarMatch, parseAnyReference, parseNormalizedNamed, PatternSyntaxError, pathMatch } from '../../src/reference/index.js';
import { expectGoError } from './support.js';
import { rowName, vectors } from './vectors.js';

/** Go's own table for path.Match (src/path/match_test.go); `undefined` is ErrBadPattern. */
const GO_PATH_MATCH: readonly [string, string, boolean | undefined][] = [
  ['abc', 'abc', true],
  ['*', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'abc', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[^b-d]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'ab', false],
  ['a?b', 'a☺b', true],
  ['a[^a]b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['a[^a][^a][^a]b', 'a☺b', false],
  ['[a-ζ]*', 'α', true],
  ['*[a-ζ]', 'A', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['[x\\-]', 'x', true],
  ['[x\\-]', '-', true],
  ['[x\\-]', 'z', false],
  ['[\\-x]', 'x', true],
  ['[\\-x]', '-', true],
  ['[\\-x]', 'a', false],
  ['[]a]', ']', undefined],
  ['[-]', '-', undefined],
  ['[x-]', 'x', undefined],
  ['[x-]', '-', undefined],
  ['[x-]', 'z', undefined],
  ['[-x]', 'x', undefined],
  ['[-x]', '-', undefined],
  ['[-x]', 'a', undefined],
  ['\\', 'a', undefined],
  ['[a-b-c]', 'a', undefined],
  ['[', 'a', undefined],
  ['[^', 'a', undefined],
  ['[^bc', 'a', undefined],
  ['a[', 'a', undefined],
  ['a[', 'ab', undefined],
  ['a[', 'x', undefined],
  ['a/b[', 'x', undefined],
  ['*x', 'xxx', true],
];

describe('familiarMatch', () => {
  describe('conformance: TestMatch and TestMatchError', () => {
    for (const [index, row] of vectors.extra.familiarMatch.entries()) {
      it(rowName(index, row.pattern, ` against ${row.reference}`), () => {
        const ref = parseNormalizedNamed(row.reference);
        if (row.error === true) {
          expectGoError(() => familiarMatch(row.pattern, ref), { errorId: 'path.ErrBadPattern', input: row.pattern });
          return;
        }
        expect(familiarMatch(row.pattern, ref)).toBe(row.expected);
      });
    }
  });

  it('matches a digest reference against its digest', () => {
    expect(familiarMatch('sha256:*', parseAnyReference(`sha256:${'a'.repeat(64)}`))).toBe(true);
  });

  it('does not match the normalised form, only the familiar one', () => {
    expect(familiarMatch('docker.io/library/*', parseNormalizedNamed('nginx'))).toBe(false);
  });
});

describe('pathMatch', () => {
  for (const [pattern, name, expected] of GO_PATH_MATCH) {
    const label = `${JSON.stringify(pattern)} against ${JSON.stringify(name)}`;
    if (expected === undefined) {
      it(`${label} is a syntax error`, () => {
        const error = expectGoError(() => pathMatch(pattern, name), { error: 'syntax error in pattern', input: pattern });
        expect(error).toBeInstanceOf(PatternSyntaxError);
      });
    } else {
      it(`${label} is ${String(expected)}`, () => {
        expect(pathMatch(pattern, name)).toBe(expected);
      });
    }
  }

  it('matches a skip glob against a normalised reference with a tag', () => {
    expect(pathMatch('docker.io/istio/*', 'docker.io/istio/proxyv2:1.22')).toBe(true);
    expect(pathMatch('docker.io/istio/*', 'docker.io/istio/sub/proxyv2:1.22')).toBe(false);
  });

  it('reports a malformed pattern even when an earlier part already failed', () => {
    expect(() => pathMatch('x*[', 'abc')).toThrow(PatternSyntaxError);
  });

  it('quotes the whole pattern, not the part that was malformed', () => {
    expectGoError(() => pathMatch('docker.io/*/[', 'x'), { error: 'syntax error in pattern', input: 'docker.io/*/[' });
  });
});
