import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RegistryFailure } from '../../src/registry/failure.js';
import { cacheTtl, parseTokenResponse, tokenCacheKey, TokenService, type TokenRequest, type TokenServiceOptions } from '../../src/registry/token.js';
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
    expect(parseTokenResponse(body({ token: 't' }), NOW, 'auth').lifetimeMs).toBe(60_000);
    expect(parseTokenResponse(body({ token: 't', expires_in: 0 }), NOW, 'auth').lifetimeMs).toBe(60_000);
    expect(parseTokenResponse(body({ token: 't', expires_in: '300' }), NOW, 'auth').lifetimeMs).toBe(60_000);
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

describe('TokenService against a local token server', () => {
  /** How to answer a request; `hold` gets the function that sends the answer, for a test to call when it decides. */
  type Answer = (scopes: string[]) => { status: number; body?: unknown; hold?: (release: () => void) => void };
  interface TokenServer {
    readonly realm: string;
    readonly origin: URL;
    /** Scopes of every request, in arrival order. */
    readonly requests: string[][];
    /** The usual answer: a token naming its scopes, for 300 s. */
    readonly granted: Answer;
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
      const { status, body, hold } = tokens.answer(scopes);
      const send = () => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
      };
      if (hold === undefined) send();
      else hold(send);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    agent = new Agent();
    const granted: Answer = (scopes) => ({ status: 200, body: { token: `t:${scopes.join(',')}`, expires_in: 300 } });
    tokens = { realm: `http://127.0.0.1:${port}/token`, origin: new URL(`http://127.0.0.1:${port}`), requests, granted, answer: granted };
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => { done(); }));
    await agent.close();
  });

  function service(options: TokenServiceOptions = {}): TokenService {
    // Far off: no test here waits for a timeout, and a busy machine must not meet one.
    return new TokenService(new Transport(agent, { timeoutMs: 60_000, userAgent: 'test' }), options);
  }

  function request(...scopes: string[]): TokenRequest {
    return {
      bearer: { realm: tokens.realm, service: 'fake', scope: undefined },
      scopes,
      credential: { username: 'alice', password: 's3cret', source: 'test' },
      registry: { origin: tokens.origin, insecure: true },
    };
  }

  const signal = () => AbortSignal.timeout(60_000);
  const repo = (name: string) => `repository:${name}:pull`;

  it('asks for each repository alone, all at once: no lease waits for another', async () => {
    // The server answers no request until all three have arrived: leases made one after another would never finish.
    const { answer } = tokens;
    const held: (() => void)[] = [];
    tokens.answer = (scopes) => ({ ...answer(scopes), hold: (release) => {
      held.push(release);
      if (held.length === 3) for (const go of held) go();
    } });
    const svc = service();
    const leases = await Promise.all(['a', 'b', 'c'].map((name) => svc.lease(request(repo(name)), signal())));
    expect(tokens.requests.map((scopes) => scopes.join(' ')).sort()).toEqual([repo('a'), repo('b'), repo('c')]);
    expect(leases.map((l) => ({ token: l.token, cached: l.cached }))).toEqual(['a', 'b', 'c'].map((name) => ({ token: `t:${repo(name)}`, cached: false })));
  });

  it('shares one request among concurrent leases of one key, and serves later ones from the cache', async () => {
    const svc = service();
    const [first, second] = await Promise.all([svc.lease(request(repo('a')), signal()), svc.lease(request(repo('a')), signal())]);
    expect(tokens.requests).toEqual([[repo('a')]]);
    expect([first.cached, second.cached]).toEqual([false, false]);
    expect(await svc.lease(request(repo('a')), signal())).toMatchObject({ token: `t:${repo('a')}`, cached: true });
    expect(tokens.requests).toHaveLength(1);
  });

  it('keeps a token until shortly before its expires_in on its clock, then asks again', async () => {
    const clock = { now: NOW };
    const svc = service({ now: () => clock.now });
    await svc.lease(request(repo('a')), signal());
    // Good for 300 s less the 30 s margin.
    clock.now += 270_000;
    expect(await svc.lease(request(repo('a')), signal())).toMatchObject({ cached: true });
    clock.now += 1;
    expect(await svc.lease(request(repo('a')), signal())).toMatchObject({ cached: false });
    expect(tokens.requests).toHaveLength(2);
  });

  it('refuses a token longer than it accepts, says so in the failure, and logs it', async () => {
    const huge = 'x'.repeat(32 * 1024);
    tokens.answer = () => ({ status: 200, body: { token: huge, expires_in: 300 } });
    const warnings: { fields: Readonly<Record<string, unknown>>; message: string }[] = [];
    const svc = service({ warn: (fields, message) => warnings.push({ fields, message }) });
    const failure = await svc.lease(request(repo('a')), signal()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RegistryFailure);
    expect(failure).toMatchObject({ kind: 'protocol' });
    const reason = `token service ${tokens.origin.host} answered with a token of ${huge.length} bytes, longer than the 16384 accepted`;
    expect((failure as RegistryFailure).reason).toBe(reason);
    expect(warnings).toEqual([{ fields: { tokenService: tokens.origin.host, scopes: [repo('a')], tokenBytes: huge.length, maxTokenBytes: 16384 }, message: reason }]);
    // Nothing was cached: the next lease asks again.
    await svc.lease(request(repo('a')), signal()).catch(() => undefined);
    expect(tokens.requests).toHaveLength(2);
  });

  it('refuses a response longer than it reads (it stops reading there), says so in the failure, and logs it', async () => {
    tokens.answer = () => ({ status: 200, body: { token: 'x'.repeat(512 * 1024), expires_in: 300 } });
    const warnings: { fields: Readonly<Record<string, unknown>>; message: string }[] = [];
    const svc = service({ warn: (fields, message) => warnings.push({ fields, message }) });
    const failure = await svc.lease(request(repo('a')), signal()).catch((error: unknown) => error);
    const reason = `token service ${tokens.origin.host} answered with more than 64 KiB`;
    expect(failure).toMatchObject({ kind: 'protocol', reason });
    expect(warnings).toEqual([{ fields: { tokenService: tokens.origin.host, scopes: [repo('a')], maxResponseBytes: 65536 }, message: reason }]);
  });

  it('accepts a token of the longest accepted length', async () => {
    const longest = 'y'.repeat(16384);
    tokens.answer = () => ({ status: 200, body: { token: longest, expires_in: 300 } });
    expect((await service().lease(request(repo('a')), signal())).token).toBe(longest);
  });

  it('keeps its tokens within its byte bound: the least recently used go first', async () => {
    // Tokens near the longest accepted: the byte bound, not the count, decides what stays.
    tokens.answer = (scopes) => ({ status: 200, body: { token: `${scopes.join(',')}:${'z'.repeat(16_300)}`, expires_in: 300 } });
    const svc = service();
    const names = Array.from({ length: 260 }, (_, i) => `r${i}`);
    for (const name of names) await svc.lease(request(repo(name)), signal());
    expect(tokens.requests).toHaveLength(260);
    expect(await svc.lease(request(repo('r259')), signal())).toMatchObject({ cached: true });
    expect(await svc.lease(request(repo('r0')), signal())).toMatchObject({ cached: false });
    expect(tokens.requests).toHaveLength(261);
  });

  it('gives each lease its own failure, as the token service answered it', async () => {
    tokens.answer = (scopes) => (scopes.includes(repo('b')) ? { status: 403, body: { errors: [{ code: 'DENIED' }] } } : tokens.granted(scopes));
    const svc = service();
    const outcomes = await Promise.allSettled(['a', 'b'].map((name) => svc.lease(request(repo(name)), signal())));
    expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: { token: `t:${repo('a')}` } });
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { kind: 'auth', options: { status: 403 } } });
    expect(tokens.requests).toHaveLength(2);
  });

  it('a caller that gives up stops only its own wait, not the request others share', async () => {
    const { answer } = tokens;
    let arrived: (release: () => void) => void = () => undefined;
    const held = new Promise<() => void>((resolve) => { arrived = resolve; });
    tokens.answer = (scopes) => ({ ...answer(scopes), hold: arrived });
    const svc = service();
    const impatient = new AbortController();
    const gaveUp = svc.lease(request(repo('a')), impatient.signal);
    const patient = svc.lease(request(repo('a')), signal());
    impatient.abort(new Error('deadline'));
    await expect(gaveUp).rejects.toMatchObject({ kind: 'aborted' });
    (await held)();
    expect((await patient).token).toBe(`t:${repo('a')}`);
    expect(tokens.requests).toHaveLength(1);
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
