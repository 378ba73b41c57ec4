/**
 * Fault injection against real Distribution registries: a fault proxy
 * (test/helpers/fault-proxy.ts) sits in front of the plain registry, and in
 * front of the token service of a token-auth registry started here. Each case
 * sends a real AdmissionReview through the webhook app (resolver, client,
 * circuit breaker, deadline) and checks the outcome and what it rests on:
 * pinned, pinned from a stale digest with a warning naming the registry's
 * failure, or the mode's failure with its reason. No check reads a clock: a
 * reason other than "deadline exceeded" shows the answer came before the
 * deadline, and what the proxy or the client's request hook saw shows which
 * requests were (not) sent.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { LookupFunction } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { parseImage } from '../../src/reference/index.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../src/server/app.js';
import { skipList, type AdmitResult, type AdmissionReviewResponse, type Mode } from '../../src/admission/index.js';
import type { Credential } from '../../src/credentials/types.js';
import { ManifestUnknownError, RegistryClient, type RegistryClientOptions, type RequestEvent } from '../../src/registry/index.js';
import { Resolver, type ResolverOptions } from '../../src/resolve/index.js';
import { rejection } from '../support/rejection.js';
import { requestLog, type RequestLog } from '../support/requests.js';
import { createPki, type TestPki } from '../harness/pki.js';
import { pushImage as pushTo } from '../harness/push.js';
import { startRegistry, type RunningRegistry } from '../harness/registry-process.js';
import { startTokenService, type TokenService, type TokenStats } from '../harness/token-service.js';
import { armWatchdog, type Watchdog } from '../harness/watchdog.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { pushImage } from '../helpers/registry.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { pinnedImages, podReview as pod } from '../support/webhook.js';

const registries = inject('registries');
const { plain } = registries;

/** The webhook's deadline for these tests: `?timeout=3s` less the 1 s margin, capped at 2 s. */
const DEADLINE_MS = 2_000;
/** How long a digest is fresh: a test that needs it stale moves the resolver's clock on rather than wait. */
const CACHE_TTL_MS = 30_000;

const timings: { case: string; ms: number; outcome: string }[] = [];
afterAll(() => {
  console.log(`fault-injection timings (deadline ${DEADLINE_MS} ms):\n${timings.map((t) => `  ${String(t.ms).padStart(5)} ms  ${t.outcome.padEnd(22)} ${t.case}`).join('\n')}`);
});

interface Answer {
  readonly allowed: boolean;
  readonly images: string[];
  readonly warnings: readonly string[];
  readonly denial: string | undefined;
  readonly resolutions: AdmitResult['resolutions'];
  readonly ms: number;
}

interface Webhook {
  readonly client: RegistryClient;
  /** Every request the client sent (unless the case hooks onRequest itself). */
  readonly requests: RequestLog;
  review(name: string, images: readonly string[], mode?: Mode): Promise<Answer>;
  close(): Promise<void>;
}

let uid = 0;
function podReview(images: readonly string[]) {
  uid += 1;
  return pod(images, { uid: `fault-${uid}`, namespace: 'faults', name: `p${uid}` });
}

const webhooks: Webhook[] = [];
afterAll(async () => {
  await Promise.all(webhooks.map((w) => w.close()));
});

/** The webhook app over a fresh client and resolver (so each case has its own cache and breakers). */
function webhook(options: {
  readonly insecure: readonly string[];
  readonly credentials?: readonly Credential[];
  readonly client?: Partial<RegistryClientOptions>;
  readonly resolver?: Partial<ResolverOptions>;
}): Webhook {
  const requests = requestLog();
  const client = new RegistryClient({
    env: {},
    caFiles: [],
    insecureRegistries: options.insecure,
    requestTimeoutMs: 1_000,
    userAgent: 'digest-pinner-faults',
    breaker: { failureThreshold: 3, coolDownMs: 30_000 },
    onRequest: requests.onRequest,
    ...options.client,
  });
  const resolver = new Resolver({
    source: client,
    cacheTtlMs: CACHE_TTL_MS,
    cacheMax: 1_000,
    fetchTimeoutMs: 2_500,
    staleForMs: 60_000,
    negativeTtlMs: 5_000,
    retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 400, minAttemptMs: 100 },
    ...options.resolver,
  });
  const results = new Map<string, AdmitResult>();
  const app = buildApp({
    mode: 'warn',
    deadlineMs: DEADLINE_MS,
    resolver,
    credentials: () => Promise.resolve([...(options.credentials ?? []), undefined]),
    skip: skipList([]),
    dropTag: false,
    ready: () => true,
    onAdmission: (result) => {
      results.set(result.response.uid, result);
    },
  });
  const hook: Webhook = {
    client,
    requests,
    review: async (name, images, mode = 'warn') => {
      const started = performance.now();
      const reply = await app.inject({ method: 'POST', url: `/mutate/${mode}?timeout=3s`, payload: podReview(images) });
      const ms = Math.round(performance.now() - started);
      const { response } = reply.json<AdmissionReviewResponse>();
      const resolutions = results.get(response.uid)?.resolutions ?? [];
      const stale = resolutions.some((r) => r.source === 'stale');
      const failed = (response.warnings ?? []).some((w) => w.includes(' not pinned'));
      const outcome = !response.allowed ? 'denied' : failed ? 'warned' : stale ? 'pinned (stale)' : 'pinned';
      timings.push({ case: name, ms, outcome });
      return {
        allowed: response.allowed,
        images: pinnedImages({ response }),
        warnings: response.warnings ?? [],
        denial: response.status?.message,
        resolutions,
        ms,
      };
    },
    close: async () => {
      await app.close();
      await client.close();
    },
  };
  webhooks.push(hook);
  return hook;
}

describe('plain registry behind the fault proxy', () => {
  let proxy: FaultProxy;
  let images: PushedImage[];
  const ref = (image: PushedImage): string => `${proxy.host}/${image.repository}:${image.tag}`;
  beforeAll(async () => {
    proxy = await startFaultProxy({ upstream: plain.host });
    images = await Promise.all(Array.from({ length: 10 }, (_, i) => pushImage(plain, 'faults/app', `v${i}`)));
  });
  afterAll(async () => {
    await proxy.close();
  });
  const image = (i: number): PushedImage => {
    const pushed = images[i];
    if (pushed === undefined) throw new Error(`no image ${i}`);
    return pushed;
  };
  const pinned = (i: number): string => `${ref(image(i))}@${image(i).digest}`;

  /**
   * A webhook that has resolved image `i`, whose resolver's clock has then moved past the
   * cache TTL: its digest may be served stale, and the next review asks the registry.
   */
  async function primed(i: number, resolver: Partial<ResolverOptions> = {}): Promise<Webhook> {
    await proxy.set({ kind: 'pass' });
    const clock = { now: Date.now() };
    const hook = webhook({ insecure: [proxy.host], resolver: { now: () => clock.now, ...resolver } });
    const first = await hook.review(`prime ${i}`, [ref(image(i))]);
    expect(first.images).toEqual([pinned(i)]);
    clock.now += CACHE_TTL_MS;
    return hook;
  }

  it('pins the images of a pod in parallel: all ten manifest requests are in flight at once', async () => {
    // The proxy lets no manifest request through until ten are waiting: requests sent one after another would never be answered.
    await proxy.set({ kind: 'gather', count: 10, pathIncludes: '/manifests/' });
    const hook = webhook({ insecure: [proxy.host] });
    const answer = await hook.review('10 images, held until all are asked', images.map(ref));
    expect(answer.images).toEqual(images.map((_, i) => pinned(i)));
  });

  describe('registry down (connections refused)', () => {
    it('warn: admits at once with a warning naming the image and the reason', async () => {
      await proxy.set({ kind: 'refuse' });
      const answer = await webhook({ insecure: [proxy.host] }).review('down, uncached, warn', [ref(image(0))]);
      expect(answer.allowed).toBe(true);
      expect(answer.images).toEqual([]);
      // The refusal is the reason given: an answer at the deadline would say "deadline exceeded".
      expect(answer.warnings[0]).toContain(`containers/c0 image "${ref(image(0))}" not pinned: cannot reach ${proxy.host}: connection refused`);
    });

    it('strict: denies, naming the image', async () => {
      await proxy.set({ kind: 'refuse' });
      const answer = await webhook({ insecure: [proxy.host] }).review('down, uncached, strict', [ref(image(0))], 'strict');
      expect(answer.allowed).toBe(false);
      expect(answer.denial).toContain(`"${ref(image(0))}" not pinned: cannot reach ${proxy.host}: connection refused`);
    });

    it('pins a recently resolved digest, stale, with a warning for the admission', async () => {
      const hook = await primed(1);
      await proxy.set({ kind: 'refuse' });
      const answer = await hook.review('down, cached → stale', [ref(image(1))], 'strict');
      expect(answer.allowed).toBe(true);
      expect(answer.images).toEqual([pinned(1)]);
      expect(answer.resolutions[0]).toMatchObject({ source: 'stale', digest: image(1).digest });
      expect(answer.resolutions[0]?.warning).toMatch(/^pinned to a stale digest \(resolved 30s ago\): cannot reach 127\.0\.0\.1:\d+: connection refused/);
      // The admission carries it as a warning naming the image.
      expect(answer.warnings).toEqual([`digest-pinner: containers/c0 image "${ref(image(1))}" ${answer.resolutions[0]?.warning ?? ''}`]);
    });

    it('opens the circuit breaker: later admissions fail fast without touching the registry', async () => {
      await proxy.set({ kind: 'refuse' });
      const hook = webhook({ insecure: [proxy.host] });
      await hook.review('down, breaker opening', [ref(image(2))]);
      expect(hook.client.breakerStates().get(proxy.host)).toBe('open');
      const sent = hook.requests.to(proxy.host).length;
      const answer = await hook.review('down, breaker open', [ref(image(3))]);
      expect(answer.warnings[0]).toMatch(/has been failing since .* \(circuit breaker open\)/);
      expect(hook.requests.to(proxy.host)).toHaveLength(sent);
    });
  });

  describe('registry slow past the deadline', () => {
    it('warn: answers at the deadline, though the registry never does', async () => {
      await proxy.set({ kind: 'hang' });
      const answer = await webhook({ insecure: [proxy.host] }).review('hanging, uncached', [ref(image(4))]);
      expect(answer.allowed).toBe(true);
      // The first request times out after 1 s, which leaves the breaker closed; its retry would time out only after the deadline.
      expect(answer.warnings[0]).toContain(`"${ref(image(4))}" not pinned: deadline exceeded`);
    });

    it('timeouts of requests in flight together count once; three one after another open the breaker, and admissions then fail over at once', async () => {
      // No retries: each admission's fetch is one request, so the breaker's count is the test's to sequence.
      const hook = await primed(5, { retry: { attempts: 1, baseDelayMs: 100, maxDelayMs: 400, minAttemptMs: 100 } });
      await proxy.set({ kind: 'delay', ms: 5_000 });
      const together = await hook.review('slow, 3 images at once', [ref(image(5)), ref(image(4)), ref(image(6))]);
      expect(together.images).toEqual([pinned(5)]);
      expect(together.resolutions[0]?.warning).toMatch(/^pinned to a stale digest \(resolved 30s ago\): 127\.0\.0\.1:\d+ did not answer within 1000 ms$/);
      expect(together.warnings.filter((w) => w.includes('not pinned: 127.0.0.1') && w.endsWith('did not answer within 1000 ms'))).toHaveLength(2);
      expect(hook.client.breakerStates().get(proxy.host)).toBe('closed');
      const second = await hook.review('slow, second in a row', [ref(image(5))]);
      expect(second.resolutions[0]?.warning).toMatch(/did not answer within 1000 ms$/);
      expect(hook.client.breakerStates().get(proxy.host)).toBe('closed');
      const third = await hook.review('slow, third in a row', [ref(image(5))]);
      expect(third.resolutions[0]?.warning).toMatch(/did not answer within 1000 ms$/);
      expect(hook.client.breakerStates().get(proxy.host)).toBe('open');
      const seen = proxy.stats.requests;
      const next = await hook.review('slow, breaker open → stale', [ref(image(5))]);
      expect(next.images).toEqual([pinned(5)]);
      expect(next.resolutions[0]?.warning).toMatch(/has been failing since .* \(3 failures in a row, last: .*did not answer within 1000 ms\).*\(circuit breaker open\)$/);
      // Failed over at once: not one request reached the proxy.
      expect(proxy.stats.requests).toBe(seen);
    });
  });

  it('connection reset mid-response: retried on a new connection and pinned', async () => {
    await proxy.set({ kind: 'reset', afterBytes: 20, connections: 2 });
    const resets = proxy.stats.resets;
    const answer = await webhook({ insecure: [proxy.host] }).review('reset mid-response ×2', [ref(image(6))]);
    expect(answer.images).toEqual([pinned(6)]);
    expect(answer.resolutions[0]?.source).toBe('registry');
    expect(proxy.stats.resets - resets).toBe(2);
  });

  describe('429 Too Many Requests', () => {
    it('waits the Retry-After when it fits the deadline, then pins', async () => {
      await proxy.set({ kind: 'respond', status: 429, count: 1, headers: { 'retry-after': '1' } });
      const answer = await webhook({ insecure: [proxy.host] }).review('429 Retry-After: 1', [ref(image(7))]);
      // Pinned, so before the deadline; and not before the registry's Retry-After.
      expect(answer.images).toEqual([pinned(7)]);
      expect(answer.ms).toBeGreaterThanOrEqual(1_000);
    });

    it('does not retry a Retry-After past the deadline, and keeps away from the registry until then', async () => {
      await proxy.set({ kind: 'respond', status: 429, count: 100, headers: { 'retry-after': '120' } });
      const hook = webhook({ insecure: [proxy.host] });
      const answer = await hook.review('429 Retry-After: 120', [ref(image(7))]);
      // Gave up at once rather than wait: an answer at the deadline would say "deadline exceeded".
      expect(answer.warnings[0]).toContain('rate limited (retry after 120 s)');
      const seen = proxy.stats.requests;
      const again = await hook.review('429, honoured: not asked again', [ref(image(8))]);
      expect(again.warnings[0]).toMatch(/asked not to be contacted before .* \(Retry-After\)/);
      expect(proxy.stats.requests).toBe(seen);
    });

    it('pins the stale digest when the wait is too long', async () => {
      const hook = await primed(8);
      await proxy.set({ kind: 'respond', status: 429, count: 100, headers: { 'retry-after': '120' } });
      const answer = await hook.review('429, cached → stale', [ref(image(8))]);
      expect(answer.images).toEqual([pinned(8)]);
      expect(answer.resolutions[0]?.warning).toContain('rate limited (retry after 120 s)');
    });
  });

  describe('5xx bursts', () => {
    it('rides out a short burst with retries', async () => {
      await proxy.set({ kind: 'respond', status: 503, count: 2 });
      const answered = proxy.stats.answered;
      const answer = await webhook({ insecure: [proxy.host] }).review('503 ×2', [ref(image(9))]);
      expect(answer.images).toEqual([pinned(9)]);
      expect(proxy.stats.answered - answered).toBe(2);
    });

    it('warns after a long burst with the status only, never the body', async () => {
      await proxy.set({ kind: 'respond', status: 503, count: 1_000 });
      const answer = await webhook({ insecure: [proxy.host] }).review('503 burst, uncached', [ref(image(9))]);
      // Three attempts, each answered 503 (the third opens the breaker, after the last attempt).
      expect(answer.warnings[0]).toContain(`"${ref(image(9))}" not pinned: registry answered 503 UNAVAILABLE`);
      // The OCI error code is shown (a short, checked token); the message and anything else in the body never are.
      expect(answer.warnings.join(' ')).not.toMatch(/secret|injected|internal detail/);
    });

    it('pins the stale digest through a long burst', async () => {
      const hook = await primed(0);
      await proxy.set({ kind: 'respond', status: 500, count: 1_000 });
      const answer = await hook.review('500 burst, cached → stale', [ref(image(0))]);
      expect(answer.images).toEqual([pinned(0)]);
      expect(answer.resolutions[0]?.warning).toMatch(/^pinned to a stale digest \(resolved 30s ago\): registry answered 500$/);
    });
  });

  it('refuses an image naming 169.254.169.254, or a host resolving to it, without connecting', async () => {
    const lookup: LookupFunction = (hostname, options, callback) => {
      const address = hostname === 'metadata.test' ? '169.254.169.254' : '127.0.0.1';
      if (options.all === true) callback(null, [{ address, family: 4 }]);
      else callback(null, address, 4);
    };
    const hook = webhook({ insecure: ['169.254.169.254', 'metadata.test'], client: { lookup } });
    const answer = await hook.review('SSRF: metadata address', ['169.254.169.254/latest/meta-data:v1', 'metadata.test/iam/credentials:v1'], 'strict');
    expect(answer.allowed).toBe(false);
    expect(answer.denial).toContain('169.254.169.254 is a link-local (cloud metadata) address, which digest-pinner never contacts');
    expect(answer.denial).toContain('metadata.test (resolves to 169.254.169.254) is a link-local (cloud metadata) address');
    // The literal address is refused before any request is made.
    expect(hook.requests.to('169.254.169.254')).toEqual([]);
  });
});

describe('token-auth registry with its token service behind the fault proxy', () => {
  const USER = 'faults';
  const PASSWORD = 'fault-injection password';
  let dir: string;
  let pki: TestPki;
  let tokens: TokenService;
  let tokenProxy: FaultProxy;
  let registry: RunningRegistry;
  let watchdog: Watchdog;
  const credential: Credential = { username: USER, password: PASSWORD, source: 'test faults' };

  beforeAll(async () => {
    dir = await mkdtemp(join(registries.workDir, 'faults-'));
    watchdog = armWatchdog(dir);
    pki = await createPki(dir);
    tokens = await startTokenService({ pki, service: 'faults', issuer: 'faults-issuer', username: USER, password: PASSWORD, publicPrefix: 'public/' });
    tokenProxy = await startFaultProxy({ upstream: new URL(tokens.tokenUrl).host, protocol: 'tcp' });
    registry = await startRegistry({
      name: 'faults-token',
      dir: join(dir, 'registry'),
      tls: undefined,
      auth: { kind: 'token', realm: `https://${tokenProxy.host}/token`, service: 'faults', issuer: 'faults-issuer', rootCertBundle: pki.caFile },
      onSpawn: (pid) => {
        watchdog.watch(pid);
      },
    });
    await mkdir(join(dir, 'certs.d'));
    await copyFile(pki.caFile, join(dir, 'certs.d', 'ca.crt'));
  });
  afterAll(async () => {
    await registry.stop();
    await tokenProxy.close();
    await tokens.close();
    watchdog.disarm();
    await rm(dir, { recursive: true, force: true });
  });

  /** Token requests the token service has answered so far (it counts per account; this file has its own service). */
  async function tokenRequests(): Promise<number> {
    const agent = new Agent({ connect: { ca: await readFile(pki.caFile, 'utf8') } });
    try {
      const response = await request(tokens.statsUrl, { dispatcher: agent });
      return ((await response.body.json()) as TokenStats).tokenRequests;
    } finally {
      await agent.close();
    }
  }

  function push(repository: string, tag: string): Promise<PushedImage> {
    const target = { host: registry.host, scheme: 'http' as const, caFile: pki.caFile, certDir: join(dir, 'certs.d'), username: USER, password: PASSWORD, scratchDir: dir };
    return pushTo(target, repository, tag);
  }

  const hookFor = (extra: Partial<ResolverOptions> = {}): Webhook =>
    webhook({ insecure: [registry.host], credentials: [credential], client: { caFiles: [pki.caFile] }, resolver: extra });

  it('token service down: a cached token keeps pinning; a new scope fails with the reason', async () => {
    await tokenProxy.set({ kind: 'pass' });
    const [a1, a2, other] = await Promise.all([push('tok/a', 'v1'), push('tok/a', 'v2'), push('tok/other', 'v1')]);
    const hook = hookFor();
    expect((await hook.review('token up', [`${registry.host}/tok/a:v1`])).images).toEqual([`${registry.host}/tok/a:v1@${a1.digest}`]);
    await tokenProxy.set({ kind: 'refuse' });
    const sameScope = await hook.review('token down, cached token', [`${registry.host}/tok/a:v2`]);
    expect(sameScope.images).toEqual([`${registry.host}/tok/a:v2@${a2.digest}`]);
    const newScope = await hook.review('token down, new scope', [`${registry.host}/tok/other:v1`]);
    expect(newScope.images).toEqual([]);
    // Refused three times in a row (one admission's retries), so the token host's breaker is open by the end.
    expect(newScope.warnings[0]).toMatch(new RegExp(`"${registry.host}/tok/other:v1" not pinned: .*${tokenProxy.host}.*connection refused`));
    expect(other.digest).toMatch(/^sha256:/);
  });

  it('token service hanging: answers by the deadline', async () => {
    await tokenProxy.set({ kind: 'pass' });
    await push('tok/hang', 'v1');
    await tokenProxy.set({ kind: 'hang' });
    const answer = await hookFor().review('token service hangs', [`${registry.host}/tok/hang:v1`]);
    // The token request times out after 1 s, which leaves the token host's breaker closed; the retry would time out only after the deadline.
    expect(answer.warnings[0]).toContain(`"${registry.host}/tok/hang:v1" not pinned: deadline exceeded`);
  });

  it('a cached token the registry refuses: replaced once, then pinned', async () => {
    await tokenProxy.set({ kind: 'pass' });
    const [a1, b1] = await Promise.all([push('tok/a', 'v1'), push('tok/b', 'v1')]);
    // The registry behind a proxy that can answer a request itself, so a token can be cached without the registry seeing it.
    const registryProxy = await startFaultProxy({ upstream: registry.host });
    try {
      const events: RequestEvent[] = [];
      const hook = webhook({
        insecure: [registryProxy.host],
        credentials: [credential],
        client: { caFiles: [pki.caFile], onRequest: (event) => events.push(event) },
      });
      const image = (repository: string) => parseImage(`${registryProxy.host}/${repository}:v1`);
      // The client learns the registry's challenge with a first image.
      expect((await hook.client.getDigest(image('tok/a'), 'v1', credential, AbortSignal.timeout(5_000))).digest).toBe(a1.digest);
      // A token for tok/b the registry refuses, though it claims 300 s, is fetched and cached; its request never reaches the registry.
      tokens.issueRefused(1);
      await registryProxy.set({ kind: 'respond', status: 404, count: 1 });
      expect(await rejection(hook.client.getDigest(image('tok/b'), 'v1', credential, AbortSignal.timeout(5_000)))).toBeInstanceOf(ManifestUnknownError);
      expect(registryProxy.stats.answered).toBe(1);
      const before = await tokenRequests();
      events.length = 0;
      const answer = await hook.review('refused cached token → refreshed', [`${registryProxy.host}/tok/b:v1`]);
      expect(answer.images).toEqual([`${registryProxy.host}/tok/b:v1@${b1.digest}`]);
      // The registry refused the cached token, exactly one new one was fetched, and the manifest asked again with it.
      expect((await tokenRequests()) - before).toBe(1);
      const tokenHost = tokenProxy.host;
      expect(events.map((e) => `${e.host === tokenHost ? 'token' : 'registry'} ${e.method} ${String(e.status)}`)).toEqual([
        'registry HEAD 401',
        'token GET 200',
        'registry HEAD 200',
      ]);
    } finally {
      await registryProxy.close();
    }
  });

  it('an expired token and the token service down: pins the stale digest with a warning', async () => {
    await tokenProxy.set({ kind: 'pass' });
    const c1 = await push('tok/c', 'v1');
    // One clock for the token cache and the resolver: the token expires, and the digest is past its TTL, without waiting.
    const clock = { now: Date.now() };
    const now = () => clock.now;
    const hook = webhook({
      insecure: [registry.host],
      credentials: [credential],
      client: { caFiles: [pki.caFile], now },
      resolver: { now, staleForMs: 3_600_000 },
    });
    expect((await hook.review('token cached, prime', [`${registry.host}/tok/c:v1`])).images).toEqual([`${registry.host}/tok/c:v1@${c1.digest}`]);
    // The test token service grants 300 s; the client keeps a token until 30 s before that.
    clock.now += 270_001;
    await tokenProxy.set({ kind: 'refuse' });
    const answer = await hook.review('token expired, token service down → stale', [`${registry.host}/tok/c:v1`]);
    expect(answer.images).toEqual([`${registry.host}/tok/c:v1@${c1.digest}`]);
    expect(answer.resolutions[0]?.source).toBe('stale');
    expect(answer.resolutions[0]?.warning).toBe(`pinned to a stale digest (resolved 4m ago): cannot reach ${tokenProxy.host}: connection refused (ECONNREFUSED)`);
  });
});
