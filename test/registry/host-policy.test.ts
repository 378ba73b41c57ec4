import { describe, expect, it } from 'vitest';
import { RegistryHosts } from '../../src/registry/host-policy.js';

describe('RegistryHosts.allowListed', () => {
  const hosts = (allowed: readonly string[] | undefined) => new RegistryHosts({ registries: new Map(), insecureRegistries: [], allowed });

  it('is true for a registry on the allow-list, however its name is cased, and for docker.io by its API host', () => {
    const listed = hosts(['Registry.Example:5000', 'docker.io']);
    expect(listed.allowListed('registry.example:5000')).toBe(true);
    expect(listed.allowListed('REGISTRY.example:5000')).toBe(true);
    expect(listed.allowListed('docker.io')).toBe(true);
  });

  it('is false for any other registry, another port, and for every registry without an allow-list', () => {
    expect(hosts(['registry.example:5000']).allowListed('registry.example')).toBe(false);
    expect(hosts(['registry.example:5000']).allowListed('10.0.0.5:5000')).toBe(false);
    expect(hosts(undefined).allowListed('registry.example:5000')).toBe(false);
  });
});
