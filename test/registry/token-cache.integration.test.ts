/**
 * Bearer tokens against the real token registry (Distribution and the test
 * token service): one token request per repository, made in parallel, each
 * token cached for the repositories it was asked for; a user who may pull only
 * some repositories gets those and a clear failure for the others. Each test
 * counts token requests for its own `tester-<suffix>` account.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseImage } from '../../src/reference/index.js';
import type { Credential } from '../../src/credentials/types.js';
import { RegistryAuthError, RegistryClient, type RequestEvent } from '../../src/registry/index.js';
import { pushImage, tokenRequestCount } from '../helpers/registry.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { decodedPatch, podReview, startTestWebhook } from '../support/webhook.js';
import { rejection } from '../support/rejection.js';
import { requestLog } from '../support/requests.js';

const registries = inject('registries');
const { token } = registries;
const IMAGES = 10;

const clients: RegistryClient[] = [];
function newClient(onRequest?: (event: RequestEvent) => void): RegistryClient {
  const client = new RegistryClient({
    env: {},
    caFiles: [registries.caFile],
    insecureRegistries: [],
    requestTimeoutMs: 5_000,
    userAgent: 'digest-pinner-test',
    ...(onRequest === undefined ? {} : { onRequest }),
  });
  clients.push(client);
  return client;
}

/** `tester-<suffix>`: may pull everything; token requests counted apart. */
function account(suffix: string): Credential {
  return { username: `${token.username ?? ''}-${suffix}`, password: token.password ?? '', source: `test ${suffix}` };
}

/** `tester-limited-<suffix>`: granted only repositories under token.limited.repositoryPrefix. */
function limitedAccount(suffix: string): Credential {
  return account(`${token.limited.alias}-${suffix}`);
}

function resolve(client: RegistryClient, image: PushedImage, credential: Credential) {
  return client.getDigest(parseImage(`${token.host}/${image.repository}:${image.tag}`), image.tag, credential, AbortSignal.timeout(15_000));
}

/** Token requests `credential`'s account makes while `action` runs. */
async function tokenRequestsDuring(credential: Credential, action: () => Promise<unknown>): Promise<number> {
  const before = await tokenRequestCount(token, credential.username);
  await action();
  return (await tokenRequestCount(token, credential.username)) - before;
}

let images: PushedImage[] = [];
let granted: PushedImage[] = [];
beforeAll(async () => {
  [images, granted] = await Promise.all([
    Promise.all(Array.from({ length: IMAGES }, (_, i) => pushImage(token, `tokens/app-${i}`, 'v1'))),
    Promise.all(Array.from({ length: 3 }, (_, i) => pushImage(token, `${token.limited.repositoryPrefix}tokens-${i}`, 'v1'))),
  ]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe('RegistryClient against a token registry', () => {
  it(`resolves ${IMAGES} uncached repositories at once with one token request per repository`, async () => {
    const credential = account('tokens-ten');
    const client = newClient();
    let digests: string[] = [];
    const requests = await tokenRequestsDuring(credential, async () => {
      digests = (await Promise.all(images.map((image) => resolve(client, image, credential)))).map((m) => m.digest);
    });
    expect(digests).toEqual(images.map((image) => image.digest));
    expect(requests).toBe(IMAGES);
  });

  it('serves a later resolution of each repository from the token cache', async () => {
    const credential = account('tokens-cache');
    const client = newClient();
    const [first, , third] = images;
    if (first === undefined || third === undefined) throw new Error('images not pushed');
    expect(await tokenRequestsDuring(credential, () => Promise.all(images.slice(0, 5).map((image) => resolve(client, image, credential))))).toBe(5);
    const again = await tokenRequestsDuring(credential, async () => {
      expect((await resolve(client, third, credential)).digest).toBe(third.digest);
      expect((await resolve(client, first, credential)).digest).toBe(first.digest);
    });
    expect(again).toBe(0);
  });

  it('a user allowed only some repositories: those resolve, the denied one fails with insufficient_scope, asked once', async () => {
    const credential = limitedAccount('tokens');
    const denied = images[0];
    if (denied === undefined) throw new Error('images not pushed');
    const manifestRequests = requestLog();
    const client = newClient(manifestRequests.onRequest);
    let outcomes: PromiseSettledResult<{ digest: string }>[] = [];
    const requests = await tokenRequestsDuring(credential, async () => {
      outcomes = await Promise.allSettled([...granted, denied].map((image) => resolve(client, image, credential)));
    });
    expect(outcomes.slice(0, granted.length).map((o) => (o.status === 'fulfilled' ? o.value.digest : String(o.reason)))).toEqual(granted.map((image) => image.digest));
    const failure = outcomes.at(-1);
    if (failure?.status !== 'rejected') throw new Error('the denied repository resolved');
    expect(failure.reason).toBeInstanceOf(RegistryAuthError);
    expect((failure.reason as Error).message).toBe(
      `could not get digest for ${token.host}/${denied.repository}:v1: registry answered 401 insufficient_scope: ` +
        `user "${credential.username}" (${credential.source}) may not pull this repository, or it does not exist`,
    );
    // One token per repository; the denied one's fresh token is not asked for again.
    expect(requests).toBe(granted.length + 1);
    // Each repository's manifest asked for once: the denied one's refusal is not retried.
    expect(manifestRequests.to(token.host).filter((r) => r.startsWith('HEAD ')).sort()).toEqual([...granted.map(() => 'HEAD 200'), 'HEAD 401']);
  });

  it('gives the denied repository the same failure whether resolved alone or with others', async () => {
    const credential = limitedAccount('tokens-alone');
    const denied = images[1];
    if (denied === undefined) throw new Error('images not pushed');
    const alone = await rejection(resolve(newClient(), denied, credential));
    const client = newClient();
    const [together] = await Promise.all([rejection(resolve(client, denied, credential)), ...granted.map((image) => resolve(client, image, credential))]);
    expect(together).toBeInstanceOf(RegistryAuthError);
    expect(together.message).toBe(alone.message);
  });
});

describe('the webhook (admit → Resolver → RegistryClient)', () => {
  it(`pins a cold Pod of ${IMAGES} images from one token registry with one token request per repository`, async () => {
    const credential = account('tokens-webhook');
    const webhook = await startTestWebhook(registries, { credentials: [credential] });
    try {
      const pod = podReview(images.map((image) => `${token.host}/${image.repository}:v1`), { uid: 'tokens-cold-pod', namespace: 'tokens', name: 'cold' });
      let patch: unknown[] | undefined;
      const requests = await tokenRequestsDuring(credential, async () => {
        patch = decodedPatch(await webhook.review('/mutate', pod));
      });
      const pinned = (patch ?? []).filter((op) => (op as { op: string }).op === 'replace');
      expect(pinned).toEqual(
        images.map((image, i) => ({ op: 'replace', path: `/spec/containers/${i}/image`, value: `${token.host}/${image.repository}:v1@${image.digest}` })),
      );
      expect(requests).toBe(IMAGES);
    } finally {
      await webhook.close();
    }
  });
});
