/**
 * RegistryClient against real Distribution registries started by the global
 * setup (test/helpers): plain HTTP, TLS + htpasswd, TLS + token auth. Digests
 * are compared with what each registry itself reports.
 */
import { createServer } from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseImage } from '../../src/reference/index.js';
import type { Credential } from '../../src/credentials/types.js';
import {
  InsecureRegistryRequiredError,
  ManifestUnknownError,
  RegistryAbortedError,
  RegistryAuthError,
  RegistryClient,
  RegistryUnavailableError,
  type RegistryClientOptions,
} from '../../src/registry/index.js';
import { pushImage, tokenRequestCount } from '../helpers/registry.js';
import type { PushedImage, TestRegistry } from '../helpers/registry-types.js';
import { rejection } from '../support/rejection.js';
import { requestLog } from '../support/requests.js';

const registries = inject('registries');
const { plain, basic, token } = registries;
const TIMEOUT_MS = 5_000;

const clients: RegistryClient[] = [];
function newClient(options: Partial<RegistryClientOptions> = {}): RegistryClient {
  const client = new RegistryClient({
    env: {},
    caFiles: [registries.caFile],
    insecureRegistries: [plain.host],
    requestTimeoutMs: TIMEOUT_MS,
    userAgent: 'digest-pinner-test',
    ...options,
  });
  clients.push(client);
  return client;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

const shared = newClient();

function credentialOf(registry: TestRegistry, username = registry.username, password = registry.password): Credential | undefined {
  if (username === undefined || password === undefined) return undefined;
  return { username, password, source: `test ${registry.name}` };
}

function resolve(
  client: RegistryClient,
  registry: TestRegistry,
  repository: string,
  tag: string,
  credential: Credential | undefined,
  signal = AbortSignal.timeout(15_000),
) {
  return client.getDigest(parseImage(`${registry.host}/${repository}:${tag}`), tag, credential, signal);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => { done(); }));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The token service takes `tester-<suffix>` with tester's password and counts it apart: one account per test. */
function tester(suffix: string): Credential | undefined {
  return credentialOf(token, `${token.username ?? ''}-${suffix}`);
}

const IMAGE_KINDS = ['single', 'multiArch', 'dockerV2'] as const;

describe.each([plain, basic, token])('$name registry', (registry) => {
  it.each(IMAGE_KINDS)('resolves the %s image to the digest the registry reports', async (kind) => {
    const image: PushedImage = registry.images[kind];
    const got = await resolve(shared, registry, image.repository, image.tag, credentialOf(registry));
    expect(got).toEqual({ digest: image.digest });
  });

  it('resolves a multi-arch image to its index digest, not a platform digest', async () => {
    const { multiArch } = registry.images;
    const got = await resolve(shared, registry, multiArch.repository, multiArch.tag, credentialOf(registry));
    expect(multiArch.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(multiArch.platformDigests.length).toBeGreaterThan(1);
    expect(multiArch.platformDigests).not.toContain(got.digest);
    expect(got.digest).toBe(multiArch.digest);
  });

  it('fails with ManifestUnknownError for a missing tag', async () => {
    const { single } = registry.images;
    const error = await rejection(resolve(shared, registry, single.repository, 'no-such-tag', credentialOf(registry)));
    expect(error).toBeInstanceOf(ManifestUnknownError);
    expect(error).toMatchObject({ code: 'DP_ERR_MANIFEST_UNKNOWN', status: 404, image: `${registry.host}/${single.repository}:no-such-tag` });
    expect(error.message).toMatch(new RegExp(`^could not get digest for ${registry.host}/${single.repository}:no-such-tag: registry answered 404`));
  });

  it('resolves with HEAD only: no manifest GET (it would count against a pull quota)', async () => {
    const requests = requestLog();
    const { single } = registry.images;
    expect((await resolve(newClient({ onRequest: requests.onRequest }), registry, single.repository, single.tag, credentialOf(registry))).digest).toBe(single.digest);
    // The one GET is the first contact, GET /v2/, which learns the auth scheme (open on the plain registry).
    expect(requests.to(registry.host)).toEqual([`GET ${registry.name === 'plain' ? 200 : 401}`, 'HEAD 200']);
  });

  it('follows a tag that moves to a new digest', async () => {
    const repository = `dp/moving-${registry.name}`;
    const first = await pushImage(registry, repository, 'v1');
    expect((await resolve(shared, registry, repository, 'v1', credentialOf(registry))).digest).toBe(first.digest);
    const second = await pushImage(registry, repository, 'v1');
    expect(second.digest).not.toBe(first.digest);
    expect((await resolve(shared, registry, repository, 'v1', credentialOf(registry))).digest).toBe(second.digest);
  });
});

describe('basic registry (TLS + htpasswd)', () => {
  it('fails with RegistryAuthError naming the user, not the password, when the password is wrong', async () => {
    const { single } = basic.images;
    const wrong = credentialOf(basic, basic.username, 'not-the-password');
    const error = await rejection(resolve(newClient(), basic, single.repository, single.tag, wrong));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toBe(
      `could not get digest for ${basic.host}/${single.repository}:${single.tag}: registry answered 401: credentials of user "tester" (test basic) were refused`,
    );
    expect(error.message).not.toContain('not-the-password');
  });

  it('fails with RegistryAuthError saying credentials are missing when none are given', async () => {
    const { single } = basic.images;
    const error = await rejection(resolve(newClient(), basic, single.repository, single.tag, undefined));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toMatch(`registry answered 401: credentials are required and none are configured for ${basic.host}`);
  });

  it('challenges once per registry and credential, then sends Basic straight away', async () => {
    const requests = requestLog();
    const client = newClient({ onRequest: requests.onRequest });
    const { single } = basic.images;
    await resolve(client, basic, single.repository, single.tag, credentialOf(basic));
    await resolve(client, basic, single.repository, single.tag, credentialOf(basic));
    // The challenge comes once, to GET /v2/; no manifest request is refused.
    expect(requests.to(basic.host)).toEqual(['GET 401', 'HEAD 200', 'HEAD 200']);
  });
});

describe('token registry (TLS + Bearer tokens)', () => {
  it('fails with RegistryAuthError when the token service refuses the password', async () => {
    const { single } = token.images;
    const wrong = credentialOf(token, token.username, 'not-the-password');
    const error = await rejection(resolve(newClient(), token, single.repository, single.tag, wrong));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toMatch(/: token service 127\.0\.0\.1:\d+ answered 401( [A-Z_]+)?: credentials of user "tester" \(test token\) were refused$/);
    expect(error.message).not.toContain('not-the-password');
  });

  it('caches the token: a second resolution makes no token request', async () => {
    const credential = tester('cache');
    const { single } = token.images;
    const client = newClient();
    const before = await tokenRequestCount(token, credential?.username);
    expect((await resolve(client, token, single.repository, single.tag, credential)).digest).toBe(single.digest);
    expect(await tokenRequestCount(token, credential?.username)).toBe(before + 1);
    expect((await resolve(client, token, single.repository, single.tag, credential)).digest).toBe(single.digest);
    expect(await tokenRequestCount(token, credential?.username)).toBe(before + 1);
  });

  it('coalesces concurrent token requests for one key', async () => {
    const credential = tester('concurrent');
    const { single } = token.images;
    const client = newClient();
    const before = await tokenRequestCount(token, credential?.username);
    const results = await Promise.all(Array.from({ length: 5 }, () => resolve(client, token, single.repository, single.tag, credential)));
    expect(new Set(results.map((r) => r.digest))).toEqual(new Set([single.digest]));
    expect(await tokenRequestCount(token, credential?.username)).toBe(before + 1);
  });

  it('asks for a new token per repository (the scope differs) and per credential', async () => {
    const client = newClient();
    const alice = tester('scope-a');
    const bob = tester('scope-b');
    const { single, multiArch } = token.images;
    const before = [await tokenRequestCount(token, alice?.username), await tokenRequestCount(token, bob?.username)];
    await resolve(client, token, single.repository, single.tag, alice);
    await resolve(client, token, multiArch.repository, multiArch.tag, alice);
    await resolve(client, token, single.repository, single.tag, bob);
    expect(await tokenRequestCount(token, alice?.username)).toBe((before[0] ?? 0) + 2);
    expect(await tokenRequestCount(token, bob?.username)).toBe((before[1] ?? 0) + 1);
  });

  it("never answers one credential's request with another's token", async () => {
    const client = newClient();
    const { single } = token.images;
    await resolve(client, token, single.repository, single.tag, tester('tenant-a'));
    const wrong = credentialOf(token, `${token.username ?? ''}-tenant-a`, 'not-the-password');
    await expect(resolve(client, token, single.repository, single.tag, wrong)).rejects.toBeInstanceOf(RegistryAuthError);
  });

  it('pulls a public repository anonymously', async () => {
    const image = token.publicImage;
    expect(await resolve(newClient(), token, image.repository, image.tag, undefined)).toEqual({ digest: image.digest });
  });

  it('fails with a readable RegistryAuthError for a private repository without credentials', async () => {
    const { single } = token.images;
    const error = await rejection(resolve(newClient(), token, single.repository, single.tag, undefined));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toMatch(`could not get digest for ${token.host}/${single.repository}:${single.tag}: registry answered 401`);
    expect(error.message).toMatch(`none are configured for ${token.host}`);
  });

  it('goes straight to the manifest with a token once the challenge is known (no 401 per resolution)', async () => {
    const requests = requestLog();
    const client = newClient({ onRequest: requests.onRequest });
    const credential = tester('no-401');
    const { single } = token.images;
    await resolve(client, token, single.repository, single.tag, credential);
    await resolve(client, token, single.repository, single.tag, credential);
    expect(requests.to(token.host)).toEqual(['GET 401', 'HEAD 200', 'HEAD 200']);
  });
});

describe('transport', () => {
  it('says to use --insecure-registry when HTTPS reaches a plain HTTP registry', async () => {
    const { single } = plain.images;
    const error = await rejection(resolve(newClient({ insecureRegistries: [] }), plain, single.repository, single.tag, credentialOf(plain)));
    expect(error).toBeInstanceOf(InsecureRegistryRequiredError);
    expect(error).toMatchObject({ code: 'DP_ERR_INSECURE_REGISTRY_REQUIRED' });
    expect(error.message).toContain(`use --insecure-registry ${plain.host}`);
  });

  it('fails with a clear TLS error without the CA, and succeeds with the CA file', async () => {
    const { single } = basic.images;
    const error = await rejection(resolve(newClient({ caFiles: [] }), basic, single.repository, single.tag, credentialOf(basic)));
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect(error.message).toMatch(new RegExp(`TLS certificate of ${basic.host} is not trusted \\([A-Z_]+\\); trust the CA that signed it with --ca-file FILE`));
    const withCa = newClient({ caFiles: [registries.caFile] });
    expect((await resolve(withCa, basic, single.repository, single.tag, credentialOf(basic))).digest).toBe(single.digest);
  });

  it('fails fast with RegistryUnavailableError when nothing listens on the port', async () => {
    const port = await freePort();
    const client = newClient({ insecureRegistries: [`127.0.0.1:${port}`] });
    // Fast: the refusal itself is the answer (not a timeout, which would say so).
    const refused = await rejection(client.getDigest(parseImage(`127.0.0.1:${port}/dp/app:v1`), 'v1', undefined, AbortSignal.timeout(10_000)));
    expect(refused).toBeInstanceOf(RegistryUnavailableError);
    expect(refused.message).toBe(`could not get digest for 127.0.0.1:${port}/dp/app:v1: cannot reach 127.0.0.1:${port}: connection refused (ECONNREFUSED)`);
  });

  it('rejects at once with RegistryAbortedError when the signal is already aborted', async () => {
    const { single } = token.images;
    const controller = new AbortController();
    controller.abort(new Error('admission deadline'));
    const error = await rejection(resolve(newClient(), token, single.repository, single.tag, credentialOf(token), controller.signal));
    expect(error).toBeInstanceOf(RegistryAbortedError);
    expect(error).toMatchObject({ code: 'DP_ERR_REGISTRY_ABORTED' });
    expect(error.message).toContain('aborted by the caller');
  });

  it('aborts a resolution in flight', async () => {
    const { single } = token.images;
    const controller = new AbortController();
    const pending = resolve(newClient(), token, single.repository, single.tag, tester('abort'), controller.signal);
    controller.abort(new Error('admission deadline'));
    await expect(pending).rejects.toBeInstanceOf(RegistryAbortedError);
  });
});
