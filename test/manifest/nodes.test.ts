import { describe, expect, it } from 'vitest';
import { scalarAt } from '../../src/manifest/nodes.js';
import { parseManifest } from '../../src/manifest/parse.js';

function textAt(source: string, pointer: string): string | undefined {
  const manifest = parseManifest(source, 'x');
  const document = manifest.documents[0];
  const range = document === undefined ? undefined : scalarAt(document, pointer)?.range;
  return range ? source.slice(range[0], range[1]) : undefined;
}

describe('scalarAt', () => {
  it('finds a scalar in block and flow collections, quotes included', () => {
    const source = 'spec:\n  containers:\n    - name: a\n      image: "x:1"\n    - {name: b, image: \'y:2\'}\n';
    expect(textAt(source, '/spec/containers/0/image')).toBe('"x:1"');
    expect(textAt(source, '/spec/containers/1/image')).toBe("'y:2'");
  });

  it('follows an alias to its anchor', () => {
    const source = 'a: &img x:1\nb: *img\nc: &m {image: y:2}\nd: *m\n';
    expect(textAt(source, '/b')).toBe('x:1');
    expect(textAt(source, '/d/image')).toBe('y:2');
  });

  it('looks into << merge keys: an own key wins, then the first merged map that has it', () => {
    const source = 'one: &one {image: a:1, name: one}\ntwo: &two {image: b:2, tag: t}\nc:\n  <<: [*one, *two]\n  name: own\nd:\n  <<: *two\n  image: own:1\n';
    expect(textAt(source, '/c/image')).toBe('a:1');
    expect(textAt(source, '/c/tag')).toBe('t');
    expect(textAt(source, '/c/name')).toBe('own');
    expect(textAt(source, '/d/image')).toBe('own:1');
  });

  it('is undefined where the pointer leads nowhere or to a collection', () => {
    const source = 'a: [1]\nb: {c: d}\n';
    expect(textAt(source, '/a/1')).toBeUndefined();
    expect(textAt(source, '/a/x')).toBeUndefined();
    expect(textAt(source, '/b')).toBeUndefined();
    expect(textAt(source, '/b/c/d')).toBeUndefined();
  });

  it('unescapes pointer tokens (~1 is /)', () => {
    expect(textAt('metadata:\n  annotations:\n    a.io/b: v\n', '/metadata/annotations/a.io~1b')).toBe('v');
  });
});
