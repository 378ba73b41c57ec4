import { describe, expect, it } from 'vitest';
import { AuthoritativeRegistries, InvalidAuthoritativeRegistryError, normalizeRegistry } from '../../src/imageset/authoritative.js';
import { parseImage } from '../../src/reference/index.js';

describe('normalizeRegistry', () => {
  it.each([
    ['registry.internal', 'registry.internal'],
    ['registry.internal:5000', 'registry.internal:5000'],
    ['127.0.0.1:1', '127.0.0.1:1'],
    ['[::1]:5000', '[::1]:5000'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeRegistry(input)).toBe(expected);
  });

  it.each(['https://registry.internal', 'registry.internal/path', '', 'a b'])('rejects %j', (input) => {
    expect(() => normalizeRegistry(input)).toThrow(InvalidAuthoritativeRegistryError);
  });
});

describe('AuthoritativeRegistries.covers', () => {
  const registries = new AuthoritativeRegistries(['registry.internal:5000', 'index.docker.io']);

  it("covers images on those registries, Docker Hub's familiar names included", () => {
    expect(registries.covers(parseImage('registry.internal:5000/app:v1'))).toBe(true);
    expect(registries.covers(parseImage('nginx:1.27'))).toBe(true);
    expect(registries.covers(parseImage('registry.internal/app:v1'))).toBe(false);
    expect(registries.list()).toEqual(['docker.io', 'registry.internal:5000']);
  });
});
