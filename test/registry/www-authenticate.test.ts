import { describe, expect, it } from 'vitest';
import { findChallenge, MalformedChallengeError, parseWwwAuthenticate } from '../../src/registry/www-authenticate.js';

interface Good {
  readonly name: string;
  readonly header: string;
  readonly want: readonly { scheme: string; params?: Record<string, string>; token68?: string }[];
}

const good: readonly Good[] = [
  {
    name: 'Distribution token challenge',
    header: 'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:dp/app:pull"',
    want: [{ scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:dp/app:pull' } }],
  },
  {
    name: 'Distribution htpasswd challenge',
    header: 'Basic realm="basic-realm"',
    want: [{ scheme: 'basic', params: { realm: 'basic-realm' } }],
  },
  { name: 'scheme only', header: 'Basic', want: [{ scheme: 'basic' }] },
  { name: 'case-insensitive scheme and names', header: 'BEARER Realm="r", SERVICE=s', want: [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }] },
  { name: 'token (unquoted) values', header: 'Bearer realm=r,service=s', want: [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }] },
  {
    name: 'comma inside a quoted string',
    header: 'Bearer realm="https://a/token",scope="repository:a:pull,push repository:b:pull"',
    want: [{ scheme: 'bearer', params: { realm: 'https://a/token', scope: 'repository:a:pull,push repository:b:pull' } }],
  },
  {
    name: 'escaped quote and backslash',
    header: String.raw`Basic realm="say \"hi\" \\ bye"`,
    want: [{ scheme: 'basic', params: { realm: 'say "hi" \\ bye' } }],
  },
  { name: 'empty quoted string', header: 'Basic realm=""', want: [{ scheme: 'basic', params: { realm: '' } }] },
  { name: 'whitespace around "="', header: 'Bearer realm = "r" , service= "s"', want: [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }] },
  {
    name: 'RFC 7235 example: two challenges',
    header: String.raw`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
    want: [
      { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'basic', params: { realm: 'simple' } },
    ],
  },
  {
    name: 'bearer then basic (as joined from two header lines)',
    header: 'Bearer realm="https://t/token",service="s", Basic realm="b"',
    want: [
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } },
      { scheme: 'basic', params: { realm: 'b' } },
    ],
  },
  { name: 'lone "name=" is token68, as the grammar says', header: 'Bearer realm=', want: [{ scheme: 'bearer', token68: 'realm=' }] },
  { name: 'token68', header: 'Negotiate YWJjZA==', want: [{ scheme: 'negotiate', token68: 'YWJjZA==' }] },
  {
    name: 'token68 followed by another challenge',
    header: 'Negotiate abc/+d=, Basic realm="x"',
    want: [{ scheme: 'negotiate', token68: 'abc/+d=' }, { scheme: 'basic', params: { realm: 'x' } }],
  },
  { name: 'scheme-only challenges in a list', header: 'Negotiate, Basic realm="x"', want: [{ scheme: 'negotiate' }, { scheme: 'basic', params: { realm: 'x' } }] },
  { name: 'empty list elements and trailing comma', header: ' , Basic realm="x",, ,', want: [{ scheme: 'basic', params: { realm: 'x' } }] },
  { name: 'error parameter (RFC 6750)', header: 'Bearer realm="r",error="insufficient_scope"', want: [{ scheme: 'bearer', params: { realm: 'r', error: 'insufficient_scope' } }] },
  { name: 'non-ASCII (obs-text) inside quotes', header: 'Basic realm="caf\u00e9"', want: [{ scheme: 'basic', params: { realm: 'caf\u00e9' } }] },
];

const bad: readonly { name: string; header: string; problem: RegExp }[] = [
  { name: 'empty', header: '', problem: /no challenge/ },
  { name: 'only commas', header: ' , ,', problem: /no challenge/ },
  { name: 'unterminated quoted string', header: 'Bearer realm="https://t', problem: /unterminated quoted string/ },
  { name: 'backslash at the end', header: 'Basic realm="abc\\', problem: /bad escape/ },
  { name: 'missing comma between parameters', header: 'Bearer realm="r" service="s"', problem: /expected ","/ },
  { name: 'parameter without value', header: 'Bearer realm="r", service=', problem: /expected a token or a quoted string/ },
  { name: 'parameter list after token68', header: 'Bearer realm=, service=s', problem: /expected a space after the auth scheme/ },
  { name: 'duplicate parameter', header: 'Bearer realm="a", REALM="b"', problem: /"realm" given twice/ },
  { name: 'starts with "="', header: '=Bearer', problem: /expected an auth scheme/ },
  { name: 'quoted scheme', header: '"Bearer" realm="r"', problem: /expected an auth scheme/ },
  { name: 'control character in a quoted string', header: 'Basic realm="a\u0001b"', problem: /control character/ },
  { name: 'parameter name not a token', header: 'Bearer realm="r", @x=1', problem: /expected an auth scheme/ },
  { name: 'space inside token value', header: 'Bearer realm=a b', problem: /expected ","/ },
];

describe('parseWwwAuthenticate', () => {
  it.each(good)('parses $name', ({ header, want }) => {
    const got = parseWwwAuthenticate(header).map((c) => ({
      scheme: c.scheme,
      ...(c.params.size > 0 ? { params: Object.fromEntries(c.params) } : {}),
      ...(c.token68 !== undefined ? { token68: c.token68 } : {}),
    }));
    expect(got).toEqual(want);
  });

  it.each(bad)('rejects $name', ({ header, problem }) => {
    expect(() => parseWwwAuthenticate(header)).toThrow(MalformedChallengeError);
    expect(() => parseWwwAuthenticate(header)).toThrow(problem);
  });

  it('names the position, not the header text, in its message', () => {
    const secretish = 'Bearer realm="https://t/token?key=SECRET';
    try {
      parseWwwAuthenticate(secretish);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MalformedChallengeError);
      expect((error as MalformedChallengeError).code).toBe('DP_ERR_MALFORMED_CHALLENGE');
      expect((error as Error).message).toMatch(/at character 13/);
      expect((error as Error).message).not.toContain('SECRET');
    }
  });
});

describe('findChallenge', () => {
  it('finds a scheme case-insensitively, first one first', () => {
    const challenges = parseWwwAuthenticate('Basic realm="one", bearer realm="two", Basic realm="three"');
    expect(findChallenge(challenges, 'BASIC')?.params.get('realm')).toBe('one');
    expect(findChallenge(challenges, 'Bearer')?.params.get('realm')).toBe('two');
    expect(findChallenge(challenges, 'digest')).toBeUndefined();
  });
});
