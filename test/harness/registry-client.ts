/**
 * Just enough of a registry client for the harness to read back what a
 * registry holds: ping /v2/ for its challenge, authenticate (Basic, or a
 * Bearer token from the realm), then HEAD or GET one manifest. The ping keeps
 * the manifest request itself to exactly one line in the registry's log.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { MANIFEST_ACCEPT } from './media-types.js';

/** Where a registry is and how to reach it; a `TestRegistry` is one. */
export interface RegistryEndpoint {
  readonly host: string;
  readonly scheme: 'http' | 'https';
  readonly caFile: string | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;
}

export interface ManifestHead {
  /** `Docker-Content-Digest` as the registry reports it. */
  readonly digest: string;
  readonly mediaType: string;
}

export interface Manifest extends ManifestHead {
  readonly body: Buffer;
}

const CHALLENGE_PARAM = /(\w+)="([^"]*)"/g;

/** Opens a dispatcher trusting the registry's CA; close it when done. */
export async function dispatcherFor(endpoint: RegistryEndpoint): Promise<Agent> {
  const ca = endpoint.caFile === undefined ? undefined : await readFile(endpoint.caFile, 'utf8');
  return new Agent({ connect: { ca } });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function basic(endpoint: RegistryEndpoint): string | undefined {
  if (endpoint.username === undefined) return undefined;
  return `Basic ${Buffer.from(`${endpoint.username}:${endpoint.password ?? ''}`).toString('base64')}`;
}

/** Parses `Bearer realm="…",service="…"` into its scheme and parameters. */
export function parseChallenge(value: string): { scheme: string; params: Map<string, string> } {
  const scheme = value.split(' ', 1)[0] ?? '';
  const params = new Map<string, string>();
  for (const [, key = '', val = ''] of value.matchAll(CHALLENGE_PARAM)) params.set(key.toLowerCase(), val);
  return { scheme: scheme.toLowerCase(), params };
}

async function bearerToken(endpoint: RegistryEndpoint, params: Map<string, string>, scope: string, dispatcher: Agent): Promise<string> {
  const realm = params.get('realm');
  if (realm === undefined) throw new Error(`registry ${endpoint.host} sent a Bearer challenge without a realm`);
  const url = new URL(realm);
  const service = params.get('service');
  if (service !== undefined) url.searchParams.set('service', service);
  url.searchParams.append('scope', scope);
  const authorization = basic(endpoint);
  const res = await request(url, { dispatcher, headers: authorization === undefined ? {} : { authorization } });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`token service ${realm} answered ${res.statusCode} for ${scope}`);
  }
  const body = (await res.body.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (token === undefined) throw new Error(`token service ${realm} returned no token`);
  return token;
}

/** The Authorization header that lets us `pull` `repository`, or undefined if none is needed. */
export async function authorizationFor(endpoint: RegistryEndpoint, repository: string, dispatcher: Agent): Promise<string | undefined> {
  const ping = await request(`${endpoint.scheme}://${endpoint.host}/v2/`, { dispatcher });
  await ping.body.dump();
  if (ping.statusCode !== 401) return undefined;
  const challenge = header(ping.headers['www-authenticate']);
  if (challenge === undefined) throw new Error(`registry ${endpoint.host} answered 401 without a challenge`);
  const { scheme, params } = parseChallenge(challenge);
  if (scheme === 'basic') return basic(endpoint);
  return `Bearer ${await bearerToken(endpoint, params, `repository:${repository}:pull`, dispatcher)}`;
}

async function fetchManifest(endpoint: RegistryEndpoint, repository: string, reference: string, method: 'HEAD' | 'GET'): Promise<Manifest> {
  const dispatcher = await dispatcherFor(endpoint);
  try {
    const authorization = await authorizationFor(endpoint, repository, dispatcher);
    const url = `${endpoint.scheme}://${endpoint.host}/v2/${repository}/manifests/${reference}`;
    const res = await request(url, {
      method,
      dispatcher,
      headers: { accept: MANIFEST_ACCEPT, ...(authorization === undefined ? {} : { authorization }) },
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const digest = header(res.headers['docker-content-digest']);
    const mediaType = header(res.headers['content-type']);
    if (res.statusCode !== 200 || digest === undefined || mediaType === undefined) {
      throw new Error(`${method} ${url} answered ${res.statusCode} (digest ${digest ?? 'none'})`);
    }
    return { digest, mediaType, body };
  } finally {
    await dispatcher.close();
  }
}

/** HEAD of a manifest: the digest and media type the registry reports. */
export async function headManifest(endpoint: RegistryEndpoint, repository: string, reference: string): Promise<ManifestHead> {
  const { digest, mediaType } = await fetchManifest(endpoint, repository, reference, 'HEAD');
  return { digest, mediaType };
}

/** GET of a manifest; throws if its bytes do not hash to the digest the registry reports. */
export async function getManifest(endpoint: RegistryEndpoint, repository: string, reference: string): Promise<Manifest> {
  const manifest = await fetchManifest(endpoint, repository, reference, 'GET');
  const actual = `sha256:${createHash('sha256').update(manifest.body).digest('hex')}`;
  if (actual !== manifest.digest) {
    throw new Error(`${endpoint.host}/${repository}:${reference} body hashes to ${actual}, registry says ${manifest.digest}`);
  }
  return manifest;
}
