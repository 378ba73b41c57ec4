/** Rewrite rules: which image moves where, and what gets written after pinning. */
import { describe, expect, it } from 'vitest';
import { compileRewrites, parseConfig, RewriteError, rewriteReference, type RewriteRule } from '../../src/config/index.js';
import { parseImage, pinnedReference } from '../../src/reference/index.js';
import { CONFIG_HEADER } from './header.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;

function rules(yaml: string): readonly RewriteRule[] {
  return parseConfig(CONFIG_HEADER + yaml, 'config.yaml').rewrites;
}

const RULES = rules(`
rewrites:
  - { from: quay.io/tigera/, to: registry.internal/mirror/tigera/ }
  - { from: quay.io, to: registry.internal/quay }
  - { from: docker.io/library, to: registry.internal/hub }
  - { from: ghcr.io/org/app, to: registry.internal/apps/app }
  - { from: gcr.io/distroless, to: localhost:5000 }
`);
const rewrite = compileRewrites(RULES);

describe('rewriteReference', () => {
  it.each([
    ['quay.io/tigera/operator:v1.36', 'registry.internal/mirror/tigera/operator:v1.36'],
    ['quay.io/tigera/sub/path/x:1', 'registry.internal/mirror/tigera/sub/path/x:1'],
    ['quay.io/tigera-x/operator:v1', 'registry.internal/quay/tigera-x/operator:v1'],
    ['quay.io/other/app', 'registry.internal/quay/other/app'],
    ['nginx:1.27', 'registry.internal/hub/nginx:1.27'],
    ['docker.io/library/nginx', 'registry.internal/hub/nginx'],
    ['ghcr.io/org/app:2', 'registry.internal/apps/app:2'],
    ['ghcr.io/org/app-other:2', 'ghcr.io/org/app-other:2'],
    ['gcr.io/distroless/static:nonroot', 'localhost:5000/static:nonroot'],
    [`quay.io/tigera/operator@${DIGEST}`, `registry.internal/mirror/tigera/operator@${DIGEST}`],
    [`quay.io/tigera/operator:v1@${DIGEST}`, `registry.internal/mirror/tigera/operator:v1@${DIGEST}`],
    ['QUAY.IO/tigera/operator:v1', 'registry.internal/mirror/tigera/operator:v1'],
  ])('%s → %s', (image, moved) => {
    expect(rewrite(parseImage(image)).written).toBe(moved);
  });

  it('returns the same reference when no rule applies', () => {
    const ref = parseImage('registry.k8s.io/pause:3.10');
    expect(rewrite(ref)).toBe(ref);
  });

  it('prefers the longest matching rule whatever the order', () => {
    const reversed = compileRewrites([...RULES].reverse());
    expect(reversed(parseImage('quay.io/tigera/operator:v1')).written).toBe('registry.internal/mirror/tigera/operator:v1');
  });

  it('is what gets pinned: the issue\'s air-gapped example', () => {
    const moved = rewrite(parseImage('quay.io/tigera/operator:v1.36'));
    expect(moved).toMatchObject({ domain: 'registry.internal', path: 'mirror/tigera/operator', tag: 'v1.36' });
    expect(pinnedReference(moved, DIGEST, { dropTag: false })).toBe(`registry.internal/mirror/tigera/operator:v1.36@${DIGEST}`);
  });

  it('fails with RewriteError when the result is not a valid reference', () => {
    const [tooShort] = rules('rewrites:\n  - { from: quay.io/x, to: registry.internal }\n');
    if (tooShort === undefined) throw new Error('no rule');
    expect(() => rewriteReference(parseImage('quay.io/x:1'), [tooShort])).toThrow(RewriteError);
    expect(() => rewriteReference(parseImage('quay.io/x:1'), [tooShort])).toThrow(
      /^rewrite quay\.io\/x → registry\.internal makes "quay\.io\/x:1" invalid: /,
    );
    const [long] = rules(`rewrites:\n  - { from: quay.io, to: registry.internal/${'a'.repeat(250)} }\n`);
    if (long === undefined) throw new Error('no rule');
    expect(() => rewriteReference(parseImage('quay.io/some/image:1'), [long])).toThrow(RewriteError);
  });
});
