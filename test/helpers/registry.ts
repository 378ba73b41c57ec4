/**
 * Helpers for test files that use the registries from `inject('registries')`:
 * push a fresh image, tag it many times over, ask a registry for a digest, and
 * count what the token service served. (What a RegistryClient sent, its
 * onRequest hook tells: test/support/requests.ts.)
 */
import { request } from 'undici';
import { pushImage as pushToRegistry, readBack } from '../harness/push.js';
import { authorizationFor, dispatcherFor, getManifest, headManifest } from '../harness/registry-client.js';
import type { TokenStats } from '../harness/token-service.js';
import type { PushOptions, PushedImage, TestRegistry, TokenRegistry } from './registry-types.js';

export type { TokenStats } from '../harness/token-service.js';

/**
 * Builds an image with unique content and pushes it to `registry` as
 * `repository:tag` (re-pushing moves the tag to a new digest). The digest is
 * the one the registry then reports.
 */
export function pushImage(registry: TestRegistry, repository: string, tag: string, opts: PushOptions = {}): Promise<PushedImage> {
  return pushToRegistry(registry, repository, tag, opts);
}

/** Tags written at once by addTags. */
const TAGGING_CONCURRENCY = 16;

/**
 * Gives `repository:from`'s manifest each of `tags` as well (a PUT of the same manifest per
 * tag, as `docker tag` + push does): thousands of distinct tags without thousands of pushes.
 * For the plain and htpasswd registries (the token service grants pull only).
 */
export async function addTags(registry: TestRegistry, repository: string, from: string, tags: readonly string[]): Promise<void> {
  const manifest = await getManifest(registry, repository, from);
  const dispatcher = await dispatcherFor(registry);
  try {
    const authorization = await authorizationFor(registry, repository, dispatcher);
    const headers = { 'content-type': manifest.mediaType, ...(authorization === undefined ? {} : { authorization }) };
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < tags.length; i = next++) {
        const url = `${registry.scheme}://${registry.host}/v2/${repository}/manifests/${tags[i] ?? ''}`;
        const res = await request(url, { method: 'PUT', dispatcher, headers, body: manifest.body });
        await res.body.dump();
        if (res.statusCode !== 201) throw new Error(`PUT ${url} answered ${res.statusCode}`);
      }
    };
    await Promise.all(Array.from({ length: TAGGING_CONCURRENCY }, worker));
  } finally {
    await dispatcher.close();
  }
}

/** The digest `registry` serves for `repository:tag` (HEAD with every manifest type in Accept). */
export async function registryDigest(registry: TestRegistry, repository: string, tag: string): Promise<string> {
  return (await headManifest(registry, repository, tag)).digest;
}

/** Digest, media type and platform digests of `repository:tag`, as `registry` serves them now. */
export function inspectImage(registry: TestRegistry, repository: string, tag: string): Promise<PushedImage> {
  return readBack(registry, repository, tag);
}

/** Counters of the token service: every token request, in total and per account name. */
export async function tokenStats(token: TokenRegistry): Promise<TokenStats> {
  const dispatcher = await dispatcherFor(token);
  try {
    const res = await request(token.statsUrl, { dispatcher });
    if (res.statusCode !== 200) throw new Error(`GET ${token.statsUrl} answered ${res.statusCode}`);
    return (await res.body.json()) as TokenStats;
  } finally {
    await dispatcher.close();
  }
}

/**
 * Token requests served so far, in total or for one account. Test files run in
 * parallel, so a test that counts should authenticate as its own
 * `${token.username}-<suffix>` alias (same password) and pass that name here.
 */
export async function tokenRequestCount(token: TokenRegistry, account?: string): Promise<number> {
  const stats = await tokenStats(token);
  return account === undefined ? stats.tokenRequests : (stats.byAccount[account] ?? 0);
}
