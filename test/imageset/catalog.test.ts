import { describe, expect, it } from 'vitest';
import { ImageSetCatalog } from '../../src/imageset/catalog.js';
import { parseImageSet } from '../../src/imageset/parse.js';
import { parseImage } from '../../src/reference/index.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `sha256:${'c'.repeat(64)}`;
const D = `sha256:${'d'.repeat(64)}`;

function imageSet(name: string, images: { image: string; digest: string }[], anyTag = false) {
  return parseImageSet({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'ImageSet', metadata: { name, generation: 1 }, spec: { anyTag, images } });
}

function lookup(catalog: ImageSetCatalog, image: string) {
  return catalog.lookup(parseImage(image));
}

describe('ImageSetCatalog.lookup', () => {
  const catalog = ImageSetCatalog.of([
    imageSet('tigera', [{ image: 'quay.io/tigera/operator:v1.36.0', digest: A }]),
    imageSet('calico', [{ image: 'calico/node:v3.28.0', digest: B }, { image: 'nginx:1.27', digest: C }]),
  ]);

  it('matches an entry that names its registry on that registry only', () => {
    expect(lookup(catalog, 'quay.io/tigera/operator:v1.36.0')).toEqual({ kind: 'hit', digest: A, imageSet: 'tigera', entry: 'quay.io/tigera/operator:v1.36.0' });
    expect(lookup(catalog, 'mirror.internal/tigera/operator:v1.36.0')).toBeUndefined();
    expect(lookup(catalog, 'tigera/operator:v1.36.0')).toBeUndefined();
  });

  it('matches a registry-less entry on Docker Hub and on any other registry or mirror with that path', () => {
    for (const image of ['calico/node:v3.28.0', 'docker.io/calico/node:v3.28.0', 'index.docker.io/calico/node:v3.28.0', 'quay.io/calico/node:v3.28.0', 'mirror.internal:5000/calico/node:v3.28.0']) {
      expect(lookup(catalog, image), image).toMatchObject({ kind: 'hit', digest: B, imageSet: 'calico' });
    }
  });

  it('does not match another path, a path with a prefix, or another tag', () => {
    expect(lookup(catalog, 'mirror.internal/dockerhub/calico/node:v3.28.0')).toBeUndefined();
    expect(lookup(catalog, 'calico/node-extra:v3.28.0')).toBeUndefined();
    expect(lookup(catalog, 'calico/node:v3.28.1')).toBeUndefined();
    expect(lookup(catalog, 'calico/node')).toBeUndefined();
  });

  it("matches a one-part registry-less entry on Docker Hub's official image and that path elsewhere", () => {
    expect(lookup(catalog, 'nginx:1.27')).toMatchObject({ digest: C });
    expect(lookup(catalog, 'docker.io/library/nginx:1.27')).toMatchObject({ digest: C });
    expect(lookup(catalog, 'registry.internal/nginx:1.27')).toMatchObject({ digest: C });
    expect(lookup(catalog, 'registry.internal/library/nginx:1.27')).toBeUndefined();
  });

  it('looks up an image without a tag as :latest', () => {
    const latest = ImageSetCatalog.of([imageSet('l', [{ image: 'registry.internal/app:latest', digest: A }])]);
    expect(lookup(latest, 'registry.internal/app')).toMatchObject({ digest: A });
  });

  it('prefers a tagged entry to an anyTag entry, and an entry naming the registry to a registry-less one', () => {
    const layered = ImageSetCatalog.of([
      imageSet('any-registryless', [{ image: 'calico/node', digest: A }], true),
      imageSet('tagged-registryless', [{ image: 'calico/node:v1', digest: B }]),
      imageSet('any-quay', [{ image: 'quay.io/calico/node', digest: C }], true),
      imageSet('tagged-quay', [{ image: 'quay.io/calico/node:v1', digest: D }]),
    ]);
    expect(lookup(layered, 'quay.io/calico/node:v1')).toMatchObject({ digest: D, imageSet: 'tagged-quay' });
    expect(lookup(layered, 'quay.io/calico/node:v2')).toMatchObject({ digest: C, imageSet: 'any-quay' });
    expect(lookup(layered, 'calico/node:v1')).toMatchObject({ digest: B, imageSet: 'tagged-registryless' });
    expect(lookup(layered, 'calico/node:v2')).toMatchObject({ digest: A, imageSet: 'any-registryless' });
  });

  it('agrees with itself when two ImageSets list one image with one digest, naming the first by name', () => {
    const agreeing = ImageSetCatalog.of([imageSet('zeta', [{ image: 'calico/node:v1', digest: A }]), imageSet('alpha', [{ image: 'docker.io/calico/node:v1', digest: B }]), imageSet('beta', [{ image: 'calico/node:v1', digest: A }])]);
    expect(lookup(agreeing, 'quay.io/calico/node:v1')).toMatchObject({ kind: 'hit', digest: A, imageSet: 'beta' });
    expect(agreeing.conflicts()).toEqual([]);
  });
});

describe('ImageSetCatalog conflicts', () => {
  const catalog = ImageSetCatalog.of([
    imageSet('b-release', [{ image: 'calico/node:v3.28.0', digest: B }, { image: 'calico/cni:v3.28.0', digest: C }]),
    imageSet('a-release', [{ image: 'calico/node:v3.28.0', digest: A }, { image: 'calico/cni:v3.28.0', digest: C }]),
    imageSet('self', [{ image: 'registry.internal/app:v1', digest: A }, { image: 'registry.internal/app:v1', digest: D }]),
  ]);

  it('gives no digest for an image the ImageSets disagree on, whichever name sorts first', () => {
    expect(lookup(catalog, 'calico/node:v3.28.0')).toEqual({
      kind: 'conflict',
      conflict: { image: 'calico/node:v3.28.0', imageSets: ['a-release', 'b-release'], digests: [A, B] },
    });
    expect(lookup(catalog, 'calico/cni:v3.28.0')).toMatchObject({ kind: 'hit', digest: C });
  });

  it('finds conflicts inside one ImageSet too', () => {
    expect(lookup(catalog, 'registry.internal/app:v1')).toEqual({
      kind: 'conflict',
      conflict: { image: 'registry.internal/app:v1', imageSets: ['self'], digests: [A, D] },
    });
  });

  it('lists every conflict, sorted, and those of each ImageSet', () => {
    expect(catalog.conflicts().map((conflict) => conflict.image)).toEqual(['calico/node:v3.28.0', 'registry.internal/app:v1']);
    expect(catalog.conflictsOf('b-release').map((conflict) => conflict.image)).toEqual(['calico/node:v3.28.0']);
    expect(catalog.conflictsOf('nobody')).toEqual([]);
  });

  it('does not count a registry-less entry and one naming the registry as a conflict: the specific one wins', () => {
    const mixed = ImageSetCatalog.of([imageSet('x', [{ image: 'calico/node:v1', digest: A }]), imageSet('y', [{ image: 'docker.io/calico/node:v1', digest: B }])]);
    expect(mixed.conflicts()).toEqual([]);
    expect(lookup(mixed, 'calico/node:v1')).toMatchObject({ digest: B, imageSet: 'y' });
    expect(lookup(mixed, 'quay.io/calico/node:v1')).toMatchObject({ digest: A, imageSet: 'x' });
  });
});

describe('ImageSetCatalog.empty', () => {
  it('answers nothing', () => {
    expect(lookup(ImageSetCatalog.empty(), 'nginx:1.27')).toBeUndefined();
    expect(ImageSetCatalog.empty().entryCount).toBe(0);
  });
});
