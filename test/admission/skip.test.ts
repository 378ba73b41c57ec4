import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidSkipListError, MAX_SKIP_PATTERNS, parseSkipPatterns, SKIP_LIST_VARIABLE, skipList, skipListLiteral } from '../../src/admission/index.js';
import { skipGlobMatches, trimSpace } from '../../src/admission/skip.js';
import { compileGlob } from '../../src/glob.js';
import { parseImage } from '../../src/reference/index.js';
import { MANIFESTS_DIR, readOne } from '../manifests/load.js';
import { SKIP_TABLE } from './skip-table.js';

/**
 * The strict policy's `skipRegexes` as rendered into manifests/. skip.ts implements
 * exactly this; when the CEL changes, this test fails until skip.ts (and CEL_REGEX below) follow.
 */
const CEL_SKIP_REGEXES = `variables.skipList.split('\\n')
  .map(p, p.trim())
  .filter(p, p.matches('^[a-zA-Z0-9._/:@*?-]+$'))
  .map(p, '^' + p.replace('.', '\\\\.').replace('**', '#').replace('*', '[^/]*').replace('#', '.*').replace('?', '[^/]')
      + '(:[^/:]*)?$')`;

/** The regular expression the CEL above builds from a kept line, with JavaScript's replaceAll for CEL's replace. */
function celRegex(pattern: string): RegExp {
  const source = pattern.replaceAll('.', '\\.').replaceAll('**', '#').replaceAll('*', '[^/]*').replaceAll('#', '.*').replaceAll('?', '[^/]');
  return new RegExp(`^${source}(:[^/:]*)?$`, 'u');
}

describe('the strict policy', () => {
  const policy = readOne(join(MANIFESTS_DIR, 'validatingadmissionpolicy.yaml')) as { spec: { variables: { name: string; expression: string }[] } };
  const expression = (name: string): string | undefined => policy.spec.variables.find((variable) => variable.name === name)?.expression;

  it('builds its skip list with the CEL skip.ts implements', () => {
    expect(expression('skipRegexes')).toBe(CEL_SKIP_REGEXES);
  });

  it(`holds the list in its variable ${SKIP_LIST_VARIABLE}, a raw string literal the webhook reads`, () => {
    expect(skipListLiteral(expression(SKIP_LIST_VARIABLE) ?? '')).toBe('\n# none: every image in a strict namespace must be pinned\n');
  });
});

describe('skipListLiteral', () => {
  it("reads the characters of r''' … ''' as CEL takes them, newlines, backslashes and quotes included", () => {
    expect(skipListLiteral("r'''\ndocker.io/istio/*\r\n\\n'x\"\n'''")).toBe("\ndocker.io/istio/*\r\n\\n'x\"\n");
    expect(skipListLiteral("  R''''''\n")).toBe('');
  });

  it.each([
    ["'''docker.io/istio/*'''", 'a string with escapes (no r)'],
    ["r'docker.io/istio/*'", 'single quotes'],
    ["r'''a''' + r'''b'''", 'an expression around literals'],
    ["r'''a''''", "three quotes inside the text"],
    ["\u00a0r'''a'''", "a space CEL does not take for one"],
    ['', 'nothing'],
  ])('takes no other expression: %j (%s)', (expression) => {
    expect(skipListLiteral(expression)).toBeUndefined();
  });
});

describe('parseSkipPatterns', () => {
  it('keeps trimmed lines of pattern characters, and names every other non-blank line with its reason', () => {
    const text = '# Istio\n  docker.io/istio/*  \n\n\t\nquay.io/app # ours\r\nghcr.io/x/[ab]\nregistry.example.com/team/**\r\n';
    expect(parseSkipPatterns(text)).toEqual({
      patterns: ['docker.io/istio/*', 'registry.example.com/team/**'],
      ignored: [
        { line: 1, text: '# Istio', reason: 'comment' },
        { line: 5, text: 'quay.io/app # ours', reason: 'has " "' },
        { line: 6, text: 'ghcr.io/x/[ab]', reason: 'has "["' },
      ],
    });
  });

  it('reads an empty text as no pattern', () => {
    expect(parseSkipPatterns('')).toEqual({ patterns: [], ignored: [] });
  });

  it('shortens a long ignored line for the log', () => {
    const [ignored] = parseSkipPatterns(`x ${'y'.repeat(500)}`).ignored;
    expect(ignored?.text).toHaveLength(120);
    expect(ignored?.text.endsWith('…')).toBe(true);
  });
});

describe('trimSpace', () => {
  it("trims what Go's strings.TrimSpace trims", () => {
    for (const space of ['\t', '\n', '\v', '\f', '\r', ' ', '\u0085', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000']) {
      expect(trimSpace(`${space}${space}a b${space}`)).toBe('a b');
    }
  });

  it('keeps U+FEFF and U+180E, which String.prototype.trim would also drop or Go no longer counts', () => {
    expect(trimSpace('\ufeffa\ufeff')).toBe('\ufeffa\ufeff');
    expect(trimSpace('\u180ea')).toBe('\u180ea');
  });
});

describe('skipList', () => {
  it.each(SKIP_TABLE.map((row) => [row.why, row] as const))('%s', (_why, row) => {
    const { patterns } = parseSkipPatterns(row.patterns);
    expect(skipList(patterns).matches(parseImage(row.image))).toBe(row.skipped);
  });

  it('matches a pinned image as the policy would match it unpinned (without its digest)', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const skip = skipList(['docker.io/istio/proxyv2', 'docker.io/library/busybox:1.36']);
    expect(skip.matches(parseImage(`istio/proxyv2:1.20@${digest}`))).toBe(true);
    expect(skip.matches(parseImage(`busybox:1.36@${digest}`))).toBe(true);
    expect(skip.matches(parseImage(`busybox@${digest}`))).toBe(false);
  });

  it('refuses a pattern the policy would ignore, naming it', () => {
    for (const pattern of ['docker.io/x # comment', ' docker.io/x', '', 'ghcr.io/[ab]']) {
      expect(() => skipList([pattern])).toThrow(InvalidSkipListError);
    }
    expect(() => skipList(['quay.io/a b'])).toThrow('skip pattern "quay.io/a b" may only have letters, digits, . _ / : @ - and the wildcards * ?');
  });

  it(`takes up to ${MAX_SKIP_PATTERNS} patterns, and refuses more, saying why`, () => {
    const patterns = Array.from({ length: MAX_SKIP_PATTERNS + 1 }, (_, i) => `registry.example.com/team-${i}/*`);
    expect(skipList(patterns.slice(1)).matches(parseImage(`registry.example.com/team-${MAX_SKIP_PATTERNS}/app:1`))).toBe(true);
    expect(() => skipList(patterns)).toThrow(`the skip list has ${MAX_SKIP_PATTERNS + 1} patterns, more than ${MAX_SKIP_PATTERNS}: the strict policy could exceed its CEL cost limit`);
  });
});

describe('skipGlobMatches', () => {
  const patternCharacter = fc.constantFrom('a', 'b', '.', '/', ':', '-', '@', '*', '*', '?');
  const referenceCharacter = fc.constantFrom('a', 'b', '.', '/', ':', '-', '@', '\u00e9');

  it('answers as the regular expression the policy builds, for any pattern and text', () => {
    fc.assert(
      fc.property(fc.string({ unit: patternCharacter, minLength: 1, maxLength: 10 }), fc.string({ unit: referenceCharacter, maxLength: 14 }), (pattern, text) => {
        expect(skipGlobMatches(compileGlob(pattern), text)).toBe(celRegex(pattern).test(text));
      }),
      { numRuns: 1000 },
    );
  });

});
