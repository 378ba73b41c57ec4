import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManifestRewriteError } from '../../src/manifest/errors.js';
import { findImageScalars } from '../../src/manifest/images.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { rewriteImages, rewriteProblem } from '../../src/manifest/rewrite.js';
import { renderScalar, styleOf } from '../../src/manifest/scalar.js';
import { Scalar } from 'yaml';

const DIGEST = `sha256:${'e'.repeat(64)}`;

/** Every image pinned to DIGEST. */
function pinAll(source: string, file = 'x.yaml'): string {
  const manifest = parseManifest(source, file);
  return rewriteImages(
    manifest,
    findImageScalars(manifest).map((scalar) => ({ scalar, value: `${scalar.field.image}@${DIGEST}` })),
  );
}

describe('rewriteImages', () => {
  it('rewrites each image in its own quoting style and nothing else', () => {
    const source = "# top\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: a:1   # plain\n  - name: b\n    image: 'b:2'\n  - name: c\n    image: \"c:3\"\n  - {name: d, image: d:4}\n";
    expect(pinAll(source)).toBe(
      `# top\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: a:1@${DIGEST}   # plain\n  - name: b\n    image: 'b:2@${DIGEST}'\n  - name: c\n    image: "c:3@${DIGEST}"\n  - {name: d, image: d:4@${DIGEST}}\n`,
    );
  });

  it('keeps CRLF line breaks, a byte order mark and a missing final newline', () => {
    const source = '\uFEFFkind: Pod\r\nspec:\r\n  containers:\r\n    - name: a\r\n      image: a:1';
    expect(pinAll(source)).toBe(`\uFEFFkind: Pod\r\nspec:\r\n  containers:\r\n    - name: a\r\n      image: a:1@${DIGEST}`);
  });

  it('keeps JSON valid JSON', () => {
    const source = '{\n  "kind": "Pod",\n  "spec": {"containers": [{"name": "a", "image": "a:1"}]}\n}\n';
    expect(JSON.parse(pinAll(source, 'p.json'))).toEqual({ kind: 'Pod', spec: { containers: [{ name: 'a', image: `a:1@${DIGEST}` }] } });
  });

  it('returns the source itself when there is nothing to replace', () => {
    const source = 'kind: Pod # unchanged\n';
    expect(rewriteImages(parseManifest(source, 'x'), [])).toBe(source);
  });

  it('refuses when an image is an anchor that a field other than an image aliases', () => {
    const source = 'kind: Pod\nspec:\n  containers:\n    - name: a\n      image: &img a:1\n      env: [{name: IMAGE, value: *img}]\n';
    expect(() => pinAll(source)).toThrow(ManifestRewriteError);
    expect(() => pinAll(source)).toThrow(/would also change at \/spec\/containers\/0\/env\/0\/value/);
  });

  it('refuses a block scalar', () => {
    const source = 'kind: Pod\nspec:\n  containers:\n    - name: a\n      image: >-\n        a:1\n';
    const manifest = parseManifest(source, 'x');
    const [scalar] = findImageScalars(manifest);
    expect(scalar && rewriteProblem(scalar)).toMatch(/block scalar/);
    expect(() => pinAll(source)).toThrow(ManifestRewriteError);
  });
});

describe('renderScalar and styleOf', () => {
  it.each([
    ['plain', 'a:1', 'a:1'],
    ['single-quoted', "it's", "'it''s'"],
    ['double-quoted', 'a"b\\', '"a\\"b\\\\"'],
  ] as const)('%s %j → %s', (style, value, text) => {
    expect(renderScalar(style, value)).toBe(text);
  });

  it.each([
    [Scalar.PLAIN, 'plain'],
    [Scalar.QUOTE_SINGLE, 'single-quoted'],
    [Scalar.QUOTE_DOUBLE, 'double-quoted'],
    [Scalar.BLOCK_LITERAL, 'block'],
    [Scalar.BLOCK_FOLDED, 'block'],
    [undefined, 'plain'],
  ] as const)('%s → %s', (type, style) => {
    const scalar = new Scalar('x');
    scalar.type = type;
    expect(styleOf(scalar)).toBe(style);
  });
});

// A Deployment written in many ways; its text is built twice, with old and with pinned images.
const reference = fc
  .tuple(fc.stringMatching(/^[a-z0-9]{1,8}(?:\.[a-z]{2,4}(?::[0-9]{2,5})?)?$/), fc.stringMatching(/^[a-z0-9]{1,6}(?:\/[a-z0-9_-]{1,6}){0,2}$/), fc.option(fc.stringMatching(/^\w[\w.-]{0,9}$/), { nil: undefined }))
  .map(([host, path, tag]) => `${host}/${path}${tag === undefined ? '' : `:${tag}`}`);
const comment = fc.option(fc.stringMatching(/^[ -~]{0,16}$/).map((text) => ` # ${text}`), { nil: '' });
const container = fc.record({
  image: reference,
  style: fc.constantFrom('plain', 'single-quoted', 'double-quoted', 'flow'),
  comment,
  digest: fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`),
});
const layout = fc.record({
  eol: fc.constantFrom('\n', '\r\n'),
  indentSequences: fc.boolean(),
  header: comment,
  containers: fc.array(container, { minLength: 1, maxLength: 5 }),
  trailingDocument: fc.boolean(),
});

type Layout = typeof layout extends fc.Arbitrary<infer T> ? T : never;

function render(shape: Layout, pinned: boolean): string {
  const dash = shape.indentSequences ? '        - ' : '      - ';
  const inner = shape.indentSequences ? '          ' : '        ';
  const lines = [shape.header.trim(), 'apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: web}', 'spec:', '  template:', '    spec:', '      containers:'];
  shape.containers.forEach((c, index) => {
    const value = pinned ? `${c.image}@${c.digest}` : c.image;
    const text = renderScalar(c.style === 'flow' ? 'plain' : c.style, value);
    if (c.style === 'flow') lines.push(`${dash}{name: c${index}, image: ${text}}${c.comment}`);
    else lines.push(`${dash}name: c${index}${c.comment}`, `${inner}image: ${text}${c.comment}`);
  });
  if (shape.trailingDocument) lines.push('---', 'kind: Service # no images', 'spec: {image: not-a-field:1}');
  return lines.join(shape.eol) + shape.eol;
}

describe('rewriteImages (property)', () => {
  it('changes exactly the image values, whatever the layout, comments, quoting and line breaks', () => {
    fc.assert(
      fc.property(layout, (shape) => {
        const before = render(shape, false);
        const manifest = parseManifest(before, 'x.yaml');
        const scalars = findImageScalars(manifest);
        expect(scalars).toHaveLength(shape.containers.length);
        const replacements = scalars.map((scalar) => {
          const index = Number(scalar.field.name.slice(1));
          const c = shape.containers[index];
          expect(scalar.field.image).toBe(c?.image);
          return { scalar, value: `${c?.image ?? ''}@${c?.digest ?? ''}` };
        });
        expect(rewriteImages(manifest, replacements)).toBe(render(shape, true));
      }),
    );
  });
});
