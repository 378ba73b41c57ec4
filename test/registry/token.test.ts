import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryFailure } from '../../src/registry/failure.js';
import { batchKey, DEFAULT_BATCH_LIMITS, splitBatch } from '../../src/registry/token-batch.js';
import { cacheTtl, DEFAULT_TOKEN_LIFETIME_MS, parseTokenResponse, tokenCacheKey, TokenService, type TokenRequest } from '../../src/registry/token.js';
import { Transport } from '../../src/registry/transport.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const body = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('parseTokenResponse', () => {
  it('reads token and expires_in', () => {
    expect(parseTokenResponse(body({ token: 't', expires_in: 300 }), NOW, 'auth')).toEqual({ token: 't', lifetimeMs: 300_000 });
  });

  it('reads access_token (OAuth2 form) when token is absent', () => {
    expect(parseTokenResponse(body({ access_token: 'a', expires_in: 120 }), NOW, 'auth')).toEqual({ token: 'a', lifetimeMs: 120_000 });
  });

  it('prefers token over access_token', () => {
    expect(parseTokenResponse(body({ token: 't', access_token: 'a' }), NOW, 'auth').token).toBe('t');
  });

  it('defaults the lifetime to 60 s, as the token spec says', () => {
    expect(parseTokenResponse(body({ token: 't' }), NOW, 'auth').lifetimeMs).toBe(DEFAULT_TOKEN_LIFETIME_MS);
    expect(parseTokenResponse(body({ token: 't', expires_in: 0 }), NOW, 'auth').lifetimeMs).toBe(DEFAULT_TOKEN_LIFETIME_MS);
    expect(parseTokenResponse(body({ token: 't', expires_in: '300' }), NOW, 'auth').lifetimeMs).toBe(DEFAULT_TOKEN_LIFETIME_MS);
  });

  it('counts the lifetime from issued_at', () => {
    const issuedAt = new Date(NOW - 100_000).toISOString();
    expect(parseTokenResponse(body({ token: 't', expires_in: 300, issued_at: issuedAt }), NOW, 'auth').lifetimeMs).toBe(200_000);
  });

  it('counts from now when issued_at is in the future or older than the lifetime (clock skew)', () => {
    const future = new Date(NOW + 50_000).toISOString();
    const ancient = new Date(NOW - 1_000_000).toISOString();
    expect(parseTokenResponse(body({ token: 't', expires_in: 300, issued_at: future }), NOW, 'auth').lifetimeMs).toBe(300_000);
    expect(parseTokenResponse(body({ token: 't', expires_in: 300, issued_at: ancient }), NOW, 'auth').lifetimeMs).toBe(300_000);
    expect(parseTokenResponse(body({ token: 't', expires_in: 300, issued_at: 'yesterday' }), NOW, 'auth').lifetimeMs).toBe(300_000);
  });

  it.each([
    ['not JSON, without quoting the body', '<html>secret</html>', /answered with something other than JSON$/],
    ['a JSON array', '[]', /other than a JSON object/],
    ['no token', { expires_in: 300 }, /answered without a token/],
    ['an empty token', { token: '' }, /answered without a token/],
    ['a token that is not a string', { token: 42 }, /answered without a token/],
  ])('rejects %s', (_name, value, problem) => {
    expect(() => parseTokenResponse(body(value), NOW, 'auth.example.com')).toThrow(problem);
    try {
      parseTokenResponse(body(value), NOW, 'auth.example.com');
    } catch (error) {
      expect(error).toBeInstanceOf(RegistryFailure);
      expect((error as RegistryFailure).kind).toBe('protocol');
      expect((error as Error).message).not.toContain('secret');
      expect((error as Error).cause).toBeUndefined();
    }
  });
});

describe('cacheTtl', () => {
  it('keeps a margin of a quarter of the lifetime, at most 30 s', () => {
    expect(cacheTtl(60_000)).toBe(45_000);
    expect(cacheTtl(300_000)).toBe(270_000);
    expect(cacheTtl(3_600_000)).toBe(3_570_000);
  });

  it('never returns 0 (which lru-cache reads as "forever")', () => {
    expect(cacheTtl(0)).toBe(1);
    expect(cacheTtl(1)).toBe(1);
  });
});

describe('tokenCacheKey', () => {
  const base: TokenRequest = {
    bearer: { realm: 'https://auth/token', service: 'reg', scope: undefined },
    scopes: ['repository:a:pull'],
    credential: { username: 'u', password: 'p', source: 's' },
    registry: { origin: new URL('https://reg'), insecure: false },
  };

  it('differs by realm, service, scopes and credential', () => {
    const keys = [
      base,
      { ...base, bearer: { ...base.bearer, realm: 'https://other/token' } },
      { ...base, bearer: { ...base.bearer, service: 'other' } },
      { ...base, scopes: ['repository:b:pull'] },
      { ...base, credential: { ...base.credential, password: 'q' } as TokenRequest['credential'] },
      { ...base, credential: undefined },
    ].map(tokenCacheKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('never contains the password', () => {
    expect(tokenCacheKey(base)).not.toContain('\0p');
    expect(tokenCacheKey({ ...base, credential: { username: 'u', password: 'hunter2', source: 's' } })).not.toContain('hunter2');
  });
});

describe('splitBatch', () => {
  const member = (...scopes: string[]) => ({ request: { scopes } });
  const limits = { maxScopes: 4, maxQueryChars: 1000 };

  it('keeps the members in order and their scopes once each, in order', () => {
    const members = [member('a', 'b'), member('b'), member('c', 'a')];
    expect(splitBatch(members, limits)).toEqual([{ members, scopes: ['a', 'b', 'c'] }]);
  });

  it('starts a new batch beyond maxScopes', () => {
    const members = ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => member(s));
    expect(splitBatch(members, limits).map((b) => b.scopes)).toEqual([['a', 'b', 'c', 'd'], ['e', 'f']]);
  });

  it('never splits one member: its scopes go to the next batch together', () => {
    const batches = splitBatch([member('a', 'b', 'c'), member('d', 'e')], limits);
    expect(batches.map((b) => b.scopes)).toEqual([['a', 'b', 'c'], ['d', 'e']]);
  });

  it('counts only the scopes a member adds', () => {
    expect(splitBatch([member('a', 'b', 'c'), member('a', 'b', 'c', 'd')], limits)).toHaveLength(1);
  });

  it('starts a new batch beyond maxQueryChars (`&scope=` and the URL-encoded scope)', () => {
    const scope = (n: number) => `repository:${String(n).repeat(20)}:pull`;
    // `&scope=repository%3A` + 20 + `%3Apull` = 7 + 13 + 20 + 7 = 47 characters each.
    const batches = splitBatch([1, 2, 3].map((n) => member(scope(n))), { maxScopes: 16, maxQueryChars: 100 });
    expect(batches.map((b) => b.scopes)).toEqual([[scope(1), scope(2)], [scope(3)]]);
  });

  it('gives a member larger than the limits a batch of its own', () => {
    const batches = splitBatch([member('x'), member('a', 'b', 'c', 'd', 'e'), member('y')], limits);
    expect(batches.map((b) => b.scopes)).toEqual([['x'], ['a', 'b', 'c', 'd', 'e'], ['y']]);
  });

  it('splits 20 single-scope requests at the default 16', () => {
    const batches = splitBatch(Array.from({ length: 20 }, (_, i) => member(`repository:r${i}:pull`)), DEFAULT_BATCH_LIMITS);
    expect(batches.map((b) => b.scopes.length)).toEqual([16, 4]);
  });
});

describe('batchKey', () => {
  const base: TokenRequest = {
    bearer: { realm: 'https://auth/token', service: 'reg', scope: undefined },
    scopes: ['repository:a:pull'],
    credential: { username: 'u', password: 'p', source: 's' },
    registry: { origin: new URL('https://reg'), insecure: false },
    credentialHosts: new Set(['reg', 'auth']),
  };

  it('is the same whatever the scopes and the order of credentialHosts', () => {
    expect(batchKey({ ...base, scopes: ['repository:b:pull', 'registry:catalog:*'] })).toBe(batchKey(base));
    expect(batchKey({ ...base, credentialHosts: new Set(['auth', 'reg']) })).toBe(batchKey(base));
  });

  it('differs by realm, service, credential, registry and credentialHosts', () => {
    const keys = [
      base,
      { ...base, bearer: { ...base.bearer, realm: 'https://other/token' } },
      { ...base, bearer: { ...base.bearer, service: undefined } },
      { ...base, credential: { ...base.credential, password: 'q' } as TokenRequest['credential'] },
      { ...base, credential: undefined },
      { ...base, registry: { origin: new URL('https://other-reg'), insecure: false } },
      { ...base, registry: { origin: new URL('http://reg'), insecure: true } },
      { ...base, credentialHosts: new Set(['reg']) },
      { ...base, credentialHosts: undefined },
      { ...base, credentialHosts: new Set<string>() },
    ].map(batchKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.join('')).not.toContain('\0p\0');
  });
});

describe('TokenService against a local token server', () => {
  type Answer = (scopes: string[]) => { status: number; body?: unknown; delayMs?: number };
  interface TokenServer {
    readonly realm: string;
    readonly origin: URL;
    /** Scopes of every request, in arrival order. */
    readonly requests: string[][];
    answer: Answer;
  }

  let server: Server;
  let agent: Agent;
  let tokens: TokenServer;
  beforeEach(async () => {
    const requests: string[][] = [];
    server = createServer((req, res) => {
      const scopes = new URL(req.url ?? '/', 'http://x').searchParams.getAll('scope');
      requests.push(scopes);
      const { status, body, delayMs = 0 } = tokens.answer(scopes);
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
      }, delayMs);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    agent = new Agent();
    tokens = {
      realm: `http://127.0.0.1:${port}/token`,
      origin: new URL(`http://127.0.0.1:${port}`),
      requests,
      answer: (scopes) => ({ status: 200, body: { token: `t:${scopes.join(',')}`, expires_in: 300 } }),
    };
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => { done(); }));
    await agent.close();
  });

  function service(): TokenService {
    const hints = { insecureRegistryFlag: '--insecure-registry', caFileFlag: '--ca-file' };
    return new TokenService(new Transport(agent, { timeoutMs: 2_000, userAgent: 'test', hints }), undefined);
  }

  function request(...scopes: string[]): TokenRequest {
    return {
      bearer: { realm: tokens.realm, service: 'fake', scope: undefined },
      scopes,
      credential: { username: 'alice', password: 's3cret', source: 'test' },
      registry: { origin: tokens.origin, insecure: true },
    };
  }

  const signal = () => AbortSignal.timeout(5_000);
  const repo = (name: string) => `repository:${name}:pull`;

  it('asks once for every scope leased in one turn, and caches the token under each key', async () => {
    const svc = service();
    const leases = await Promise.all([
      svc.lease(request(repo('a')), signal()),
      svc.lease(request(repo('b'), 'registry:catalog:*'), signal()),
      svc.lease(request(repo('c')), signal()),
    ]);
    expect(tokens.requests).toEqual([[repo('a'), repo('b'), 'registry:catalog:*', repo('c')]]);
    const token = `t:${repo('a')},${repo('b')},registry:catalog:*,${repo('c')}`;
    expect(leases.map((l) => ({ token: l.token, cached: l.cached, shared: l.shared }))).toEqual(Array(3).fill({ token, cached: false, shared: true }));
    const later = await svc.lease(request(repo('b'), 'registry:catalog:*'), signal());
    expect(later).toMatchObject({ token, cached: true, shared: true });
    expect(tokens.requests).toHaveLength(1);
  });

  it('a lease alone in its turn is not shared', async () => {
    const lease = await service().lease(request(repo('a')), signal());
    expect(lease).toMatchObject({ token: `t:${repo('a')}`, cached: false, shared: false });
  });

  it('sends 20 scopes as two requests of 16 and 4', async () => {
    const svc = service();
    const leases = await Promise.all(Array.from({ length: 20 }, (_, i) => svc.lease(request(repo(`r${i}`)), signal())));
    expect(tokens.requests.map((scopes) => scopes.length).sort((a, b) => b - a)).toEqual([16, 4]);
    expect(new Set(leases.map((l) => l.token)).size).toBe(2);
  });

  it('asks for each scope alone when the token service refuses several at once with 400', async () => {
    const { answer } = tokens;
    tokens.answer = (scopes) => (scopes.length > 1 ? { status: 400, body: { errors: [{ code: 'DENIED' }] } } : answer(scopes));
    const svc = service();
    const leases = await Promise.all(['a', 'b', 'c'].map((name) => svc.lease(request(repo(name)), signal())));
    expect(leases.map((l) => [l.token, l.shared])).toEqual(['a', 'b', 'c'].map((name) => [`t:${repo(name)}`, false]));
    expect(tokens.requests[0]).toEqual([repo('a'), repo('b'), repo('c')]);
    expect(tokens.requests.slice(1).sort()).toEqual([[repo('a')], [repo('b')], [repo('c')]]);
  });

  it('gives a lone request its own 400, without asking again', async () => {
    tokens.answer = () => ({ status: 400 });
    const failure = await service().lease(request(repo('a')), signal()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RegistryFailure);
    expect(failure).toMatchObject({ kind: 'protocol', options: { status: 400 } });
    expect(tokens.requests).toHaveLength(1);
  });

  it.each([
    [401, 'auth'],
    [429, 'rate-limited'],
    [503, 'unavailable'],
  ])('gives a %i to every lease of the batch, without asking for each alone', async (status, kind) => {
    tokens.answer = () => ({ status });
    const svc = service();
    const outcomes = await Promise.allSettled(['a', 'b', 'c'].map((name) => svc.lease(request(repo(name)), signal())));
    for (const outcome of outcomes) {
      if (outcome.status !== 'rejected') throw new Error('a lease got a token');
      expect(outcome.reason).toBeInstanceOf(RegistryFailure);
      expect(outcome.reason).toMatchObject({ kind, options: { status } });
    }
    expect(tokens.requests).toHaveLength(1);
  });

  it('a caller that gives up stops only its own wait, not the shared request', async () => {
    const { answer } = tokens;
    tokens.answer = (scopes) => ({ ...answer(scopes), delayMs: 200 });
    const svc = service();
    const impatient = svc.lease(request(repo('a')), AbortSignal.timeout(20));
    const patient = svc.lease(request(repo('b')), signal());
    await expect(impatient).rejects.toMatchObject({ kind: 'aborted' });
    expect((await patient).token).toBe(`t:${repo('a')},${repo('b')}`);
    expect(tokens.requests).toHaveLength(1);
    // The token the impatient caller gave up on was cached all the same.
    expect(await svc.lease(request(repo('a')), signal())).toMatchObject({ token: `t:${repo('a')},${repo('b')}`, cached: true });
  });

  it('asks for an `alone` lease by itself, beside the batch', async () => {
    const svc = service();
    const [batched, , alone] = await Promise.all([
      svc.lease(request(repo('a')), signal()),
      svc.lease(request(repo('b')), signal()),
      svc.lease(request(repo('c')), signal(), { alone: true }),
    ]);
    expect(tokens.requests).toHaveLength(2);
    expect(tokens.requests).toContainEqual([repo('c')]);
    expect(tokens.requests).toContainEqual([repo('a'), repo('b')]);
    expect(batched.shared).toBe(true);
    expect(alone).toMatchObject({ token: `t:${repo('c')}`, shared: false });
  });

  it('invalidate forgets the refused token only, not one that already replaced it', async () => {
    const svc = service();
    const lease = await svc.lease(request(repo('a')), signal());
    svc.invalidate({ ...lease, token: 'an older token' });
    expect(await svc.lease(request(repo('a')), signal())).toMatchObject({ token: lease.token, cached: true });
    svc.invalidate(lease);
    expect(await svc.lease(request(repo('a')), signal())).toMatchObject({ cached: false });
    expect(tokens.requests).toHaveLength(2);
  });
});
