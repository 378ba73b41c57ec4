/**
 * The ImageSet CRD as plain YAML: its names match what the webhook watches, its
 * schema requires what parse.ts requires, and its patterns and rule accept and reject
 * what the webhook does (JavaScript's RegExp reads these RE2 patterns the same way).
 * The CEL rule runs in a real kube-apiserver in test/e2e/imageset.e2e.test.ts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANIFESTS_DIR, readOne } from '../manifests/load.js';
import { IMAGESET_API_VERSION, IMAGESET_CRD, IMAGESET_GROUP, IMAGESET_KIND, IMAGESET_PLURAL, IMAGESET_VERSION } from '../../src/imageset/types.js';
import { parseEntry } from '../../src/imageset/parse.js';
import { DIGEST_RULE } from '../../src/reference/index.js';
import { DIGEST_VECTORS } from '../reference/digest-vectors.js';

interface Schema {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  pattern?: string;
  maxItems?: number;
  maxLength?: number;
  minLength?: number;
  default?: unknown;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
}

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string };
    versions: { name: string; served: boolean; storage: boolean; subresources?: { status?: object }; schema: { openAPIV3Schema: Schema } }[];
  };
}

const crd = readOne(join(MANIFESTS_DIR, 'crd-imageset.yaml')) as Crd;
const [version] = crd.spec.versions;
const root = version?.schema.openAPIV3Schema ?? {};
const spec = root.properties?.['spec'] ?? {};
const item = spec.properties?.['images']?.items ?? {};
const digestPattern = new RegExp(item.properties?.['digest']?.pattern ?? '^$');
const imagePattern = new RegExp(item.properties?.['image']?.pattern ?? '^$');

const SHA256 = `sha256:${'a'.repeat(64)}`;

describe('the ImageSet CRD', () => {
  it('is the cluster-scoped resource the webhook watches and the CLI writes', () => {
    expect(crd.metadata.name).toBe(IMAGESET_CRD);
    expect(crd.spec.group).toBe(IMAGESET_GROUP);
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({ kind: IMAGESET_KIND, plural: IMAGESET_PLURAL });
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([[IMAGESET_VERSION, true, true]]);
    expect(IMAGESET_API_VERSION).toBe(`${IMAGESET_GROUP}/${IMAGESET_VERSION}`);
  });

  it('has a status subresource, so the webhook writes status without touching spec', () => {
    expect(version?.subresources).toEqual({ status: {} });
  });

  it('requires spec.images, and image and digest in every entry', () => {
    expect(root.required).toEqual(['spec']);
    expect(spec.required).toEqual(['images']);
    expect(item.required).toEqual(['image', 'digest']);
    expect(spec.properties?.['anyTag']).toMatchObject({ type: 'boolean', default: false });
  });

  it.each(DIGEST_VECTORS)('digest pattern: %s is %s, as the one digest rule judges it, and the webhook with it', (_label, digest, valid) => {
    expect(digestPattern.test(digest)).toBe(valid);
    expect('reason' in parseEntry({ image: 'app:v1', digest }, false)).toBe(!valid);
  });

  it('words the digest rule of the webhook', () => {
    expect(parseEntry({ image: 'app:v1', digest: 'sha256:abc' }, false)).toMatchObject({ reason: `digest "sha256:abc" is not a valid digest (${DIGEST_RULE})` });
  });

  it('rejects an image with a digest or whitespace', () => {
    expect(imagePattern.test('calico/node:v3.28.0')).toBe(true);
    expect(imagePattern.test(`calico/node:v3@${SHA256}`)).toBe(false);
    expect(imagePattern.test('calico/node :v3')).toBe(false);
  });

  it('bounds what its validation rule iterates over', () => {
    expect(spec.properties?.['images']?.maxItems).toBeGreaterThan(0);
    expect(item.properties?.['image']?.maxLength).toBeGreaterThanOrEqual(255 + 128);
  });

  describe('requires a tag unless spec.anyTag (the rule, its regular expression run here)', () => {
    const [rule] = spec['x-kubernetes-validations'] ?? [];
    const tagPattern = new RegExp(/matches\('([^']+)'\)/.exec(rule?.rule ?? '')?.[1] ?? '^$');

    it('is a rule on spec that lets anyTag through', () => {
      expect(rule?.rule).toMatch(/^\(has\(self\.anyTag\) && self\.anyTag\) \|\| self\.images\.all\(i, i\.image\.matches\('.+'\)\)$/);
      expect(rule?.message).toContain('unless spec.anyTag is true');
    });

    it.each([
      ['calico/node:v3.28.0', true],
      ['quay.io/tigera/operator:v1.36.0', true],
      ['localhost:5000/app:1', true],
      ['nginx:latest', true],
      ['calico/node', false],
      ['localhost:5000/app', false],
      ['registry.internal:5000/team/app', false],
    ])('%s has a tag: %s, as the webhook judges it', (image, tagged) => {
      expect(tagPattern.test(image)).toBe(tagged);
      expect('reason' in parseEntry({ image, digest: SHA256 }, false)).toBe(!tagged);
    });
  });
});
