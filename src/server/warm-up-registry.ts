/**
 * The registry the warm-up resolves its images from: a plain-HTTP listener on 127.0.0.1 that
 * speaks as much of the distribution API as a tag lookup with token auth needs (`GET /v2/`
 * challenged, a token for a Basic credential, `HEAD` of a manifest with its digest). It listens
 * only while the warm-up runs, on a port of its own, and answers only the credential it made.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import type { Credential } from '../credentials/types.js';

/** The registry's name in the warm-up's images: a name no DNS answers (RFC 2606), which the warm-up's client looks up as 127.0.0.1. */
export const WARM_UP_REGISTRY_HOST = 'warm-up.invalid';
const LOOPBACK = '127.0.0.1';
const TOKEN_PATH = '/token';
const MANIFEST_PATH = /^\/v2\/[a-z0-9/._-]+\/manifests\/[\w.-]+$/;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** A running warm-up registry. */
export interface WarmUpRegistry {
  /** `host:port` as images name it. */
  readonly domain: string;
  /** The only credential it accepts (random per run). */
  readonly credential: Credential;
  /** DNS lookup for a client: its host name is 127.0.0.1, any other name is not found. */
  readonly lookup: LookupFunction;
  /** Requests it answered, as `METHOD path` (query left out). */
  readonly requests: readonly string[];
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Starts the warm-up registry on 127.0.0.1, any free port. */
export async function startWarmUpRegistry(): Promise<WarmUpRegistry> {
  const credential: Credential = { username: 'warm-up', password: randomBytes(16).toString('hex'), source: 'warm-up' };
  const token = randomBytes(16).toString('hex');
  const requests: string[] = [];
  let realm = '';
  const server = createServer((request, response) => {
    requests.push(`${request.method ?? ''} ${(request.url ?? '').split('?')[0] ?? ''}`);
    answer(request, response, { basic: `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`, bearer: `Bearer ${token}`, token, realm });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const domain = `${WARM_UP_REGISTRY_HOST}:${port}`;
  realm = `http://${domain}${TOKEN_PATH}`;
  return {
    domain,
    credential,
    lookup: loopbackLookup,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

interface Expected {
  readonly basic: string;
  readonly bearer: string;
  readonly token: string;
  readonly realm: string;
}

function answer(request: IncomingMessage, response: ServerResponse, expected: Expected): void {
  const path = (request.url ?? '').split('?')[0] ?? '';
  const authorization = request.headers.authorization;
  const isManifest = request.method === 'HEAD' && MANIFEST_PATH.test(path);
  if (request.method === 'GET' && path === TOKEN_PATH) {
    if (authorization === expected.basic) response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: expected.token, expires_in: 300 }));
    else response.writeHead(401).end();
  } else if (!isManifest && !(request.method === 'GET' && path === '/v2/')) {
    response.writeHead(404).end();
  } else if (authorization !== expected.bearer) {
    response.writeHead(401, { 'www-authenticate': `Bearer realm="${expected.realm}",service="${WARM_UP_REGISTRY_HOST}"` }).end();
  } else if (isManifest) {
    response.writeHead(200, { 'content-type': MANIFEST_TYPE, 'docker-content-digest': `sha256:${createHash('sha256').update(path).digest('hex')}` }).end();
  } else {
    response.writeHead(200).end();
  }
}

/** WARM_UP_REGISTRY_HOST is 127.0.0.1; no other name is looked up. */
const loopbackLookup: LookupFunction = (hostname, options, callback) => {
  if (hostname !== WARM_UP_REGISTRY_HOST) {
    callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (warm-up)`), { code: 'ENOTFOUND' }), '', 0);
  } else if (options.all === true) {
    callback(null, [{ address: LOOPBACK, family: 4 }]);
  } else {
    callback(null, LOOPBACK, 4);
  }
};
