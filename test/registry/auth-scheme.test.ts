import { describe, expect, it } from 'vitest';
import { basicAuthorization, bearerError, sameScheme, schemeFromChallenge, tokenScopes } from '../../src/registry/auth-scheme.js';
import { RegistryFailure } from '../../src/registry/failure.js';

describe('schemeFromChallenge', () => {
  it('reads a bearer challenge', () => {
    expect(schemeFromChallenge('Bearer realm="https://a/token",service="reg",scope="repository:x:pull"', 'reg')).toEqual({
      kind: 'bearer',
      bearer: { realm: 'https://a/token', service: 'reg', scope: 'repository:x:pull' },
    });
  });

  it('reads a basic challenge', () => {
    expect(schemeFromChallenge('Basic realm="basic-realm"', 'reg')).toEqual({ kind: 'basic' });
  });

  it('prefers bearer when both are offered, whatever the order', () => {
    expect(schemeFromChallenge('Basic realm="b", Bearer realm="https://a/token"', 'reg').kind).toBe('bearer');
  });

  it('falls back to basic when the bearer challenge has no realm', () => {
    expect(schemeFromChallenge('Bearer service="s", Basic realm="b"', 'reg').kind).toBe('basic');
  });

  it.each([
    ['no header', undefined, /answered 401 without a WWW-Authenticate challenge/],
    ['an empty header', '  ', /without a WWW-Authenticate challenge/],
    ['a malformed header', 'Bearer realm="unterminated', /malformed WWW-Authenticate header/],
    ['only unsupported schemes', 'Negotiate, Digest realm="x", nonce="y"', /unsupported authentication \(negotiate, digest\)/],
    ['a bearer challenge without realm', 'Bearer service="s"', /unsupported authentication \(bearer\)/],
  ])('fails on %s', (_name, header, problem) => {
    expect(() => schemeFromChallenge(header, 'reg:5000')).toThrow(problem);
    expect(() => schemeFromChallenge(header, 'reg:5000')).toThrow(RegistryFailure);
  });
});

describe('sameScheme', () => {
  const bearer = (realm: string, service?: string, scope?: string) => ({ kind: 'bearer' as const, bearer: { realm, service, scope } });

  it('ignores a bearer challenge scope but not its realm or service', () => {
    expect(sameScheme(bearer('r', 's'), bearer('r', 's', 'repository:x:pull'))).toBe(true);
    expect(sameScheme(bearer('r', 's'), bearer('q', 's'))).toBe(false);
    expect(sameScheme(bearer('r', 's'), bearer('r', 't'))).toBe(false);
  });

  it('compares kinds', () => {
    expect(sameScheme({ kind: 'basic' }, { kind: 'basic' })).toBe(true);
    expect(sameScheme({ kind: 'basic' }, { kind: 'anonymous' })).toBe(false);
    expect(sameScheme({ kind: 'basic' }, bearer('r'))).toBe(false);
  });
});

describe('tokenScopes', () => {
  it('asks for pull on the repository', () => {
    expect(tokenScopes('library/nginx', undefined)).toEqual(['repository:library/nginx:pull']);
  });

  it('keeps the scopes the challenge supplied for this repository, without duplicates', () => {
    expect(tokenScopes('dp/app', 'repository:dp/app:pull')).toEqual(['repository:dp/app:pull']);
    expect(tokenScopes('dp/app', 'repository:dp/app:pull,push')).toEqual(['repository:dp/app:pull', 'repository:dp/app:pull,push']);
  });

  it('keeps non-repository scopes and drops other repositories', () => {
    expect(tokenScopes('dp/app', 'repository:dp/other:pull registry:catalog:*  repository:dp/app-2:pull')).toEqual([
      'registry:catalog:*',
      'repository:dp/app:pull',
    ]);
  });
});

describe('basicAuthorization', () => {
  it('encodes username:password as UTF-8 base64', () => {
    expect(basicAuthorization({ username: 'Aladdin', password: 'open sesame', source: 's' })).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(basicAuthorization({ username: 'test', password: '123\u00a3', source: 's' })).toBe('Basic dGVzdDoxMjPCow==');
  });
});

describe('bearerError', () => {
  it('reads a well-formed error parameter', () => {
    expect(bearerError('Bearer realm="r",error="insufficient_scope"')).toBe('insufficient_scope');
  });

  it.each([undefined, 'Bearer realm="r"', 'Basic realm="r"', 'Bearer realm="r",error="<script>"', 'Bearer realm="'])('is undefined for %s', (header) => {
    expect(bearerError(header)).toBeUndefined();
  });
});
