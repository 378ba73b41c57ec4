/**
 * RegistryClient against tiny node:http servers, ONLY for behaviours a real
 * Distribution registry cannot be made to show: a HEAD without
 * Docker-Content-Digest or Content-Type, 429 rate limits, malformed digests,
 * oversized or 5xx answers, a revoked cached token, hanging sockets (and the
 * circuit breaker they trip), token realms on other hosts. Everything a real
 * registry can do is tested in client.integration.test.ts.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIGEST_RULE, parseImage } from '../../src/reference/index.js';
import { Agent } from 'undici';
import type { Credential } from '../../src/credentials/types.js';
import {
  InvalidDigestError,
  RegistryAbortedError,
  RegistryAuthError,
  RegistryCircuitOpenError,
  RegistryClient,
  RegistryProtocolError,
  RegistryRateLimitedError,
  RegistryTimeoutError,
  RegistryUnavailableError,
  type RegistryClientOptions,
} from '../../src/registry/index.js';
import { RegistryFailure } from '../../src/registry/failure.js';
import { TokenService } from '../../src/registry/token.js';
import { Transport } from '../../src/registry/transport.js';
import { rejection } from '../support/rejection.js';
import { DIGEST_VECTORS } from '../reference/digest-vectors.js';

const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST_BODY = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST_BODY).digest('hex')}`;
const DIGEST = `sha256:${'a'.repeat(64)}`;
const CREDENTIAL: Credential = { username: 'alice', password: 's3cret-pw', source: 'test' };

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A server whose every request is recorded and answered by `handler`. */
class FakeServer {
  readonly seen: Seen[] = [];
  handler: Handler = (_req, res) => res.writeHead(404).end();
  private server: Server | undefined;

  get host(): string {
    const address = this.server?.address() as AddressInfo;
    return `127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      this.handler(req, res);
    });
    await new Promise<void>((done) => this.server?.listen(0, '127.0.0.1', done));
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((done) => this.server?.close(() => { done(); }));
  }

  requests(method: string, pathIncludes = ''): Seen[] {
    return this.seen.filter((s) => s.method === method && s.url.includes(pathIncludes));
  }
}

/**
 * Servers started before the tests and handed out one per use, so that two clients
 * can list them all as insecure registries: building a client parses every trusted
 * CA, which costs more than most tests here. Each test gets fresh hosts, so what a
 * client learns and counts per host (auth scheme, tokens, breaker) stays its own.
 */
const POOL_SIZE = 32;
const pool: FakeServer[] = [];
let handedOut = 0;
/** The breaker's clock: it moves only when a test moves it. */
const clock = { now: Date.parse('2030-01-01T00:00:00Z') };
const BREAKER = { failureThreshold: 3, coolDownMs: 60_000 };
/** Its timeout is far off: every answer arrives, however busy the machine. */
let patient: RegistryClient;
/** Times out after 100 ms, for registries that never answer. */
let impatient: RegistryClient;

beforeAll(async () => {
  pool.push(...(await Promise.all(Array.from({ length: POOL_SIZE }, () => new FakeServer().start()))));
  const options: RegistryClientOptions = { env: {}, caFiles: [], insecureRegistries: pool.map((s) => s.host), requestTimeoutMs: 60_000, userAgent: 'digest-pinner-test' };
  patient = new RegistryClient(options);
  impatient = new RegistryClient({ ...options, requestTimeoutMs: 100, breaker: BREAKER, now: () => clock.now });
});
afterAll(async () => {
  // Servers first: dropping their connections ends requests left hanging, which a client's close would wait for.
  await Promise.all(pool.map((s) => s.close()));
  await Promise.all([patient.close(), impatient.close()]);
});

/** A fresh server of the pool, answering with `handler`. */
function fakeServer(handler: Handler): FakeServer {
  const server = pool[handedOut];
  if (server === undefined) throw new Error(`all ${POOL_SIZE} servers are handed out: raise POOL_SIZE`);
  handedOut += 1;
  server.handler = handler;
  return server;
}

function getDigest(server: FakeServer, credential?: Credential, client = patient, signal = AbortSignal.timeout(60_000)) {
  return client.getDigest(parseImage(`${server.host}/dp/app:v1`), 'v1', credential, signal);
}

/** Answers /v2/ with 200 (no auth) and manifest requests with `manifest`. */
function anonymousRegistry(manifest: Handler): Handler {
  return (req, res) => {
    if (req.url === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    manifest(req, res);
  };
}

describe('HEAD without Docker-Content-Digest (some registries and proxies)', () => {
  it('falls back to GET and hashes the body itself', async () => {
    const server = fakeServer(
      anonymousRegistry((req, res) => {
        res.writeHead(200, { 'content-type': INDEX, 'content-length': Buffer.byteLength(MANIFEST_BODY) });
        res.end(req.method === 'GET' ? MANIFEST_BODY : undefined);
      }),
    );
    expect(await getDigest(server)).toEqual({ digest: MANIFEST_DIGEST });
    expect(server.requests('HEAD', '/manifests/')).toHaveLength(1);
    expect(server.requests('GET', '/manifests/')).toHaveLength(1);
  });

  it('hashes an OCI manifest that names no media type, served without Content-Type', async () => {
    // The OCI image spec makes `mediaType` optional; nothing about the image depends on it.
    const body = JSON.stringify({ schemaVersion: 2, manifests: [] });
    const server = fakeServer(
      anonymousRegistry((req, res) => {
        res.writeHead(200);
        res.end(req.method === 'GET' ? body : undefined);
      }),
    );
    expect(await getDigest(server)).toEqual({ digest: `sha256:${createHash('sha256').update(body).digest('hex')}` });
  });

  it('hashes the body it GETs, whatever digest that answer names', async () => {
    const server = fakeServer(
      anonymousRegistry((req, res) => {
        res.writeHead(200, req.method === 'GET' ? { 'docker-content-digest': DIGEST } : {});
        res.end(req.method === 'GET' ? MANIFEST_BODY : undefined);
      }),
    );
    expect(await getDigest(server)).toEqual({ digest: MANIFEST_DIGEST });
  });

  it('refuses a manifest larger than 4 MiB', async () => {
    const server = fakeServer(
      anonymousRegistry((req, res) => {
        res.writeHead(200, { 'content-type': INDEX });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        for (let i = 0; i < 5; i += 1) res.write(chunk);
        res.end();
      }),
    );
    const error = await rejection(getDigest(server));
    expect(error).toBeInstanceOf(RegistryProtocolError);
    expect(error.message).toMatch(/manifest is larger than 4 MiB$/);
  });

  it('shows only the OCI error code of a failed GET, never the body', async () => {
    const server = fakeServer(
      anonymousRegistry((req, res) => {
        if (req.method === 'HEAD') {
          res.writeHead(200, { 'content-type': INDEX }).end();
          return;
        }
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'internal path /srv/secret-tenant', detail: 'x' }] }));
      }),
    );
    const error = await rejection(getDigest(server));
    expect(error.message).toBe(`could not get digest for ${server.host}/dp/app:v1: registry answered 404 MANIFEST_UNKNOWN`);
  });
});

describe('HEAD with Docker-Content-Digest but no Content-Type', () => {
  it('takes the digest from the HEAD and sends no GET (which Docker Hub would count as a pull)', async () => {
    const server = fakeServer(anonymousRegistry((_req, res) => res.writeHead(200, { 'docker-content-digest': DIGEST }).end()));
    expect(await getDigest(server)).toEqual({ digest: DIGEST });
    expect(server.requests('HEAD', '/manifests/')).toHaveLength(1);
    expect(server.requests('GET', '/manifests/')).toHaveLength(0);
  });
});

describe('429 Too Many Requests (Docker Hub pull limits)', () => {
  it('fails with RegistryRateLimitedError, the wait from Retry-After, and no GET fallback', async () => {
    const server = fakeServer(anonymousRegistry((_req, res) => res.writeHead(429, { 'retry-after': '30' }).end()));
    const error = await rejection(getDigest(server));
    expect(error).toBeInstanceOf(RegistryRateLimitedError);
    expect(error).toMatchObject({ code: 'DP_ERR_RATE_LIMITED', status: 429, retryAfterMs: 30_000 });
    expect(error.message).toBe(`could not get digest for ${server.host}/dp/app:v1: registry answered 429: rate limited (retry after 30 s)`);
    expect(server.requests('GET', '/manifests/')).toHaveLength(0);
  });

  it('reads an HTTP-date Retry-After', async () => {
    const at = new Date(Date.now() + 120_000).toUTCString();
    const server = fakeServer(anonymousRegistry((_req, res) => res.writeHead(429, { 'retry-after': at }).end()));
    const error = await rejection(getDigest(server));
    if (!(error instanceof RegistryRateLimitedError)) throw error;
    expect(error.retryAfterMs).toBeGreaterThan(100_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it('reports a rate-limited token service too', async () => {
    const server = fakeServer((req, res) => {
      if (req.url?.startsWith('/token') === true) {
        res.writeHead(429).end();
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host ?? ''}/token",service="fake"` }).end();
    });
    const error = await rejection(getDigest(server, CREDENTIAL));
    expect(error).toBeInstanceOf(RegistryRateLimitedError);
    expect(error.message).toMatch(/token service 127\.0\.0\.1:\d+ answered 429: rate limited$/);
  });
});

describe('digests a registry reports, judged by the one digest rule', () => {
  // One registry reports every digest, one per repository, to one client.
  const reported = DIGEST_VECTORS.map(([, digest]) => digest);
  let server: FakeServer;
  beforeAll(() => {
    server = fakeServer(
      anonymousRegistry((req, res) => {
        const index = Number(/^\/v2\/dp\/d(\d+)\//.exec(req.url ?? '')?.[1]);
        res.writeHead(200, { 'docker-content-digest': reported[index] ?? '', 'content-type': INDEX }).end();
      }),
    );
  });
  const digestOf = (index: number) => patient.getDigest(parseImage(`${server.host}/dp/d${String(index)}:v1`), 'v1', undefined, AbortSignal.timeout(60_000));

  // Not those a header cannot carry: HTTP trims spaces and refuses control characters and
  // non-ASCII, and an empty Docker-Content-Digest counts as none (the body is hashed).
  const carried = DIGEST_VECTORS.map(([label, digest, valid], index) => [label, valid ? 'taken' : 'refused', index, digest, valid] as const)
    .filter(([, , , digest]) => digest !== '' && !/[\s\u0080-\uffff]/.test(digest));
  it.each(carried)('%s: %s', async (_label, _verdict, index, digest, valid) => {
    if (valid) {
      expect(await digestOf(index)).toEqual({ digest });
      return;
    }
    const error = await rejection(digestOf(index));
    expect(error).toBeInstanceOf(InvalidDigestError);
    expect(error).toMatchObject({ code: 'DP_ERR_INVALID_DIGEST' });
    expect(error.message).toContain(`not ${DIGEST_RULE}`);
  });
});

describe('answers a registry should not give', () => {
  it('fails with RegistryUnavailableError on 5xx without echoing the body', async () => {
    const server = fakeServer((_req, res) => res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>backend secret-host-42 down</h1>'));
    const error = await rejection(getDigest(server));
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect(error).toMatchObject({ status: 503 });
    expect(error.message).toBe(`could not get digest for ${server.host}/dp/app:v1: registry answered 503`);
  });

  it('fails with RegistryProtocolError on a 401 without a challenge', async () => {
    const server = fakeServer((_req, res) => res.writeHead(401).end());
    const error = await rejection(getDigest(server, CREDENTIAL));
    expect(error).toBeInstanceOf(RegistryProtocolError);
    expect(error.message).toMatch(/answered 401 without a WWW-Authenticate challenge$/);
  });
});

describe('bearer tokens', () => {
  /** A registry that accepts exactly the tokens in `valid`, with its token service on `tokenServer`. */
  function tokenRegistry(valid: Set<string>, tokenServer: FakeServer): FakeServer {
    return fakeServer((req, res) => {
      const token = req.headers.authorization?.replace(/^Bearer /, '');
      if (token === undefined || !valid.has(token)) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokenServer.host}/token",service="fake"` }).end();
        return;
      }
      res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': INDEX }).end();
    });
  }

  function issuing(tokens: string[]): Handler {
    let n = 0;
    return (_req, res) => {
      const token = tokens[Math.min(n, tokens.length - 1)] ?? '';
      n += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
    };
  }

  it('sends Basic only to the token realm and Bearer to the registry', async () => {
    const auth = fakeServer(issuing(['t1']));
    const registry = tokenRegistry(new Set(['t1']), auth);
    expect((await getDigest(registry, CREDENTIAL)).digest).toBe(DIGEST);
    const basic = `Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`;
    expect(auth.seen.map((s) => s.authorization)).toEqual([basic]);
    expect(auth.seen[0]?.url).toBe('/token?service=fake&scope=repository%3Adp%2Fapp%3Apull');
    expect(registry.seen.map((s) => s.authorization)).not.toContain(basic);
    expect(registry.requests('HEAD').at(-1)?.authorization).toBe('Bearer t1');
  });

  it('refreshes a cached token once when the registry refuses it', async () => {
    const valid = new Set(['t1']);
    const auth = fakeServer(issuing(['t1', 't2']));
    const registry = tokenRegistry(valid, auth);
    await getDigest(registry, CREDENTIAL);
    valid.clear();
    valid.add('t2');
    expect((await getDigest(registry, CREDENTIAL)).digest).toBe(DIGEST);
    expect(auth.seen).toHaveLength(2);
    expect(registry.requests('HEAD').map((s) => s.authorization)).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t2']);
  });

  it('does not loop when a fresh token is refused too', async () => {
    const auth = fakeServer(issuing(['t1', 't2', 't3']));
    const registry = tokenRegistry(new Set(), auth);
    const error = await rejection(getDigest(registry, CREDENTIAL));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(auth.seen).toHaveLength(1);
    expect(registry.requests('HEAD')).toHaveLength(1);
  });

  it('refuses a plain-HTTP realm for an HTTPS registry, before sending anything', async () => {
    const auth = fakeServer(issuing(['t1']));
    const dispatcher = new Agent();
    const tokens = new TokenService(new Transport(dispatcher, { timeoutMs: 2_000, userAgent: 'test' }));
    const lease = tokens.lease(
      {
        bearer: { realm: `http://${auth.host}/token`, service: 'fake', scope: undefined },
        scopes: ['repository:dp/app:pull'],
        credential: CREDENTIAL,
        registry: { origin: new URL('https://registry.example.com'), insecure: false },
      },
      AbortSignal.timeout(5_000),
    );
    await expect(lease).rejects.toThrow(RegistryFailure);
    await expect(lease).rejects.toThrow(`token realm http://${auth.host} is not HTTPS; refusing to send credentials there`);
    expect(auth.seen).toHaveLength(0);
    await dispatcher.close();
  });
});

describe('a registry whose /v2/ is open but whose repository is not', () => {
  const basicOnManifests: Handler = anonymousRegistry((req, res) => {
    if (req.headers.authorization === undefined) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="private"' }).end();
      return;
    }
    res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': INDEX }).end();
  });

  it('answers the manifest challenge with the credential, then remembers it', async () => {
    const server = fakeServer(basicOnManifests);
    expect((await getDigest(server, CREDENTIAL)).digest).toBe(DIGEST);
    expect((await getDigest(server, CREDENTIAL)).digest).toBe(DIGEST);
    expect(server.requests('HEAD').map((s) => s.authorization?.split(' ')[0])).toEqual([undefined, 'Basic', 'Basic']);
    expect(server.requests('GET', '/v2/')).toHaveLength(1);
  });

  it('fails after one HEAD when there is no credential to answer with', async () => {
    const server = fakeServer(basicOnManifests);
    const error = await rejection(getDigest(server));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toMatch(`credentials are required and none are configured for ${server.host}`);
    expect(server.requests('HEAD')).toHaveLength(1);
  });
});

describe('credentials stay with their registry', () => {
  it('sends no Authorization to a registry that does not challenge', async () => {
    const server = fakeServer(anonymousRegistry((_req, res) => res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': INDEX }).end()));
    await getDigest(server, CREDENTIAL);
    expect(server.seen.map((s) => s.authorization)).toEqual([undefined, undefined]);
  });
});

describe('deadlines', () => {
  /** Accepts connections and never answers: a real registry does not hang on purpose. */
  const silent: Handler = () => undefined;

  it('fails with RegistryTimeoutError after requestTimeoutMs', async () => {
    const server = fakeServer(silent);
    // The caller's signal is far off: the timeout that fires is the client's own.
    const error = await rejection(getDigest(server, undefined, impatient, AbortSignal.timeout(60_000)));
    expect(error).toBeInstanceOf(RegistryTimeoutError);
    expect(error.message).toBe(`could not get digest for ${server.host}/dp/app:v1: ${server.host} did not answer within 100 ms`);
  });

  it("stops at the caller's signal", async () => {
    const caller = new AbortController();
    // The caller gives up once the registry has the request; the client's own timeout is far off.
    const server = fakeServer(() => {
      caller.abort();
    });
    const error = await rejection(getDigest(server, undefined, patient, caller.signal));
    expect(error).toBeInstanceOf(RegistryAbortedError);
  });
});

describe('circuit breaker, against a registry whose manifest requests time out', () => {
  /** Answers /v2/ (no auth needed) and the manifest of dp/ready; never another manifest request. */
  const stalled: Handler = anonymousRegistry((req, res) => {
    if (req.url?.startsWith('/v2/dp/ready/') === true) res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': INDEX }).end();
  });
  const resolveImage = (server: FakeServer, name: string) =>
    impatient.getDigest(parseImage(`${server.host}/dp/${name}:v1`), 'v1', undefined, AbortSignal.timeout(60_000));
  const stalledHeads = (server: FakeServer) => server.requests('HEAD', '/v2/dp/app-');

  /**
   * Resolves dp/ready until it answers within the impatient client's timeout: the client has then
   * learned the server's auth scheme (so later requests are manifest requests only) and the
   * breaker is closed. On a machine too busy for that timeout the breaker may open first: its clock
   * moves on to let the next try through.
   */
  async function ready(server: FakeServer): Promise<void> {
    for (;;) {
      try {
        await resolveImage(server, 'ready');
        return;
      } catch (error) {
        if (!(error instanceof RegistryTimeoutError || error instanceof RegistryCircuitOpenError)) throw error;
        clock.now += BREAKER.coolDownMs;
      }
    }
  }

  it('stays closed when three requests in flight together time out: they count as one failure', async () => {
    const server = fakeServer(stalled);
    await ready(server);
    const errors = await Promise.all(['app-0', 'app-1', 'app-2'].map((name) => rejection(resolveImage(server, name))));
    expect(errors.map((e) => e.constructor)).toEqual([RegistryTimeoutError, RegistryTimeoutError, RegistryTimeoutError]);
    expect(stalledHeads(server)).toHaveLength(3);
    expect(impatient.breakerStates().get(server.host)).toBe('closed');
  });

  it('opens after three requests time out one after another, then fails fast without contacting the registry', async () => {
    const server = fakeServer(stalled);
    await ready(server);
    for (const name of ['app-0', 'app-1', 'app-2']) {
      expect(impatient.breakerStates().get(server.host) ?? 'closed').toBe('closed');
      expect(await rejection(resolveImage(server, name))).toBeInstanceOf(RegistryTimeoutError);
    }
    expect(impatient.breakerStates().get(server.host)).toBe('open');
    const fast = await rejection(resolveImage(server, 'app-3'));
    expect(fast).toBeInstanceOf(RegistryCircuitOpenError);
    expect(fast.message).toMatch(/\(3 failures in a row, last: 127\.0\.0\.1:\d+ did not answer within 100 ms\)/);
    expect(stalledHeads(server)).toHaveLength(3);
  });
});
