import { describe, expect, it } from 'vitest';
import { ManifestSyntaxError } from '../../src/manifest/errors.js';
import { parseManifest, positionAt } from '../../src/manifest/parse.js';

describe('parseManifest', () => {
  it('parses every document of a stream, empty ones as null', () => {
    const manifest = parseManifest('# header\n---\na: 1\n---\n---\n# only a comment\n---\n[1, 2]\n', 'x.yaml');
    expect(manifest.values).toEqual([{ a: 1 }, null, null, [1, 2]]);
    expect(manifest.documents).toHaveLength(4);
    expect(manifest.file).toBe('x.yaml');
  });

  it('has no documents for an empty input', () => {
    expect(parseManifest('', 'x').values).toEqual([]);
  });

  it('reads JSON', () => {
    expect(parseManifest('{"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "x:1"}]}}', 'p.json').values).toEqual([
      { kind: 'Pod', spec: { containers: [{ name: 'a', image: 'x:1' }] } },
    ]);
  });

  it('applies << merge keys, as go-yaml does for kubectl', () => {
    const manifest = parseManifest('base: &b {image: x:1, name: a}\nc:\n  <<: *b\n  name: c\n', 'x');
    expect(manifest.values[0]).toEqual({ base: { image: 'x:1', name: 'a' }, c: { image: 'x:1', name: 'c' } });
  });

  it.each([
    ['kind: Pod\nspec:\n  containers: [\n', 4, 1],
    ['a: 1\na: 2\n', 2, 1],
    ['a:\n  - b\n  c: d\n', 3, 1],
    ['ok: 1\n---\nx: *nowhere\n', 3, 4],
  ])('names the file, line and column of invalid YAML %j', (source, line, column) => {
    let thrown: unknown;
    try {
      parseManifest(source, 'deploy/app.yaml');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ManifestSyntaxError);
    const error = thrown as ManifestSyntaxError;
    expect({ line: error.line, column: error.column }).toEqual({ line, column });
    expect(error.message).toMatch(new RegExp(`^deploy/app\\.yaml:${line}:${column}: invalid YAML: \\S`));
    expect(error.message).not.toMatch(/at line \d+, column \d+/);
    expect(error.code).toBe('DP_ERR_MANIFEST_SYNTAX');
  });
});

describe('positionAt', () => {
  it('gives 1-based lines and columns, counting CRLF as one line break', () => {
    const manifest = parseManifest('a: 1\r\nb: xyz\r\n', 'x');
    expect(positionAt(manifest, 0)).toEqual({ line: 1, column: 1 });
    expect(positionAt(manifest, 9)).toEqual({ line: 2, column: 4 });
  });
});
