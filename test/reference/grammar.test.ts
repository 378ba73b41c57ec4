import { describe, expect, it } from 'vitest';
import {
  ANCHORED_DOMAIN,
  ANCHORED_IDENTIFIER,
  ANCHORED_NAME,
  ANCHORED_TAG,
  REFERENCE,
  REPOSITORY_NAME_TOTAL_LENGTH_MAX,
} from '../../src/reference/grammar.js';
import { rowName, vectors, type RegexpRow } from './vectors.js';

/**
 * Go's checkRegexp: a match covers the whole input, has one group per
 * sub-expression, and each expected submatch equals Go's (an unmatched group is "").
 */
function checkRegexp(regexp: RegExp, groups: number, row: RegexpRow): void {
  const match = regexp.exec(row.input);
  if (!row.match) {
    expect(match).toBeNull();
    return;
  }
  expect(match).not.toBeNull();
  expect(match?.length).toBe(groups + 1);
  expect(match?.[0]).toBe(row.input);
  for (const [index, sub] of (row.subs ?? []).entries()) expect(match?.[index + 1] ?? '').toBe(sub);
}

describe('ANCHORED_DOMAIN', () => {
  describe('conformance: TestDomainRegexp', () => {
    for (const [index, row] of vectors.extra.regexp.domainAndPort.entries()) {
      it(rowName(index, row.input, row.match ? ' matches' : ' does not match'), () => {
        expect(ANCHORED_DOMAIN.test(row.input)).toBe(row.match);
      });
    }
  });
});

describe('ANCHORED_NAME', () => {
  describe('conformance: TestFullNameRegexp', () => {
    for (const [index, row] of vectors.extra.regexp.anchoredName.entries()) {
      it(rowName(index, row.input, row.match ? ' matches' : ' does not match'), () => {
        checkRegexp(ANCHORED_NAME, 2, row);
      });
    }
  });

  it('names its groups domain and path', () => {
    expect(ANCHORED_NAME.exec('quay.io/org/app')?.groups).toEqual({ domain: 'quay.io', path: 'org/app' });
  });
});

describe('REFERENCE', () => {
  describe('conformance: TestReferenceRegexp', () => {
    for (const [index, row] of vectors.extra.regexp.reference.entries()) {
      it(rowName(index, row.input, row.match ? ' matches' : ' does not match'), () => {
        checkRegexp(REFERENCE, 3, row);
      });
    }
  });

  it('names its groups name, tag and digest', () => {
    expect(REFERENCE.exec('app:1')?.groups).toEqual({ name: 'app', tag: '1', digest: undefined });
  });

  // Each adversarial input is 100 000 characters and fails at its very end.
  const adversarial: readonly [string, string][] = [
    ['one long component', `${'a'.repeat(100_000)}!`],
    ['dash separators', `${'a-'.repeat(50_000)}!`],
    ['a dash run', `a${'-'.repeat(100_000)}!`],
    ['dotted labels', `${'a.'.repeat(50_000)}!`],
    ['path components', `${'a/'.repeat(50_000)}!`],
    ['a bracket of colons', `[${':'.repeat(100_000)}!`],
    ['a long digest', `a@sha256:${'f'.repeat(100_000)}!`],
  ];
  for (const [label, input] of adversarial) {
    it(`rejects ${label} in linear time`, () => {
      // CPU time, not wall time: a busy machine delays the test but does not make it use more CPU.
      const started = process.cpuUsage();
      expect(REFERENCE.test(input)).toBe(false);
      expect(ANCHORED_NAME.test(input)).toBe(false);
      const used = process.cpuUsage(started);
      // Backtracking would take far longer than any machine's linear scan of these inputs.
      expect((used.user + used.system) / 1000).toBeLessThan(500);
    });
  }
});

describe('ANCHORED_IDENTIFIER', () => {
  describe('conformance: TestIdentifierRegexp', () => {
    for (const [index, row] of vectors.extra.regexp.identifier.entries()) {
      it(rowName(index, row.input, row.match ? ' matches' : ' does not match'), () => {
        expect(ANCHORED_IDENTIFIER.test(row.input)).toBe(row.match);
      });
    }
  });
});

describe('ANCHORED_TAG', () => {
  it('allows a word character first, then dots and dashes', () => {
    expect(ANCHORED_TAG.test('v1.2-rc_3')).toBe(true);
    expect(ANCHORED_TAG.test('.v1')).toBe(false);
    expect(ANCHORED_TAG.test('-v1')).toBe(false);
  });

  it('is ASCII-only, as Go’s \\w is', () => {
    expect(ANCHORED_TAG.test('é')).toBe(false);
  });
});

describe('REPOSITORY_NAME_TOTAL_LENGTH_MAX', () => {
  it('is 255, as in Go', () => {
    expect(REPOSITORY_NAME_TOTAL_LENGTH_MAX).toBe(255);
  });
});
