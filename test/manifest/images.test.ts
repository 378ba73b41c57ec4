import { describe, expect, it } from 'vitest';
import { findImageScalars } from '../../src/manifest/images.js';
import { parseManifest } from '../../src/manifest/parse.js';

function found(source: string): [string, string, string, number, number, string][] {
  const manifest = parseManifest(source, 'x.yaml');
  return findImageScalars(manifest).map((scalar) => [
    scalar.field.pointer,
    scalar.field.image,
    source.slice(scalar.start, scalar.end),
    scalar.line,
    scalar.column,
    scalar.style,
  ]);
}

describe('findImageScalars', () => {
  it('finds every image field the walker knows, with its source text, position and style, in source order', () => {
    const source = [
      'apiVersion: batch/v1',
      'kind: CronJob',
      'spec:',
      '  jobTemplate:',
      '    spec:',
      '      template:',
      '        spec:',
      '          initContainers: [{name: i, image: "init:1"}]',
      '          containers:',
      "            - name: c # comment",
      "              image: 'main:2' # trailing",
      '          volumes:',
      '            - name: v',
      '              image: {reference: data:3}',
      '',
    ].join('\n');
    const spec = '/spec/jobTemplate/spec/template/spec';
    expect(found(source)).toEqual([
      [`${spec}/initContainers/0/image`, 'init:1', '"init:1"', 8, 45, 'double-quoted'],
      [`${spec}/containers/0/image`, 'main:2', "'main:2'", 11, 22, 'single-quoted'],
      [`${spec}/volumes/0/image/reference`, 'data:3', 'data:3', 14, 34, 'plain'],
    ]);
  });

  it('finds images in every document and in List items, with the object they belong to', () => {
    const source = 'kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x:1}]}\n---\napiVersion: v1\nkind: List\nitems:\n- kind: PodTemplate\n  metadata: {name: t, namespace: n}\n  template: {spec: {ephemeralContainers: [{name: e, image: y:2}]}}\n';
    const scalars = findImageScalars(parseManifest(source, 'x'));
    expect(scalars.map((scalar) => [scalar.documentIndex, scalar.objectPointer, scalar.object.kind, scalar.object.name, scalar.field.pointer])).toEqual([
      [0, '', 'Pod', 'a', '/spec/containers/0/image'],
      [1, '/items/0', 'PodTemplate', 't', '/template/spec/ephemeralContainers/0/image'],
    ]);
  });

  it('leaves alone kinds without a pod spec and CRDs reusing a workload kind name', () => {
    const source = 'apiVersion: example.com/v1\nkind: Database\nspec: {image: x:1}\n---\napiVersion: example.com/v1\nkind: Pod\nspec: {containers: [{name: c, image: x:1}]}\n';
    expect(found(source)).toEqual([]);
  });

  it('finds an image that comes through a << merge key at the anchor it is written in', () => {
    const source = 'kind: Pod\nspec:\n  containers:\n    - &base {name: a, image: x:1}\n    - <<: *base\n      name: b\n';
    expect(found(source).map(([pointer, , text, line]) => [pointer, text, line])).toEqual([
      ['/spec/containers/0/image', 'x:1', 4],
      ['/spec/containers/1/image', 'x:1', 4],
    ]);
  });

  it('reports block scalars as such, and empty images too', () => {
    const source = 'kind: Pod\nspec:\n  containers:\n    - name: a\n      image: |-\n        x:1\n    - name: b\n      image: ""\n';
    expect(found(source).map(([, image, , , , style]) => [image, style])).toEqual([
      ['x:1', 'block'],
      ['', 'double-quoted'],
    ]);
  });
});
