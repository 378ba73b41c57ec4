import { describe, expect, it } from 'vitest';
import { skipList } from '../../src/admission/index.js';

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
