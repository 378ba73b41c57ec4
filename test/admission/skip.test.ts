import { describe, expect, it } from 'vitest';
import { compileGlob, skipList } from '../../src/admission/index.js';

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

describe('skipList', () => {
  it('matches the repository name alone as well as the full reference', () => {
    const skip = skipList(['docker.io/istio/proxyv2', 'localhost:5000/team/*']);
    expect(skip.matches('docker.io/istio/proxyv2:1.20')).toBe(true);
    expect(skip.matches('docker.io/istio/proxyv2@sha256:' + 'a'.repeat(64))).toBe(true);
    expect(skip.matches('localhost:5000/team/app:v1')).toBe(true);
    expect(skip.matches('docker.io/istio/pilot:1.20')).toBe(false);
  });
  it('matches nothing when empty', () => {
    expect(skipList([]).matches('docker.io/library/nginx:1')).toBe(false);
  });
});
