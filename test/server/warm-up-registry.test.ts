/**
 * startWarmUpRegistry: a RegistryClient resolves a tag from it through token auth with its
 * credential (a challenged ping, a token, a HEAD), and with no other credential; its lookup
 * knows its own name only; once closed, its port is closed.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseImage } from '../../src/reference/image.js';
import { RegistryAuthError, RegistryClient } from '../../src/registry/index.js';
import { startWarmUpRegistry, WARM_UP_REGISTRY_HOST, type WarmUpRegistry } from '../../src/server/warm-up-registry.js';

const running: { registry?: WarmUpRegistry; client?: RegistryClient } = {};

afterEach(async () => {
  await running.client?.close();
  await running.registry?.close();
  delete running.client;
  delete running.registry;
});

async function started(): Promise<{ registry: WarmUpRegistry; client: RegistryClient }> {
  const registry = await startWarmUpRegistry();
  const client = new RegistryClient({ env: {}, caFiles: [], insecureRegistries: [registry.domain], requestTimeoutMs: 5_000, userAgent: 'test', lookup: registry.lookup });
  Object.assign(running, { registry, client });
  return { registry, client };
}

function lookupOf(registry: WarmUpRegistry, hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    registry.lookup(hostname, {}, (error, address) => {
      if (error === null) resolve(typeof address === 'string' ? address : JSON.stringify(address));
      else reject(error);
    });
  });
}

describe('startWarmUpRegistry', () => {
  it('answers a tag\'s digest to a RegistryClient with its credential, through token auth', async () => {
    const { registry, client } = await started();
    const { digest } = await client.getDigest(parseImage(`${registry.domain}/team/app:v1`), 'v1', registry.credential, AbortSignal.timeout(5_000));
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(registry.requests).toEqual(['GET /v2/', 'GET /token', 'HEAD /v2/team/app/manifests/v1']);
  });

  it('refuses any other credential', async () => {
    const { registry, client } = await started();
    const wrong = { ...registry.credential, password: 'not-it' };
    await expect(client.getDigest(parseImage(`${registry.domain}/team/app:v1`), 'v1', wrong, AbortSignal.timeout(5_000))).rejects.toBeInstanceOf(RegistryAuthError);
  });

  it('looks up its own name as 127.0.0.1, and no other name', async () => {
    const { registry } = await started();
    expect(await lookupOf(registry, WARM_UP_REGISTRY_HOST)).toBe('127.0.0.1');
    await expect(lookupOf(registry, 'registry.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('closes its port when closed', async () => {
    const registry = await startWarmUpRegistry();
    const port = Number(registry.domain.split(':')[1]);
    await registry.close();
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
      connect(port, '127.0.0.1').once('error', resolve).once('connect', () => { resolve(new Error('connected')); });
    });
    expect(error.code).toBe('ECONNREFUSED');
  });
});
