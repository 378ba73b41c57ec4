import { describe, expect, it } from 'vitest';
import { registryEndpoint } from '../../src/reference/index.js';

describe('registryEndpoint', () => {
  const cases: readonly [string, string][] = [
    ['docker.io', 'registry-1.docker.io'],
    ['quay.io', 'quay.io'],
    ['ghcr.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
    ['[::1]:5000', '[::1]:5000'],
    ['registry-1.docker.io', 'registry-1.docker.io'],
    // Normalisation never leaves index.docker.io in an ImageRef, so it is not special here.
    ['index.docker.io', 'index.docker.io'],
  ];
  for (const [domain, endpoint] of cases) {
    it(`sends API requests for ${domain} to ${endpoint}`, () => {
      expect(registryEndpoint(domain)).toBe(endpoint);
    });
  }
});
