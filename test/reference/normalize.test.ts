import { describe, expect, it } from 'vitest';
import { parseNormalizedNamed } from '../../src/reference/index.js';
import { expectRuleError, written } from './support.js';
import { rowName, vectors } from './vectors.js';

describe('parseNormalizedNamed', () => {
  describe('conformance: the ParseNormalizedNamed rows of normalize_test.go', () => {
    for (const [index, row] of vectors.normalize.entries()) {
      it(rowName(index, row.input, ` (${row.test})${row.valid ? '' : ` is rejected with ${row.code ?? '?'}`}`), () => {
        if (!row.valid) {
          expectRuleError(() => parseNormalizedNamed(row.input), { code: row.code, input: row.input });
          return;
        }
        const ref = parseNormalizedNamed(row.input);
        if (row.domain !== undefined) expect(ref.domain).toBe(row.domain);
        if (row.path !== undefined) expect(ref.path).toBe(row.path);
        if (row.normalized !== undefined) expect(written(ref)).toBe(row.normalized);
        if (row.tag !== undefined) expect(ref.tag).toBe(row.tag);
        if (row.digest !== undefined) expect(ref.digest).toBe(row.digest);
      });
    }
  });

  it('refuses a bare 64-hex name, since it reads as an image ID', () => {
    const input = 'a'.repeat(64);
    const error = expectRuleError(() => parseNormalizedNamed(input), { code: 'DP_ERR_NAME_IDENTIFIER', input });
    expect(error.rule).toBe('a name of 64 hexadecimal characters reads as an image ID, not a repository');
  });

  it('names upper case in the path, quoting the name as written', () => {
    const error = expectRuleError(() => parseNormalizedNamed('docker/Docker:1'), { code: 'DP_ERR_NAME_UPPERCASE', input: 'docker/Docker:1' });
    expect(error.rule).toBe('repository name "docker/Docker" must be lowercase (only the registry host may have upper case)');
  });

  it('blames the space, not upper case, in "Bad Image" (Go says the name must be lowercase)', () => {
    const error = expectRuleError(() => parseNormalizedNamed('Bad Image'), { code: 'DP_ERR_REFERENCE_CHARACTER', input: 'Bad Image' });
    expect(error.rule).toBe('the character " " (U+0020) is not allowed in an image reference');
  });

  it('blames an upper-case digest algorithm on the digest (Go counts it as part of the name)', () => {
    const input = `nginx@SHA256:${'a'.repeat(64)}`;
    expectRuleError(() => parseNormalizedNamed(input), { code: 'DP_ERR_DIGEST_FORMAT', input });
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
    const error = expectRuleError(() => parseNormalizedNamed('-docker'), { code: 'DP_ERR_NAME_FORMAT', input: '-docker' });
    expect(error.rule).toContain('"-docker"');
  });

  it('applies the 255 limit to the path after library/ is added', () => {
    expect(parseNormalizedNamed('a'.repeat(247)).path).toHaveLength(255);
    expectRuleError(() => parseNormalizedNamed('a'.repeat(248)), { code: 'DP_ERR_NAME_TOO_LONG', input: 'a'.repeat(248) });
  });

  /**
   * Every character beyond ASCII that has a case in either direction (Go and ICU
   * disagree on some of them), wherever it stands: in a domain (where upper case
   * makes a component a domain), in the path, in the tag. Case never decides.
   */
  describe('characters beyond ASCII', () => {
    const hasCase = /\p{Changes_When_Casemapped}/u;
    const cased: string[] = [];
    for (let codePoint = 0x80; codePoint <= 0x10ffff; codePoint++) {
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
      const character = String.fromCodePoint(codePoint);
      if (hasCase.test(character)) cased.push(character);
    }

    it('finds the characters it tests', () => {
      expect(cased).toContain('\u0130');
      expect(cased).toContain('\u{10D50}');
    });

    it('rejects each in every position, naming the character', () => {
      const misjudged: string[] = [];
      for (const character of cased) {
        for (const input of [`reg${character}/app`, `team/app${character}`, `app:v${character}`]) {
          try {
            parseNormalizedNamed(input);
            misjudged.push(`${input}: accepted`);
          } catch (error) {
            const code = (error as { code?: string }).code;
            if (code !== 'DP_ERR_REFERENCE_CHARACTER') misjudged.push(`${input}: ${String(code)}`);
          }
        }
      }
      expect(misjudged).toEqual([]);
    });
  });
});
