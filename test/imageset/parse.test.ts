import { describe, expect, it } from 'vitest';
import { parseEntry, parseImageSet } from '../../src/imageset/parse.js';

const A = `sha256:${'a'.repeat(64)}`;

describe('parseEntry', () => {
  it.each([
    ['quay.io/tigera/operator:v1.36.0', 'quay.io/tigera/operator', 'tigera/operator', 'v1.36.0'],
    ['docker.io/calico/node:v3', 'docker.io/calico/node', 'calico/node', 'v3'],
    ['localhost/app:1', 'localhost/app', 'app', '1'],
    ['localhost:5000/app:1', 'localhost:5000/app', 'app', '1'],
    ['127.0.0.1:1/airgap/app:v1', '127.0.0.1:1/airgap/app', 'airgap/app', 'v1'],
  ])('%s names its registry', (image, name, path, tag) => {
    expect(parseEntry({ image, digest: A }, false)).toEqual({ image, digest: A, name, path, tag });
  });

  it.each([
    ['calico/node:v3.28.0', 'calico/node', 'v3.28.0'],
    ['nginx:1.27', 'nginx', '1.27'],
    ['library/nginx:1.27', 'library/nginx', '1.27'],
    ['a/b/c:x', 'a/b/c', 'x'],
  ])('%s is registry-less', (image, path, tag) => {
    expect(parseEntry({ image, digest: A }, false)).toEqual({ image, digest: A, name: undefined, path, tag });
  });

  it('takes a tag-less image only with anyTag', () => {
    expect(parseEntry({ image: 'calico/node', digest: A }, false)).toEqual({ image: 'calico/node', reason: expect.stringContaining('set spec.anyTag: true') as string });
    expect(parseEntry({ image: 'calico/node', digest: A }, true)).toEqual({ image: 'calico/node', digest: A, name: undefined, path: 'calico/node', tag: undefined });
    expect(parseEntry({ image: 'localhost:5000/app', digest: A }, true)).toMatchObject({ name: 'localhost:5000/app', tag: undefined });
  });

  it.each([
    [{ image: 'calico/node:v1', digest: 'sha256:abc' }, /not a valid digest/],
    [{ image: 'calico/node:v1' }, /not a valid digest/],
    [{ digest: A }, /no image/],
    [{ image: 'Calico/Node:v1', digest: A }, /./],
    [{ image: `calico/node:v1@${A}`, digest: A }, /carries a digest/],
    ['calico/node:v1', /not an object/],
  ])('rejects %j', (item, reason) => {
    const parsed = parseEntry(item, false);
    expect(parsed).toHaveProperty('reason');
    expect((parsed as { reason: string }).reason).toMatch(reason);
  });
});

describe('parseImageSet', () => {
  it('reads name, generation, anyTag, usable and ignored entries', () => {
    const parsed = parseImageSet({
      metadata: { name: 'calico', generation: 4 },
      spec: { anyTag: true, images: [{ image: 'calico/node', digest: A }, { image: 'bad image', digest: A }] },
    });
    expect(parsed.name).toBe('calico');
    expect(parsed.generation).toBe(4);
    expect(parsed.anyTag).toBe(true);
    expect(parsed.entries.map((entry) => entry.image)).toEqual(['calico/node']);
    expect(parsed.invalid.map((entry) => entry.image)).toEqual(['bad image']);
  });

  it('never throws on a malformed object', () => {
    for (const object of [null, 'x', {}, { spec: null }, { spec: { images: 'x' } }, { metadata: [], spec: { images: [null] } }]) {
      expect(() => parseImageSet(object)).not.toThrow();
    }
  });
});
