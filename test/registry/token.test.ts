import { describe, expect, it } from 'vitest';
import { RegistryFailure } from '../../src/registry/failure.js';
import { cacheTtl, DEFAULT_TOKEN_LIFETIME_MS, parseTokenResponse, tokenCacheKey, type TokenRequest } from '../../src/registry/token.js';

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
