/**
 * Registry traffic through a real egress proxy (Debian's squid on 127.0.0.1) in front
 * of the real test registries. The registries are given names under digest-pinner.test
 * that only squid's own hosts file resolves (this process's lookup is a table that
 * knows none of them unless a test says so), so a digest that comes back came through
 * the proxy. Each test reads squid's access log after squid has exited: every CONNECT
 * it tunnelled is there, and nothing else reached it.
 */
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Credential } from '../../src/credentials/types.js';
import { parseImage } from '../../src/reference/index.js';
import { RegistryClient, RegistryPolicyError, RegistryUnavailableError, proxySettingsFromEnv, type RegistryClientOptions } from '../../src/registry/index.js';
import { MAX_REQUESTS_PER_ORIGIN } from '../../src/registry/client.js';
import { startSquid, type AccessLogEntry } from '../harness/squid.js';
import { armWatchdog, type Watchdog } from '../harness/watchdog.js';
import { addTags, pushImage } from '../helpers/registry.js';
import type { TestRegistry } from '../helpers/registry-types.js';
import { fakeDns } from '../support/fake-dns.js';
import { rejection } from '../support/rejection.js';

const registries = inject('registries');
const { basic, token } = registries;
/** Resolved only by squid: the registry behind it. */
const BEHIND_PROXY = 'registry.digest-pinner.test';
/** Resolved here too (the test's lookup table) and by squid. */
const ALSO_LOCAL = 'local.digest-pinner.test';
const PROXY_USER = { username: 'egress', password: 'proxy pass phrase' };

function portOf(registry: TestRegistry): string {
  return registry.host.split(':')[1] ?? '';
}

function credentialOf(registry: TestRegistry): Credential {
  return { username: registry.username ?? '', password: registry.password ?? '', source: 'test' };
}

let workDir: string;
let watchdog: Watchdog;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'digest-pinner-proxy-'));
  // squid, started as root, runs as its own user, which must reach its directory inside.
  await chmod(workDir, 0o755);
  watchdog = armWatchdog(workDir);
});
afterAll(async () => {
  watchdog.disarm();
  await rm(workDir, { recursive: true, force: true });
});

interface ProxyRun<T> {
  readonly result: T;
  /** squid's access log, read after it exited. */
  readonly log: readonly AccessLogEntry[];
}

let runs = 0;
/**
 * Starts squid, runs `body` with a client whose environment names it (`env` plus
 * HTTPS_PROXY), closes the client, stops squid and returns what `body` returned and the log.
 */
async function throughSquid<T>(
  options: {
    env?: Record<string, string>;
    local?: Record<string, readonly string[]>;
    user?: typeof PROXY_USER;
    proxyUserInfo?: string;
    client?: Partial<RegistryClientOptions>;
  },
  body: (client: RegistryClient) => Promise<T>,
): Promise<ProxyRun<T>> {
  runs += 1;
  const squid = await startSquid({
    dir: join(workDir, `squid-${runs}`),
    hosts: { [BEHIND_PROXY]: '127.0.0.1', [ALSO_LOCAL]: '127.0.0.1' },
    ...(options.user === undefined ? {} : { user: options.user }),
    onSpawn: (pid) => {
      watchdog.watch(pid);
    },
  });
  const proxy = options.proxyUserInfo === undefined ? squid.url : squid.url.replace('http://', `http://${options.proxyUserInfo}@`);
  const client = new RegistryClient({
    env: {},
    proxy: proxySettingsFromEnv({ HTTPS_PROXY: proxy, ...options.env }),
    lookup: fakeDns(options.local ?? {}),
    caFiles: [registries.caFile],
    insecureRegistries: [],
    requestTimeoutMs: 10_000,
    userAgent: 'digest-pinner-test',
    ...options.client,
  });
  let outcome: { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };
  try {
    outcome = { ok: true, value: await body(client) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  await client.close();
  const log = await squid.stop();
  if (!outcome.ok) throw outcome.error;
  return { result: outcome.value, log };
}

function connects(log: readonly AccessLogEntry[]): string[] {
  return log.filter((entry) => entry.method === 'CONNECT').map((entry) => `${entry.target} ${entry.result}`);
}

/**
 * The ping and the HEAD went through tunnels to `target` and nowhere else: one kept alive, or
 * two when undici's pool opens a second connection for a request dispatched the instant before
 * the first one's socket is back in the pool.
 */
function expectTunnelsTo(log: readonly AccessLogEntry[], target: string): void {
  const tunnels = connects(log);
  expect(tunnels.length).toBeGreaterThanOrEqual(1);
  expect(tunnels.length).toBeLessThanOrEqual(2);
  expect(new Set(tunnels)).toEqual(new Set([`${target} TCP_TUNNEL/200`]));
}

function digestOf(client: RegistryClient, image: string, credential?: Credential) {
  const ref = parseImage(image);
  return client.getDigest(ref, ref.tag ?? 'latest', credential, AbortSignal.timeout(20_000));
}

describe('through the proxy', () => {
  it('a private image (htpasswd) resolves by a name only the proxy resolves, with its credentials; the proxy logs one tunnel to it', async () => {
    const target = `${BEHIND_PROXY}:${portOf(basic)}`;
    const { result, log } = await throughSquid({}, (client) => digestOf(client, `${target}/fixtures/single:v1`, credentialOf(basic)));
    expect(result.digest).toBe(basic.images.single.digest);
    expectTunnelsTo(log, target);
  });

  it('a private image behind token auth resolves through a proxy that wants credentials (given in its URL), trusting the registry by its own CA; the token realm on 127.0.0.1 is reached directly, as Go reaches loopback', async () => {
    const target = `${BEHIND_PROXY}:${portOf(token)}`;
    const realm = new URL(token.tokenUrl).host;
    const ca = await readFile(registries.caFile, 'utf8');
    const userInfo = `${PROXY_USER.username}:${encodeURIComponent(PROXY_USER.password)}`;
    const client: Partial<RegistryClientOptions> = {
      // No CA for anyone else: the tunnel's TLS must use this registry's own.
      caFiles: [],
      registries: new Map([
        [target, { ca, tokenRealms: [realm] }],
        [realm, { ca }],
      ]),
    };
    const { result, log } = await throughSquid({ user: PROXY_USER, proxyUserInfo: userInfo, client }, (c) =>
      digestOf(c, `${target}/fixtures/multi-arch:v1`, credentialOf(token)),
    );
    expect(result.digest).toBe(token.images.multiArch.digest);
    expectTunnelsTo(log, target);
    expect(new Set(log.map((entry) => entry.user))).toEqual(new Set([PROXY_USER.username]));
  });

  it('a proxy that wants credentials and gets wrong ones: the failure says so, and nothing was tunnelled', async () => {
    const { result, log } = await throughSquid({ user: PROXY_USER, proxyUserInfo: `${PROXY_USER.username}:wrong` }, (client) =>
      rejection(digestOf(client, `${BEHIND_PROXY}:${portOf(basic)}/fixtures/single:v1`, credentialOf(basic))),
    );
    expect(result).toBeInstanceOf(RegistryUnavailableError);
    expect(result.message).toContain(`proxy http://127.0.0.1:`);
    expect(result.message).toContain(`refused the tunnel to ${BEHIND_PROXY}:${portOf(basic)} with HTTP 407: it wants credentials`);
    expect(log.map((entry) => entry.result)).not.toContain('TCP_TUNNEL/200');
    expect(log.every((entry) => entry.result === 'TCP_DENIED/407')).toBe(true);
  });

  it(`many at once open at most ${MAX_REQUESTS_PER_ORIGIN} tunnels to one registry: the rest wait their turn, and every one answers`, async () => {
    const tags = Array.from({ length: 3 * MAX_REQUESTS_PER_ORIGIN }, (_, i) => `proxied-${i}`);
    const { digest } = await pushImage(basic, 'proxy/app', 'v1');
    await addTags(basic, 'proxy/app', 'v1', tags);
    const target = `${BEHIND_PROXY}:${portOf(basic)}`;
    const { result, log } = await throughSquid({}, (client) =>
      Promise.all(tags.map((tag) => digestOf(client, `${target}/proxy/app:${tag}`, credentialOf(basic)))),
    );
    expect(new Set(result.map((answer) => answer.digest))).toEqual(new Set([digest]));
    const tunnels = connects(log);
    expect(tunnels.length).toBeGreaterThan(0);
    expect(tunnels.length).toBeLessThanOrEqual(MAX_REQUESTS_PER_ORIGIN);
    expect(new Set(tunnels)).toEqual(new Set([`${target} TCP_TUNNEL/200`]));
  });
});

describe('around the proxy', () => {
  /**
   * [what, NO_PROXY, registry host as the image names it, names this process resolves].
   * The test registries listen on 127.0.0.1 only, and Go never proxies a loopback literal,
   * whatever NO_PROXY says (the third row): the first two rows hold that NO_PROXY as a
   * Kubernetes install writes it changes nothing for them. That an IP or CIDR entry
   * exempts the addresses it covers, and no others, is the unit table's (no-proxy.test.ts).
   */
  const ROWS: readonly (readonly [string, string, string, Record<string, readonly string[]>])[] = [
    ['a CIDR range over the loopback literal', '127.0.0.0/8', basic.host, {}],
    ['the loopback literal itself', '127.0.0.1', basic.host, {}],
    ['no entry: a loopback literal is never proxied (Go)', '', basic.host, {}],
    ['a domain suffix', '.digest-pinner.test', `${ALSO_LOCAL}:${portOf(basic)}`, { [ALSO_LOCAL]: ['127.0.0.1'] }],
    ['a host:port', `${ALSO_LOCAL}:${portOf(basic)}`, `${ALSO_LOCAL}:${portOf(basic)}`, { [ALSO_LOCAL]: ['127.0.0.1'] }],
  ];

  it.each(ROWS)('NO_PROXY with %s (%j): %s is reached directly, and the proxy sees nothing', async (_what, noProxy, host, local) => {
    const { result, log } = await throughSquid({ env: { NO_PROXY: noProxy }, local }, (client) =>
      digestOf(client, `${host}/fixtures/single:v1`, credentialOf(basic)),
    );
    expect(result.digest).toBe(basic.images.single.digest);
    expect(log).toEqual([]);
  });

  /** [what, NO_PROXY]: entries that do not cover a name resolving here to 127.0.0.1. */
  const PROXIED: readonly (readonly [string, string])[] = [
    ['entries for other hosts', '10.0.0.0/8,.cluster.local'],
    // Go compares IP entries with IP literals only: the name is never resolved for NO_PROXY.
    ['a CIDR range over the address the name resolves to', '127.0.0.0/8'],
  ];

  it.each(PROXIED)('NO_PROXY with %s (%j): the name goes through the proxy', async (_what, noProxy) => {
    const target = `${ALSO_LOCAL}:${portOf(basic)}`;
    const { result, log } = await throughSquid({ env: { NO_PROXY: noProxy }, local: { [ALSO_LOCAL]: ['127.0.0.1'] } }, (client) =>
      digestOf(client, `${target}/fixtures/single:v1`, credentialOf(basic)),
    );
    expect(result.digest).toBe(basic.images.single.digest);
    expectTunnelsTo(log, target);
  });
});

describe('the address guard, with a proxy', () => {
  const ROWS: readonly (readonly [string, string, Record<string, readonly string[]>, RegExp])[] = [
    ['the metadata address', '169.254.169.254', {}, /^169\.254\.169\.254 is a link-local \(cloud metadata\) address/],
    ['its IPv4-mapped IPv6 form', '[::ffff:a9fe:a9fe]', {}, /IPv4-mapped address of 169\.254\.169\.254/],
    ['a name that resolves here to it', 'metadata.digest-pinner.test', { 'metadata.digest-pinner.test': ['169.254.169.254'] }, /^metadata\.digest-pinner\.test \(resolves to 169\.254\.169\.254\) is a link-local/],
    ['a name with a label no DNS name can have', `${'a'.repeat(64)}.digest-pinner.test`, {}, /has a label of 64 characters; no DNS label is longer than 63/],
  ];

  it.each(ROWS)('refuses %s before any CONNECT', async (_what, host, local, reason) => {
    const { result, log } = await throughSquid({ local }, (client) => rejection(digestOf(client, `${host}/app:v1`)));
    expect(result).toBeInstanceOf(RegistryPolicyError);
    expect(result instanceof RegistryPolicyError ? result.reason : result.message).toMatch(reason);
    expect(log).toEqual([]);
  });
});
