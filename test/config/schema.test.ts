/** Validation of the configuration file: what is accepted, and messages that name the bad field. */
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CACHE, parseConfig, parseLocation, validateConfig } from '../../src/config/index.js';
import { CONFIG_HEADER as HEADER } from './header.js';

const EXAMPLE = `${HEADER}
registries:
  registry.internal:
    ca: /etc/digest-pinner/ca/internal.pem
    clientCert: /etc/digest-pinner/tls/tls.crt
    clientKey: /etc/digest-pinner/tls/tls.key
    insecure: false
  quay.io:
    mirrors: [mirror.internal/quay]   # tried before upstream
  registry.gitlab.com:
    tokenRealms: [gitlab.com]
  localhost:5000:
    insecure: true
rewrites:
  - from: quay.io/tigera/
    to: registry.internal/mirror/tigera/
allow: [registry.internal, quay.io, mirror.internal, registry.gitlab.com, localhost:5000]
cache: { staleFor: 1h, negativeTtl: 30s }
retry: { attempts: 4, backoff: 200ms, maxBackoff: 2s }
breaker: { failures: 5, coolDown: 1m }
`;

function problem(text: string): string {
  try {
    parseConfig(text, 'config.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig: a complete file', () => {
  const config = parseConfig(EXAMPLE, 'config.yaml');

  it('reads every registry, keyed by lower-case host[:port]', () => {
    expect([...config.registries.keys()]).toEqual(['registry.internal', 'quay.io', 'registry.gitlab.com', 'localhost:5000']);
    expect(config.registries.get('registry.internal')).toEqual({
      ca: '/etc/digest-pinner/ca/internal.pem',
      clientCert: '/etc/digest-pinner/tls/tls.crt',
      clientKey: '/etc/digest-pinner/tls/tls.key',
      insecure: false,
      mirrors: [],
      tokenRealms: [],
    });
    expect(config.registries.get('quay.io')?.mirrors).toEqual([{ domain: 'mirror.internal', path: 'quay', text: 'mirror.internal/quay' }]);
    expect(config.registries.get('registry.gitlab.com')?.tokenRealms).toEqual(['gitlab.com']);
    expect(config.registries.get('localhost:5000')?.insecure).toBe(true);
  });

  it('reads rewrites, allow-list, cache, retry and breaker', () => {
    expect(config.rewrites.map((r) => `${r.from.text} → ${r.to.text}`)).toEqual(['quay.io/tigera → registry.internal/mirror/tigera']);
    expect(config.allow).toEqual(['registry.internal', 'quay.io', 'mirror.internal', 'registry.gitlab.com', 'localhost:5000']);
    expect(config.cache).toEqual({ staleForMs: 3_600_000, negativeTtlMs: 30_000 });
    expect(config.retry).toEqual({ attempts: 4, backoffMs: 200, maxBackoffMs: 2_000 });
    expect(config.breaker).toEqual({ failures: 5, coolDownMs: 60_000 });
  });

  it('takes a file with apiVersion and kind alone as the defaults', () => {
    const empty = parseConfig(HEADER, 'config.yaml');
    expect(empty.registries.size).toBe(0);
    expect(empty.allow).toBeUndefined();
    expect(empty.cache).toEqual(DEFAULT_CACHE);
    expect(parseConfig(`# nothing yet\n${HEADER}`, 'config.yaml').rewrites).toEqual([]);
  });

  it('accepts a registry with no settings and 0 to disable caching under failure', () => {
    const config2 = parseConfig(HEADER + 'registries:\n  quay.io:\ncache: { staleFor: 0, negativeTtl: "0" }\n', 'c.yaml');
    expect(config2.registries.get('quay.io')?.mirrors).toEqual([]);
    expect(config2.cache).toEqual({ staleForMs: 0, negativeTtlMs: 0 });
  });
});

describe('parseConfig: errors name the file and the field', () => {
  it.each([
    ['registries:\n  quay.io:\n    mirrors: ["http://x"]\n', 'config.yaml: registries."quay.io".mirrors[0]: "http://x" must be HOST[:PORT][/PATH]'],
    ['registries:\n  quay.io:\n    mirrors: [mirror/quay]\n', 'config.yaml: registries."quay.io".mirrors[0]: "mirror/quay" must be HOST[:PORT][/PATH]'],
    ['registries:\n  quay.io:\n    mirrors: [quay.io]\n', 'config.yaml: registries."quay.io".mirrors[0]: a registry cannot be its own mirror'],
    ['registries:\n  quay.io:\n    mirrors: mirror.internal\n', 'config.yaml: registries."quay.io".mirrors: must be a list, not "mirror.internal"'],
    ['registries:\n  quay.io:\n    mirors: [m.internal]\n', 'config.yaml: registries."quay.io".mirors: not a known field (known: ca, clientCert, clientKey, insecure, mirrors, tokenRealms)'],
    ['registries:\n  https://quay.io:\n    insecure: true\n', 'config.yaml: registries."https://quay.io": "https://quay.io" must be HOST[:PORT] as images name the registry'],
    ['registries:\n  quay:\n    insecure: true\n', 'config.yaml: registries.quay: "quay" must be HOST[:PORT] as images name the registry'],
    ['registries:\n  index.docker.io: {}\n', 'config.yaml: registries."index.docker.io": write Docker Hub as docker.io, the name images use'],
    ['registries:\n  Quay.io: {}\n  quay.io: {}\n', 'config.yaml: registries."quay.io": quay.io is configured twice (names are not case-sensitive)'],
    ['registries:\n  quay.io:\n    insecure: "yes"\n', 'config.yaml: registries."quay.io".insecure: must be true or false, not "yes"'],
    ['registries:\n  quay.io:\n    clientCert: /a.crt\n', 'config.yaml: registries."quay.io".clientKey: clientCert and clientKey go together'],
    ['registries:\n  quay.io:\n    insecure: true\n    ca: /ca.pem\n', 'config.yaml: registries."quay.io".insecure: an insecure (plain HTTP) registry has no TLS: drop ca/clientCert or insecure'],
    ['registries:\n  quay.io:\n    ca: ""\n', 'config.yaml: registries."quay.io".ca: must be a non-empty string, not ""'],
    ['registries:\n  quay.io:\n    tokenRealms: ["https://auth.quay.io/token"]\n', 'config.yaml: registries."quay.io".tokenRealms[0]: "https://auth.quay.io/token" must be HOST[:PORT]'],
    ['rewrites:\n  - from: quay.io/tigera\n', 'config.yaml: rewrites[0].to: must be a non-empty string, not empty'],
    ['rewrites:\n  - from: quay.io/Tigera\n    to: r.internal\n', 'config.yaml: rewrites[0].from: "quay.io/Tigera" must be HOST[:PORT][/PATH]'],
    ['rewrites:\n  - from: quay.io/x:v1\n    to: r.internal\n', 'config.yaml: rewrites[0].from: "quay.io/x:v1" must be HOST[:PORT][/PATH]'],
    ['rewrites:\n  - { from: quay.io/a, to: r.internal/a }\n  - { from: quay.io/a/, to: r.internal/b }\n', 'config.yaml: rewrites[1].from: quay.io/a is rewritten by an earlier rule already'],
    ['rewrites: { from: quay.io, to: r.internal }\n', 'config.yaml: rewrites: must be a list, not a mapping'],
    ['allow: [quay.io, "*.internal"]\n', 'config.yaml: allow[1]: "*.internal" must be HOST[:PORT]'],
    ['allow: [quay.io]\nregistries:\n  quay.io:\n    mirrors: [mirror.internal/quay]\n', 'config.yaml: registries."quay.io".mirrors[0]: mirror mirror.internal is not in allow'],
    ['allow: [quay.io]\nrewrites:\n  - { from: quay.io/a, to: r.internal/a }\n', 'config.yaml: rewrites[0].to: r.internal is not in allow'],
    ['cache: { staleFor: 1 hour }\n', 'config.yaml: cache.staleFor: "1 hour" is not a duration (examples: 30s, 5m, 1h, 0 to disable)'],
    ['cache: { staleFor: -5 }\n', 'config.yaml: cache.staleFor: -5 is not a duration (examples: 30s, 5m, 1h, 0 to disable)'],
    ['cache: { ttl: 5m }\n', 'config.yaml: cache.ttl: not a known field (known: staleFor, negativeTtl)'],
    ['retry: { attempts: 0 }\n', 'config.yaml: retry.attempts: must be a whole number from 1 to 10, not 0'],
    ['retry: { attempts: 2.5 }\n', 'config.yaml: retry.attempts: must be a whole number from 1 to 10, not 2.5'],
    ['retry: { backoff: 2s, maxBackoff: 1s }\n', 'config.yaml: retry.maxBackoff: must not be shorter than backoff'],
    ['breaker: { failures: 0 }\n', 'config.yaml: breaker.failures: must be a whole number from 1 up, not 0'],
    ['breaker: { coolDown: 0s }\n', 'config.yaml: breaker.coolDown: must be longer than 0'],
    ['registry:\n  quay.io: {}\n', 'config.yaml: registry: not a known field (known: apiVersion, kind, registries, rewrites, allow, cache, retry, breaker)'],
  ])('%j', (text, message) => {
    expect(problem(HEADER + text)).toBe(message);
  });

  it('refuses a document that is not a mapping', () => {
    expect(problem('- just\n- a list\n')).toBe('config.yaml: must be a mapping, not a list');
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(problem(HEADER + 'registries:\n  quay.io:\n    mirrors: [a.b\n')).toMatch(/^config\.yaml: line \d+, column \d+: .* \(not valid YAML\)$/);
    expect(problem(HEADER + 'allow: [a.io]\nallow: [b.io]\n')).toBe('config.yaml: line 4, column 1: Map keys must be unique (not valid YAML)');
  });

  it('is a ConfigError with a stable code, the file and the field', () => {
    let caught: unknown;
    try {
      validateConfig({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'Configuration', allow: 'quay.io' }, '/etc/dp/config.yaml');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect(caught).toMatchObject({ code: 'DP_ERR_CONFIG', file: '/etc/dp/config.yaml', field: 'allow', problem: 'must be a list, not "quay.io"' });
  });
});

describe('parseConfig: apiVersion and kind', () => {
  it.each([
    ['', 'config.yaml: apiVersion and kind are missing: add "apiVersion: digest-pinner.io/v1alpha1" and "kind: Configuration" at the top of the file'],
    ['registries:\n  quay.io: {}\n', 'config.yaml: apiVersion and kind are missing: add "apiVersion: digest-pinner.io/v1alpha1" and "kind: Configuration" at the top of the file'],
    ['regstries: {}\n', 'config.yaml: apiVersion and kind are missing: add "apiVersion: digest-pinner.io/v1alpha1" and "kind: Configuration" at the top of the file'],
    ['kind: Configuration\n', 'config.yaml: apiVersion: missing: add "apiVersion: digest-pinner.io/v1alpha1" at the top of the file'],
    ['apiVersion: digest-pinner.io/v1alpha1\n', 'config.yaml: kind: missing: add "kind: Configuration" at the top of the file'],
    ['apiVersion: digest-pinner.io/v1\nkind: Configuration\n', 'config.yaml: apiVersion: "digest-pinner.io/v1" is not digest-pinner.io/v1alpha1, the version this digest-pinner reads'],
    ['apiVersion: digest-pinner.io/v1alpha1\nkind: ImageSet\n', 'config.yaml: kind: "ImageSet" is not Configuration'],
  ])('%j', (text, message) => {
    expect(problem(text)).toBe(message);
  });
});

describe('parseLocation', () => {
  it.each([
    ['mirror.internal', { domain: 'mirror.internal', path: '', text: 'mirror.internal' }],
    ['mirror.internal/', { domain: 'mirror.internal', path: '', text: 'mirror.internal' }],
    ['Mirror.Internal:5000/quay/sub', { domain: 'mirror.internal:5000', path: 'quay/sub', text: 'mirror.internal:5000/quay/sub' }],
    ['localhost/x', { domain: 'localhost', path: 'x', text: 'localhost/x' }],
    ['[::1]:5000/x', { domain: '[::1]:5000', path: 'x', text: '[::1]:5000/x' }],
  ])('reads %s', (text, location) => {
    expect(parseLocation(text)).toEqual(location);
  });

  it.each(['http://mirror.internal', 'mirror', 'mirror/quay', 'mirror.internal//x', 'mirror.internal/UPPER', 'mirror.internal/x:tag', 'mirror.internal/x@sha256:abc', ''])(
    'refuses %j',
    (text) => {
      expect(parseLocation(text)).toBeUndefined();
    },
  );
});

