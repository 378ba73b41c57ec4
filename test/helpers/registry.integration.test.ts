import { readFile } from 'node:fs/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MANIFEST_ACCEPT, MEDIA_TYPE } from '../harness/media-types.js';
import { inspectImage, pushImage, registryDigest, tokenRequestCount, tokenStats } from './registry.js';
import type { TestRegistry } from './registry-types.js';

const registries = inject('registries');
const { plain, basic, token } = registries;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

let tls: Agent;
beforeAll(async () => {
  tls = new Agent({ connect: { ca: await readFile(registries.caFile, 'utf8') } });
});
afterAll(async () => {
  await tls.close();
});

function dispatcher(registry: TestRegistry): Dispatcher {
  return registry.scheme === 'https' ? tls : new Agent();
}

function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function ping(registry: TestRegistry, authorization?: string) {
  const res = await request(`${registry.scheme}://${registry.host}/v2/`, {
    dispatcher: dispatcher(registry),
    headers: authorization === undefined ? {} : { authorization },
  });
  await res.body.dump();
  return res;
}

async function fetchToken(params: { scopes: string[]; username?: string; password?: string }) {
  const url = new URL(token.tokenUrl);
  url.searchParams.set('service', token.service);
  for (const scope of params.scopes) url.searchParams.append('scope', scope);
  const authorization = params.username === undefined ? undefined : basicAuth(params.username, params.password ?? '');
  const res = await request(url, { dispatcher: tls, headers: authorization === undefined ? {} : { authorization } });
  const body = (await res.body.json()) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
  return { status: res.statusCode, body };
}

function jwtClaims(jwt: string): { aud: string; iss: string; access: { type: string; name: string; actions: string[] }[] } {
  const payload = jwt.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as ReturnType<typeof jwtClaims>;
}

async function headManifest(registry: TestRegistry, repository: string, reference: string, authorization?: string) {
  const res = await request(`${registry.scheme}://${registry.host}/v2/${repository}/manifests/${reference}`, {
    method: 'HEAD',
    dispatcher: dispatcher(registry),
    headers: { accept: MANIFEST_ACCEPT, ...(authorization === undefined ? {} : { authorization }) },
  });
  await res.body.dump();
  return res;
}

describe('global setup', () => {
  it('provides three registries on distinct 127.0.0.1 ports', () => {
    const hosts = [plain.host, basic.host, token.host];
    for (const host of hosts) expect(host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(new Set(hosts).size).toBe(3);
    expect([plain.scheme, basic.scheme, token.scheme]).toEqual(['http', 'https', 'https']);
  });

  it.each([plain, basic, token])('$name holds the three fixture images with the digests it reports', async (registry) => {
    const { single, multiArch, dockerV2 } = registry.images;
    expect(single.mediaType).toBe(MEDIA_TYPE.ociManifest);
    expect(single.platformDigests).toEqual([]);
    expect(multiArch.mediaType).toBe(MEDIA_TYPE.ociIndex);
    expect(multiArch.platformDigests).toHaveLength(2);
    expect(dockerV2.mediaType).toBe(MEDIA_TYPE.dockerManifest);
    for (const image of [single, multiArch, dockerV2]) {
      expect(image.digest).toMatch(SHA256_DIGEST);
      expect(await registryDigest(registry, image.repository, image.tag)).toBe(image.digest);
    }
  });
});

describe('plain registry', () => {
  it('answers /v2/ with 200 and no challenge', async () => {
    const res = await ping(plain);
    expect(res.statusCode).toBe(200);
    expect(res.headers['www-authenticate']).toBeUndefined();
  });
});

describe('basic registry', () => {
  it('answers /v2/ with a Basic challenge', async () => {
    const res = await ping(basic);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="[^"]+"/);
  });

  it('accepts its user and refuses a wrong password', async () => {
    expect((await ping(basic, basicAuth(basic.username!, basic.password!))).statusCode).toBe(200);
    expect((await ping(basic, basicAuth(basic.username!, 'wrong'))).statusCode).toBe(401);
  });
});

describe('token registry', () => {
  it('answers /v2/ with a Bearer challenge naming the realm and service', async () => {
    const res = await ping(token);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe(`Bearer realm="${token.tokenUrl}",service="${token.service}"`);
  });

  it('issues a token with which HEAD on the multi-arch tag returns the pushed index digest', async () => {
    const { repository, tag, digest } = token.images.multiArch;
    const { status, body } = await fetchToken({ scopes: [`repository:${repository}:pull`], username: token.username, password: token.password });
    expect(status).toBe(200);
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBeGreaterThan(0);
    const res = await headManifest(token, repository, tag, `Bearer ${body.token!}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['docker-content-digest']).toBe(digest);
    expect(res.headers['content-type']).toBe(MEDIA_TYPE.ociIndex);
  });

  it('refuses a wrong password at the token service', async () => {
    const { status, body } = await fetchToken({ scopes: [`repository:${token.images.single.repository}:pull`], username: token.username, password: 'wrong' });
    expect(status).toBe(401);
    expect(body.token).toBeUndefined();
  });

  it('grants several scopes in one token request', async () => {
    const { single, dockerV2 } = token.images;
    const { body } = await fetchToken({
      scopes: [`repository:${single.repository}:pull`, `repository:${dockerV2.repository}:pull,push`],
      username: token.username,
      password: token.password,
    });
    const claims = jwtClaims(body.token!);
    expect(claims.aud).toBe(token.service);
    expect(claims.access).toEqual([
      { type: 'repository', name: single.repository, actions: ['pull'] },
      { type: 'repository', name: dockerV2.repository, actions: ['pull', 'push'] },
    ]);
    for (const image of [single, dockerV2]) {
      const res = await headManifest(token, image.repository, image.tag, `Bearer ${body.token!}`);
      expect(res.headers['docker-content-digest']).toBe(image.digest);
    }
  });

  it('grants a limited account only its repositories (and public ones), leaving the rest out of one token', async () => {
    const granted = await pushImage(token, `${token.limited.repositoryPrefix}harness`, 'v1');
    const { single } = token.images;
    const { status, body } = await fetchToken({
      scopes: [`repository:${granted.repository}:pull`, `repository:${single.repository}:pull`, `repository:${token.publicImage.repository}:pull`],
      username: `${token.username!}-${token.limited.alias}-harness`,
      password: token.password,
    });
    expect(status).toBe(200);
    expect(jwtClaims(body.token!).access).toEqual([
      { type: 'repository', name: granted.repository, actions: ['pull'] },
      { type: 'repository', name: token.publicImage.repository, actions: ['pull'] },
    ]);
    expect((await headManifest(token, granted.repository, 'v1', `Bearer ${body.token!}`)).headers['docker-content-digest']).toBe(granted.digest);
    expect((await headManifest(token, single.repository, single.tag, `Bearer ${body.token!}`)).statusCode).toBe(401);
  });

  it('lets anonymous callers pull under the public prefix only', async () => {
    const { publicImage, images } = token;
    const open = await fetchToken({ scopes: [`repository:${publicImage.repository}:pull`] });
    const res = await headManifest(token, publicImage.repository, publicImage.tag, `Bearer ${open.body.token!}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['docker-content-digest']).toBe(publicImage.digest);

    const closed = await fetchToken({ scopes: [`repository:${images.single.repository}:pull`] });
    expect(jwtClaims(closed.body.token!).access).toEqual([]);
    expect((await headManifest(token, images.single.repository, images.single.tag, `Bearer ${closed.body.token!}`)).statusCode).toBe(401);
  });

  it('counts token requests in total and per account alias', async () => {
    const account = `${token.username!}-counting`;
    const before = await tokenRequestCount(token);
    await fetchToken({ scopes: [], username: account, password: token.password });
    expect(await tokenRequestCount(token, account)).toBe(1);
    expect(await tokenRequestCount(token)).toBeGreaterThanOrEqual(before + 1);
    expect((await tokenStats(token)).issued).toBeGreaterThan(0);
  });
});

describe('pushImage', () => {
  it('moves a tag to a new digest when re-pushed', async () => {
    const first = await pushImage(basic, 'harness/repush', 'moving');
    const second = await pushImage(basic, 'harness/repush', 'moving');
    expect(second.digest).not.toBe(first.digest);
    expect(await registryDigest(basic, 'harness/repush', 'moving')).toBe(second.digest);
  });

  it('pushes a multi-arch index whose platform manifests the registry serves', async () => {
    const pushed = await pushImage(token, 'harness/multi', 'fresh', { multiArch: true, seed: 'sanity' });
    expect(pushed.mediaType).toBe(MEDIA_TYPE.ociIndex);
    expect(pushed.platformDigests).toHaveLength(2);
    for (const child of pushed.platformDigests) {
      expect((await inspectImage(token, 'harness/multi', child)).mediaType).toBe(MEDIA_TYPE.ociManifest);
    }
  });

  it('pushes Docker schema 2 when asked', async () => {
    const pushed = await pushImage(plain, 'harness/docker', 'v2s2', { format: 'v2s2' });
    expect(pushed.mediaType).toBe(MEDIA_TYPE.dockerManifest);
  });
});
