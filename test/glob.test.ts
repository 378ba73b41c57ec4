import { describe, expect, it } from 'vitest';
import { compileGlob } from '../src/glob.js';

describe('compileGlob', () => {
  it.each([
    ['docker.io/istio/*', 'docker.io/istio/proxyv2:1.20', true],
    ['docker.io/istio/*', 'docker.io/istio/sub/proxy:1', false],
    ['docker.io/istio/**', 'docker.io/istio/sub/proxy:1', true],
    ['quay.io/?oo/bar', 'quay.io/foo/bar', true],
    ['quay.io/?oo/bar', 'quay.io/fooo/bar', false],
    ['registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9', true],
    ['registry.k8s.io/pause:3.9', 'registryXk8s.io/pause:3.9', false],
  ])('%s against %s is %s', (pattern, reference, expected) => {
    expect(compileGlob(pattern).test(reference)).toBe(expected);
  });
});
