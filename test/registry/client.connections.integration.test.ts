/**
 * Connection reuse and bounds: manifest HEADs to one registry share a kept-alive
 * connection instead of a new TCP (and TLS) handshake each, and many at once open no
 * more connections than the client keeps per origin. A raw TCP fault proxy in front
 * of the real registry counts the connections the client opens.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseImage } from '../../src/reference/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import { MAX_REQUESTS_PER_ORIGIN } from '../../src/registry/client.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { addTags, pushImage } from '../helpers/registry.js';
import type { TestRegistry } from '../helpers/registry-types.js';

const registries = inject('registries');
const TAGS = ['v1', 'v2', 'v3', 'v4', 'v5'];

describe.each([
  ['plain HTTP', registries.plain],
  ['TLS + htpasswd', registries.basic],
])('HEADs over %s', (_name, registry: TestRegistry) => {
  let proxy: FaultProxy;
  let client: RegistryClient;
  const digests = new Map<string, string>();
  beforeAll(async () => {
    for (const tag of TAGS) digests.set(tag, (await pushImage(registry, 'connections/app', tag)).digest);
    proxy = await startFaultProxy({ upstream: registry.host, protocol: 'tcp' });
    client = new RegistryClient({
      env: {},
      caFiles: [registries.caFile],
      insecureRegistries: registry === registries.plain ? [proxy.host] : [],
      requestTimeoutMs: 5_000,
      userAgent: 'digest-pinner-test',
    });
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
  });

  it('one after another, they share kept-alive connections instead of one each', async () => {
    const credential =
      registry.username === undefined || registry.password === undefined ? undefined : { username: registry.username, password: registry.password, source: 'test' };
    for (const tag of TAGS) {
      const ref = parseImage(`${proxy.host}/connections/app:${tag}`);
      const { digest } = await client.getDigest(ref, tag, credential, AbortSignal.timeout(10_000));
      expect(digest).toBe(digests.get(tag));
    }
    // The GET /v2/ ping and 5 HEADs: undici's pool may open a second connection when a request is
    // dispatched the instant before the previous one's socket is back in the pool; without
    // keep-alive after HEAD it is one connection per HEAD (5 or 6 here).
    expect(proxy.stats.connections).toBeLessThanOrEqual(2);
  });

  it(`many at once open at most ${MAX_REQUESTS_PER_ORIGIN} connections: the rest wait their turn, and every one answers`, async () => {
    const tags = Array.from({ length: 4 * MAX_REQUESTS_PER_ORIGIN }, (_, i) => `many-${i}`);
    await addTags(registry, 'connections/app', 'v1', tags);
    const counting = await startFaultProxy({ upstream: registry.host, protocol: 'tcp' });
    const wide = new RegistryClient({
      env: {},
      caFiles: [registries.caFile],
      insecureRegistries: registry === registries.plain ? [counting.host] : [],
      requestTimeoutMs: 30_000,
      userAgent: 'digest-pinner-test',
    });
    try {
      const credential =
        registry.username === undefined || registry.password === undefined ? undefined : { username: registry.username, password: registry.password, source: 'test' };
      const answers = await Promise.all(
        tags.map((tag) => wide.getDigest(parseImage(`${counting.host}/connections/app:${tag}`), tag, credential, AbortSignal.timeout(60_000))),
      );
      expect(new Set(answers.map((a) => a.digest))).toEqual(new Set([digests.get('v1')]));
      expect(counting.stats.connections).toBeLessThanOrEqual(MAX_REQUESTS_PER_ORIGIN);
    } finally {
      await wide.close();
      await counting.close();
    }
  });
});
