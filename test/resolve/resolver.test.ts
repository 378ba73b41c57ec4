/**
 * The Resolver's pipeline over a scripted DigestSource: cache and de-duplication,
 * negative caching, stale digests on failure, retries, mirrors, parallelism.
 * The registry side is tested for real in faults.integration.test.ts; here the
 * source answers exactly what each case needs, on a clock the test moves.
 */
import { describe, expect, it } from 'vitest';
import { parseImage } from '../../src/reference/index.js';
import type { ImageRef } from '../../src/reference/types.js';
import type { Credential } from '../../src/credentials/types.js';
import {
  credentialKey,
  ManifestUnknownError,
  RegistryAuthError,
  RegistryCircuitOpenError,
  RegistryProtocolError,
  RegistryRateLimitedError,
  RegistryTimeoutError,
  RegistryUnavailableError,
  RegistryUnreachableError,
  type DigestSource,
  type ManifestDigest,
} from '../../src/registry/index.js';
import { ResolutionDeadlineError, Resolver, type LedgerAnswer, type LedgerObservation, type ResolverOptions, type ResolveScope, type TagLedger } from '../../src/resolve/index.js';
import { entryBytes, formatAge } from '../../src/resolve/cache-entry.js';
import { DEFAULT_CACHE_MAX_BYTES } from '../../src/resolve/resolver.js';
import { raceAbort } from '../../src/timeout.js';
import { rejection } from '../support/rejection.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const ALICE: Credential = { username: 'alice', password: 'pw-a', source: 'secret team-a/pull' };
const BOB: Credential = { username: 'bob', password: 'pw-b', source: 'secret team-b/pull' };

/** A digest, a failure, or one of them once `after` settles (an answer the test holds back). */
type Answer = string | Error | { readonly after: Promise<unknown>; readonly then: string | Error };

interface Call {
  readonly image: string;
  readonly user: string | undefined;
}

/** A DigestSource answering per `domain/path:tag` from a script (the last answer repeats). */
class ScriptedSource implements DigestSource {
  readonly calls: Call[] = [];
  private readonly script = new Map<string, Answer[]>();
  private readonly waiters: { readonly count: number; readonly arrived: () => void }[] = [];

  on(image: string, ...answers: Answer[]): this {
    this.script.set(image, answers);
    return this;
  }

  async getDigest(ref: ImageRef, tag: string, credential: Credential | undefined, signal: AbortSignal): Promise<ManifestDigest> {
    const image = `${ref.name}:${tag}`;
    this.calls.push({ image, user: credential?.username });
    for (const waiter of this.waiters.filter((w) => w.count <= this.calls.length)) waiter.arrived();
    const answers = this.script.get(image) ?? [new ManifestUnknownError(image, 'registry answered 404 MANIFEST_UNKNOWN', { status: 404 })];
    const answer = answers.length > 1 ? answers.shift() : answers[0];
    return this.settle(answer, signal);
  }

  count(image: string): number {
    return this.calls.filter((c) => c.image === image).length;
  }

  /** Settles once the source has been asked `count` times in all. */
  asked(count: number): Promise<void> {
    return new Promise((arrived) => {
      if (this.calls.length >= count) arrived();
      else this.waiters.push({ count, arrived });
    });
  }

  private async settle(answer: Answer | undefined, signal: AbortSignal): Promise<ManifestDigest> {
    if (answer === undefined) throw new Error('no answer scripted');
    if (typeof answer === 'string') return { digest: answer };
    if (answer instanceof Error) throw answer;
    await raceAbort(answer.after, signal, (reason) => (reason instanceof Error ? reason : new Error(String(reason))));
    return this.settle(answer.then, signal);
  }
}

/** A promise the test settles when it decides: an answer held back until then. */
function held(): { readonly promise: Promise<void>; release(): void } {
  let release = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

/** Never settles: the source has not answered when the resolution ends. */
const NEVER = new Promise<never>(() => undefined);

const IMAGE = 'registry.test/dp/app:v1';
const unavailable = (image = IMAGE): RegistryUnavailableError => new RegistryUnavailableError(image, 'registry answered 503', { status: 503 });

function setup(options: Partial<ResolverOptions> = {}) {
  const clock = { now: Date.parse('2030-01-01T00:00:00Z') };
  const source = new ScriptedSource();
  const resolver = new Resolver({
    source,
    cacheTtlMs: 60_000,
    cacheMax: 100,
    fetchTimeoutMs: 2_000,
    staleForMs: 3_600_000,
    negativeTtlMs: 30_000,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20, minAttemptMs: 10 },
    now: () => clock.now,
    ...options,
  });
  const resolve = (image: string, credentials: readonly (Credential | undefined)[] = [], signal = AbortSignal.timeout(5_000)) =>
    resolver.resolve(parseImage(image), { credentials, signal });
  return { clock, source, resolver, resolve };
}

describe('Resolver: cache', () => {
  it('answers a pinned reference without asking anyone', async () => {
    const { resolve, source } = setup();
    const pinned = `registry.test/dp/app@${digest(1)}`;
    expect(await resolve(pinned)).toMatchObject({ digest: digest(1), source: 'pinned' });
    expect(source.calls).toEqual([]);
  });

  it('asks the registry once, then answers from the cache until the TTL runs out', async () => {
    const { resolve, source, clock } = setup();
    source.on(IMAGE, digest(1), digest(2));
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(1), source: 'registry', credential: undefined });
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(1), source: 'cache' });
    clock.now += 60_000;
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(2), source: 'registry' });
    expect(source.count(IMAGE)).toBe(2);
  });

  it('shares one fetch between concurrent callers', async () => {
    const { resolve, source } = setup();
    const answer = held();
    source.on(IMAGE, { after: answer.promise, then: digest(1) });
    const pending = Promise.all(Array.from({ length: 20 }, () => resolve(IMAGE)));
    await source.asked(1);
    answer.release();
    const all = await pending;
    expect(new Set(all.map((r) => r.digest))).toEqual(new Set([digest(1)]));
    expect(source.count(IMAGE)).toBe(1);
  });

  it("keys everything by credential: one tenant's answer never serves another's", async () => {
    const { resolve, source } = setup();
    source.on(IMAGE, digest(1));
    expect(await resolve(IMAGE, [ALICE])).toMatchObject({ credential: ALICE.source, source: 'registry' });
    expect(await resolve(IMAGE, [BOB])).toMatchObject({ credential: BOB.source, source: 'registry' });
    expect(source.calls.map((c) => c.user)).toEqual(['alice', 'bob']);
  });
});

describe('Resolver: fresh lookups (a revision\'s first Pod)', () => {
  const fresh = (resolver: Resolver, image: string) => resolver.resolve(parseImage(image), { credentials: [], signal: AbortSignal.timeout(5_000), fresh: true });

  it('asks the registry even while the cache holds a fresh digest, and caches its answer', async () => {
    const { resolver, resolve, source } = setup();
    source.on(IMAGE, digest(1), digest(2));
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(1), source: 'registry' });
    expect(await fresh(resolver, IMAGE)).toMatchObject({ digest: digest(2), source: 'registry' });
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(2), source: 'cache' });
    expect(source.count(IMAGE)).toBe(2);
  });

  it('falls back to the cached digest, stale with a warning, when the registry cannot answer', async () => {
    const { resolver, resolve, source, clock } = setup();
    source.on(IMAGE, digest(1), unavailable());
    await resolve(IMAGE);
    clock.now += 5 * 60_000;
    const answer = await fresh(resolver, IMAGE);
    expect(answer).toMatchObject({ digest: digest(1), source: 'stale' });
    expect(answer.warning).toBe('pinned to a stale digest (resolved 5m ago): registry answered 503');
  });

  it('still takes a remembered "manifest unknown" from the cache', async () => {
    const { resolver, resolve, source } = setup();
    source.on(IMAGE, new ManifestUnknownError(IMAGE, 'registry answered 404 MANIFEST_UNKNOWN', { status: 404 }), digest(1));
    await expect(resolve(IMAGE)).rejects.toBeInstanceOf(ManifestUnknownError);
    await expect(fresh(resolver, IMAGE)).rejects.toBeInstanceOf(ManifestUnknownError);
    expect(source.count(IMAGE)).toBe(1);
  });
});

describe('Resolver: cache bounded by bytes', () => {
  /** A reference of about `length` characters: a host of 63-character labels, then a long path. */
  const longImage = (n: number) => `${'h'.repeat(63)}.${'i'.repeat(63)}.${'j'.repeat(63)}.test/${String(n).padStart(4, '0')}/${'p'.repeat(240)}:v1`;

  it('keeps fewer entries when their names are long: the least recent make room, the count bound aside', async () => {
    const { resolve, source, resolver } = setup({ cacheMax: 1_000, cacheMaxBytes: 40_000 });
    for (let n = 0; n < 200; n += 1) source.on(longImage(n), digest(n));
    for (let n = 0; n < 200; n += 1) await resolve(longImage(n));
    // Each entry counts its key (the name is about 450 characters), its digest and a fixed share.
    expect(resolver.size).toBeGreaterThan(0);
    expect(resolver.size).toBeLessThan(40_000 / 450);
    expect(await resolve(longImage(199))).toMatchObject({ source: 'cache' });
    expect(await resolve(longImage(0))).toMatchObject({ source: 'registry' });
  });

  it('by default, holds as many ordinary references as serve caches by count (100,000) before the byte bound binds', () => {
    const key = `${credentialKey(ALICE)}\u0000ghcr.io/some-organisation/some-service-name:v1.2.3`;
    const bytes = entryBytes({ kind: 'digest', digest: digest(1), fetchedAt: 0 }, key);
    expect(bytes * 100_000).toBeLessThan(DEFAULT_CACHE_MAX_BYTES);
  });
});

describe('Resolver: cached(), the answer from the cache without waiting', () => {
  it('is what resolve would answer from the cache, for the first credential, while fresh', async () => {
    const { resolve, resolver, source, clock } = setup();
    source.on(IMAGE, digest(1));
    const ref = parseImage(IMAGE);
    expect(resolver.cached(ref, [ALICE])).toBeUndefined();
    await resolve(IMAGE, [ALICE]);
    expect(resolver.cached(ref, [ALICE, BOB])).toEqual({ ref, digest: digest(1), source: 'cache', credential: ALICE.source });
    // Another tenant's first credential: resolve would ask with it, so memory has no answer.
    expect(resolver.cached(ref, [BOB, ALICE])).toBeUndefined();
    clock.now += 60_000;
    expect(resolver.cached(ref, [ALICE])).toBeUndefined();
    expect(source.count(IMAGE)).toBe(1);
  });

  it('answers a pinned reference; never a remembered "manifest unknown" or a stale digest', async () => {
    const { resolve, resolver, source, clock } = setup();
    const pinned = parseImage(`registry.test/dp/app@${digest(3)}`);
    expect(resolver.cached(pinned, [])).toMatchObject({ digest: digest(3), source: 'pinned' });
    await rejection(resolve('registry.test/dp/missing:v1'));
    expect(resolver.cached(parseImage('registry.test/dp/missing:v1'), [])).toBeUndefined();
    source.on(IMAGE, digest(1), unavailable());
    await resolve(IMAGE);
    clock.now += 60_000;
    expect(await resolve(IMAGE)).toMatchObject({ source: 'stale' });
    expect(resolver.cached(parseImage(IMAGE), [])).toBeUndefined();
  });

  it('leaves images of a mirrored registry to resolve (the mirror is asked first)', async () => {
    const { resolve, resolver, source } = setup({ mirrors: new Map([['registry.test', ['mirror.test/m']]]) });
    source.on('mirror.test/m/dp/app:v1', digest(7));
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(7), mirror: 'mirror.test/m' });
    expect(resolver.cached(parseImage(IMAGE), [])).toBeUndefined();
    expect(resolver.cached(parseImage('other.test/app:v1'), [])).toBeUndefined();
  });
});

describe('Resolver: negative caching', () => {
  it('remembers "manifest unknown" for negativeTtlMs, then asks again', async () => {
    const { resolve, source, clock } = setup();
    const first = await rejection(resolve(IMAGE));
    expect(first).toBeInstanceOf(ManifestUnknownError);
    expect(await rejection(resolve(IMAGE))).toBe(first);
    expect(source.count(IMAGE)).toBe(1);
    clock.now += 30_000;
    source.on(IMAGE, digest(7));
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(7), source: 'registry' });
  });

  it('does not remember it with negativeTtlMs 0', async () => {
    const { resolve, source } = setup({ negativeTtlMs: 0 });
    await rejection(resolve(IMAGE));
    await rejection(resolve(IMAGE));
    expect(source.count(IMAGE)).toBe(2);
  });

  it('replaces a cached digest: a deleted tag is not served stale', async () => {
    const { resolve, source, clock } = setup();
    source.on(IMAGE, digest(1), new ManifestUnknownError(IMAGE, 'registry answered 404', { status: 404 }), unavailable());
    await resolve(IMAGE);
    clock.now += 61_000;
    expect(await rejection(resolve(IMAGE))).toBeInstanceOf(ManifestUnknownError);
    clock.now += 31_000;
    expect(await rejection(resolve(IMAGE))).toBeInstanceOf(RegistryUnavailableError);
  });
});

describe('Resolver: stale on registry failure', () => {
  it.each([
    ['5xx', unavailable(), 'registry answered 503'],
    ['an open circuit breaker', new RegistryCircuitOpenError(IMAGE, 'registry.test has been failing since …'), 'registry.test has been failing since …'],
    ['a rate limit', new RegistryRateLimitedError(IMAGE, 'registry answered 429: rate limited (retry after 3600 s)', { status: 429, retryAfterMs: 3_600_000 }), 'registry answered 429: rate limited (retry after 3600 s)'],
  ])('serves the last digest stale, with a warning, after %s', async (_name, error, reason) => {
    const { resolve, source, clock } = setup();
    source.on(IMAGE, digest(1), error);
    await resolve(IMAGE);
    clock.now += 12 * 60_000 + 5_000;
    const stale = await resolve(IMAGE);
    expect(stale).toMatchObject({ digest: digest(1), source: 'stale' });
    expect(stale.warning).toBe(`pinned to a stale digest (resolved 12m ago): ${reason}`);
  });

  it('asks the registry again on the next resolution rather than trusting the stale digest', async () => {
    const { resolve, source, clock } = setup({ retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, minAttemptMs: 1 } });
    source.on(IMAGE, digest(1), unavailable(), digest(2));
    await resolve(IMAGE);
    clock.now += 61_000;
    expect((await resolve(IMAGE)).source).toBe('stale');
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(2), source: 'registry' });
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(2), source: 'cache' });
  });

  it('does not serve a digest older than staleForMs', async () => {
    const { resolve, source, clock } = setup({ staleForMs: 10 * 60_000 });
    source.on(IMAGE, digest(1), unavailable());
    await resolve(IMAGE);
    clock.now += 10 * 60_000 + 1;
    expect(await rejection(resolve(IMAGE))).toBeInstanceOf(RegistryUnavailableError);
  });

  it('never serves stale when staleForMs is 0', async () => {
    const { resolve, source, clock } = setup({ staleForMs: 0 });
    source.on(IMAGE, digest(1), unavailable());
    await resolve(IMAGE);
    clock.now += 61_000;
    expect(await rejection(resolve(IMAGE))).toBeInstanceOf(RegistryUnavailableError);
  });

  it('does not serve stale when the registry refuses the credential (an answer, not a failure)', async () => {
    const { resolve, source, clock } = setup();
    source.on(IMAGE, digest(1), new RegistryAuthError(IMAGE, 'registry answered 401', { status: 401 }));
    await resolve(IMAGE, [ALICE]);
    clock.now += 61_000;
    expect(await rejection(resolve(IMAGE, [ALICE]))).toBeInstanceOf(RegistryAuthError);
  });

  it("serves stale when the caller's deadline comes before the registry answers", async () => {
    const { resolve, source, clock } = setup({ staleForMs: 2 * 3_600_000 });
    source.on(IMAGE, digest(1), { after: NEVER, then: digest(2) });
    await resolve(IMAGE);
    clock.now += 3_600_000 + 61_000;
    const deadline = new AbortController();
    const pending = resolve(IMAGE, [], deadline.signal);
    // The registry has the request and will not answer: the deadline comes first.
    await source.asked(2);
    deadline.abort();
    const stale = await pending;
    expect(stale).toMatchObject({ digest: digest(1), source: 'stale' });
    expect(stale.warning).toMatch(/^pinned to a stale digest \(resolved 1h1m ago\): registry did not answer before the deadline$/);
  });

  it('fails at the deadline when there is nothing to serve', async () => {
    const { resolve, source } = setup();
    source.on(IMAGE, { after: NEVER, then: digest(1) });
    const deadline = new AbortController();
    const pending = rejection(resolve(IMAGE, [], deadline.signal));
    await source.asked(1);
    deadline.abort();
    const error = await pending;
    expect(error).toBeInstanceOf(ResolutionDeadlineError);
    expect(error.message).toBe(`could not get digest for ${IMAGE}: deadline exceeded`);
  });
});

describe('Resolver: how a registry could not be reached, told only where it may be', () => {
  const hidden = (domain: string) => domain !== 'listed.test';
  const retryOnce = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, minAttemptMs: 1 };

  it.each([
    ['refused', new RegistryUnavailableError(IMAGE, 'cannot reach registry.test: connection refused (ECONNREFUSED)')],
    ['timed out', new RegistryTimeoutError(IMAGE, 'registry.test did not answer within 5000 ms')],
    ['answered 503', unavailable()],
    ['answered something else', new RegistryProtocolError(IMAGE, 'registry answered 418, which the distribution protocol does not expect here', { status: 418 })],
    ['failing lately', new RegistryCircuitOpenError(IMAGE, 'registry.test has been failing since …')],
  ])('%s: the caller learns only that the registry could not be reached; the detail stays with the error', async (_name, failure) => {
    const { resolve, source } = setup({ discloses: (domain) => !hidden(domain), retry: retryOnce });
    source.on(IMAGE, failure);
    const error = await rejection(resolve(IMAGE));
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(error).toMatchObject({ code: 'DP_ERR_REGISTRY_UNREACHABLE', reason: 'registry registry.test could not be reached', detail: failure.message });
    expect(error.message).toBe(`could not get digest for ${IMAGE}: registry registry.test could not be reached`);
  });

  it('the deadline too', async () => {
    const { resolve, source } = setup({ discloses: () => false });
    source.on(IMAGE, { after: NEVER, then: digest(1) });
    const deadline = new AbortController();
    const pending = rejection(resolve(IMAGE, [], deadline.signal));
    await source.asked(1);
    deadline.abort();
    const error = await pending;
    expect(error).toMatchObject({ code: 'DP_ERR_REGISTRY_UNREACHABLE', detail: `could not get digest for ${IMAGE}: deadline exceeded` });
  });

  it('answers a registry gives on purpose are told as they are', async () => {
    const { resolve, source } = setup({ discloses: () => false });
    source.on(IMAGE, new ManifestUnknownError(IMAGE, 'registry answered 404 MANIFEST_UNKNOWN', { status: 404 }));
    expect(await rejection(resolve(IMAGE))).toBeInstanceOf(ManifestUnknownError);
  });

  it('a registry that may say how (on the allow-list) does', async () => {
    const { resolve, source } = setup({ discloses: (domain) => domain === 'registry.test', retry: retryOnce });
    source.on(IMAGE, unavailable());
    expect(await rejection(resolve(IMAGE))).toBeInstanceOf(RegistryUnavailableError);
  });
});

describe('Resolver: retries', () => {
  it('retries a 5xx burst inside one shared fetch', async () => {
    const { resolve, source } = setup();
    source.on(IMAGE, unavailable(), unavailable(), digest(3));
    expect(await resolve(IMAGE)).toMatchObject({ digest: digest(3), source: 'registry' });
    expect(source.count(IMAGE)).toBe(3);
  });

  it('gives up after the configured attempts', async () => {
    const { resolve, source } = setup({ retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1, minAttemptMs: 1 } });
    source.on(IMAGE, unavailable(), unavailable(), digest(3));
    expect(await rejection(resolve(IMAGE))).toBeInstanceOf(RegistryUnavailableError);
    expect(source.count(IMAGE)).toBe(2);
  });

  it('does not retry an open circuit breaker (that is what it is for)', async () => {
    const { resolve, source } = setup();
    source.on(IMAGE, new RegistryCircuitOpenError(IMAGE, 'failing'), digest(3));
    expect(await rejection(resolve(IMAGE))).toBeInstanceOf(RegistryCircuitOpenError);
    expect(source.count(IMAGE)).toBe(1);
  });
});

describe('Resolver: mirrors', () => {
  const UPSTREAM = 'quay.io/tigera/operator:v1.36';
  const MIRRORED = 'mirror.internal/quay/tigera/operator:v1.36';
  const mirrorOptions = (extra: Partial<ResolverOptions> = {}): Partial<ResolverOptions> => ({
    mirrors: new Map([['quay.io', ['mirror.internal/quay']]]),
    mirrorCredentials: (domain) => (domain === 'mirror.internal' ? [BOB] : []),
    ...extra,
  });

  it("uses the mirror's digest when it holds the tag, with the mirror's own credentials, and keeps the image's reference", async () => {
    const { resolve, source } = setup(mirrorOptions());
    source.on(MIRRORED, digest(5)).on(UPSTREAM, digest(6));
    const resolution = await resolve(UPSTREAM, [ALICE]);
    expect(resolution).toMatchObject({ digest: digest(5), source: 'registry', mirror: 'mirror.internal/quay', credential: BOB.source });
    expect(resolution.ref.written).toBe(UPSTREAM);
    expect(source.calls).toEqual([{ image: MIRRORED, user: 'bob' }]);
  });

  it('asks the registry itself when the mirror lacks the tag', async () => {
    const { resolve, source } = setup(mirrorOptions());
    source.on(UPSTREAM, digest(6));
    const resolution = await resolve(UPSTREAM, [ALICE]);
    expect(resolution).toMatchObject({ digest: digest(6), source: 'registry', credential: ALICE.source });
    expect(resolution.mirror).toBeUndefined();
    expect(source.calls).toEqual([
      { image: MIRRORED, user: 'bob' },
      { image: UPSTREAM, user: 'alice' },
    ]);
  });

  it('asks the registry itself when the mirror is down, or too slow', async () => {
    const down = setup(mirrorOptions());
    down.source.on(MIRRORED, unavailable(MIRRORED)).on(UPSTREAM, digest(6));
    expect(await down.resolve(UPSTREAM)).toMatchObject({ digest: digest(6) });
    // A mirror that never answers: the registry's digest can only come after mirrorWaitMs gave up on it.
    const slow = setup(mirrorOptions({ mirrorWaitMs: 50 }));
    slow.source.on(MIRRORED, { after: NEVER, then: digest(5) }).on(UPSTREAM, digest(6));
    expect(await slow.resolve(UPSTREAM)).toMatchObject({ digest: digest(6) });
    expect(slow.source.calls.map((c) => c.image)).toEqual([MIRRORED, UPSTREAM]);
  });

  it("falls back to the mirror's stale digest only when the registry fails too", async () => {
    const { resolve, source, clock } = setup(mirrorOptions());
    source.on(MIRRORED, digest(5), unavailable(MIRRORED)).on(UPSTREAM, unavailable(UPSTREAM));
    await resolve(UPSTREAM);
    clock.now += 61_000;
    const resolution = await resolve(UPSTREAM);
    expect(resolution).toMatchObject({ digest: digest(5), source: 'stale', mirror: 'mirror.internal/quay' });
    expect(resolution.warning).toMatch(/^pinned to a stale digest \(resolved 1m ago\): registry answered 503$/);
  });

  it('rewrites Docker Hub paths under the mirror as they are (library/ included)', async () => {
    const { resolve, source } = setup({ mirrors: new Map([['docker.io', ['mirror.internal/hub']]]) });
    source.on('mirror.internal/hub/library/nginx:1.27', digest(8));
    expect(await resolve('nginx:1.27')).toMatchObject({ digest: digest(8), mirror: 'mirror.internal/hub' });
  });
});

describe('Resolver: parallel images', () => {
  it('asks for ten images at once: no resolution waits for another', async () => {
    const { resolve, source } = setup();
    // Each answer waits until all ten have been asked: resolutions made one after another would never finish.
    const allAsked = source.asked(10);
    for (let i = 0; i < 10; i += 1) source.on(`registry.test/dp/app${i}:v1`, { after: allAsked, then: digest(i) });
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => resolve(`registry.test/dp/app${i}:v1`)));
    expect(all.map((r) => r.digest)).toEqual(Array.from({ length: 10 }, (_, i) => digest(i)));
  });
});

/** A ledger holding digests by (namespace, image), and older entries for the fallback, recording what it is told. */
class HeldLedger implements TagLedger {
  readonly held = new Map<string, string>();
  readonly older = new Map<string, LedgerAnswer>();
  readonly told: LedgerObservation[] = [];
  readonly asked: string[] = [];
  readonly fallbacks: string[] = [];

  answer(image: string, namespace: string | undefined): string | undefined {
    this.asked.push(`${namespace ?? ''} ${image}`);
    return this.held.get(`${namespace ?? ''} ${image}`);
  }

  fallback(image: string, namespace: string | undefined, withinMs: number): LedgerAnswer | undefined {
    this.fallbacks.push(`${namespace ?? ''} ${image} within ${withinMs}`);
    return this.older.get(`${namespace ?? ''} ${image}`);
  }

  observe(observation: LedgerObservation): void {
    this.told.push(observation);
  }
}

describe('Resolver: the tag ledger', () => {
  const POD: ResolveScope = { namespace: 'team-a', dryRun: false };
  const ledgered = (options: Partial<ResolverOptions> = {}) => {
    const ledger = new HeldLedger();
    const context = setup({ ledger, ...options });
    const admit = (image: string, scope: ResolveScope = POD, more: { fresh?: boolean; credentials?: readonly (Credential | undefined)[] } = {}) =>
      context.resolver.resolve(parseImage(image), { credentials: more.credentials ?? [], signal: AbortSignal.timeout(5_000), scope, fresh: more.fresh });
    return { ...context, ledger, admit };
  };

  it('answers from the ledger, as source ledger, without asking the registry', async () => {
    const { admit, ledger, source } = ledgered();
    ledger.held.set(`team-a ${IMAGE}`, digest(4));
    expect(await admit(IMAGE)).toMatchObject({ digest: digest(4), source: 'ledger' });
    expect(source.calls).toEqual([]);
  });

  it('asks the cache first: a digest it holds fresh is not looked up in the ledger', async () => {
    const { admit, ledger, source } = ledgered();
    source.on(IMAGE, digest(1));
    await admit(IMAGE);
    ledger.held.set(`team-a ${IMAGE}`, digest(4));
    ledger.asked.length = 0;
    expect(await admit(IMAGE)).toMatchObject({ digest: digest(1), source: 'cache' });
    expect(ledger.asked).toEqual([]);
  });

  it('keeps no ledger answer in the cache: the next admission is the ledger\'s again, and the registry\'s once the ledger has none', async () => {
    const { admit, ledger, source } = ledgered();
    source.on(IMAGE, digest(5));
    ledger.held.set(`team-a ${IMAGE}`, digest(4));
    expect(await admit(IMAGE)).toMatchObject({ digest: digest(4), source: 'ledger' });
    expect(await admit(IMAGE)).toMatchObject({ digest: digest(4), source: 'ledger' });
    ledger.held.clear();
    expect(await admit(IMAGE)).toMatchObject({ digest: digest(5), source: 'registry' });
    expect(source.calls).toHaveLength(1);
  });

  it('skips the ledger for a revision\'s first Pod (fresh): the registry answers', async () => {
    const { admit, ledger, source } = ledgered();
    ledger.held.set(`team-a ${IMAGE}`, digest(4));
    source.on(IMAGE, digest(5));
    expect(await admit(IMAGE, POD, { fresh: true })).toMatchObject({ digest: digest(5), source: 'registry' });
    expect(ledger.asked).toEqual([]);
  });

  it('tells the ledger what the registry answered, with the tenant whose pull secret answered', async () => {
    const { admit, ledger, source } = ledgered();
    source.on(IMAGE, digest(1));
    source.on('registry.test/dp/public:v1', digest(2));
    await admit(IMAGE, POD, { credentials: [{ ...ALICE, tenant: 'team-a' }] });
    await admit('registry.test/dp/public:v1');
    expect(ledger.told).toEqual([
      { image: IMAGE, digest: digest(1), domain: 'registry.test', tenant: 'team-a' },
      { image: 'registry.test/dp/public:v1', digest: digest(2), domain: 'registry.test', tenant: undefined },
    ]);
  });

  it('tells it nothing for a dry run, for the cache\'s answers, or without an admission (the CLI)', async () => {
    const { admit, ledger, source, resolve } = ledgered();
    source.on(IMAGE, digest(1));
    await admit(IMAGE, { namespace: 'team-a', dryRun: true });
    await admit(IMAGE);
    await resolve('registry.test/dp/other:v1').catch(() => undefined);
    source.on('registry.test/dp/cli:v1', digest(3));
    await resolve('registry.test/dp/cli:v1');
    expect(ledger.told).toEqual([]);
    // A dry run reads the ledger (it shows what a real request would pin); the second admission found the cache.
    expect(ledger.asked).toEqual(['team-a registry.test/dp/app:v1']);
  });

  it('tells it nothing a mirror answered: a mirror may lag its registry', async () => {
    const { admit, ledger, source } = ledgered({ mirrors: new Map([['registry.test', ['mirror.internal/rt']]]) });
    source.on('mirror.internal/rt/dp/app:v1', digest(6));
    expect(await admit(IMAGE)).toMatchObject({ digest: digest(6), mirror: 'mirror.internal/rt' });
    expect(ledger.told).toEqual([]);
  });
});

describe('Resolver: the ledger as the last fallback', () => {
  const POD: ResolveScope = { namespace: 'team-a', dryRun: false };
  const ledgered = () => {
    const ledger = new HeldLedger();
    const context = setup({ ledger });
    const admit = (image: string, more: { fresh?: boolean; scope?: ResolveScope } = {}) =>
      context.resolver.resolve(parseImage(image), { credentials: [], signal: AbortSignal.timeout(5_000), scope: 'scope' in more ? more.scope : POD, fresh: more.fresh });
    return { ...context, ledger, admit };
  };

  it('answers a revision\'s first Pod (fresh) from the ledger when the registry cannot answer and the cache holds nothing, stale with the cache\'s warning', async () => {
    const { admit, ledger, source, clock } = ledgered();
    source.on(IMAGE, unavailable());
    ledger.older.set(`team-a ${IMAGE}`, { digest: digest(7), verifiedAt: clock.now - 20 * 60_000 });
    const answer = await admit(IMAGE, { fresh: true });
    expect(answer).toMatchObject({ digest: digest(7), source: 'stale', credential: undefined });
    expect(answer.warning).toBe('pinned to a stale digest (resolved 20m ago): registry answered 503');
    // Within cache.staleFor, for the Pod's namespace (the ledger applies the tenant rule).
    expect(ledger.fallbacks).toEqual([`team-a ${IMAGE} within 3600000`]);
    expect(ledger.told).toEqual([]);
  });

  it('falls back the same for a Pod that is not a revision\'s first', async () => {
    const { admit, ledger, source, clock } = ledgered();
    source.on(IMAGE, unavailable());
    ledger.older.set(`team-a ${IMAGE}`, { digest: digest(7), verifiedAt: clock.now - 20 * 60_000 });
    expect(await admit(IMAGE)).toMatchObject({ digest: digest(7), source: 'stale' });
  });

  it('asks the cache first: its stale digest answers and the ledger is not asked', async () => {
    const { admit, ledger, source, clock } = ledgered();
    source.on(IMAGE, digest(1), unavailable());
    await admit(IMAGE);
    ledger.older.set(`team-a ${IMAGE}`, { digest: digest(7), verifiedAt: clock.now });
    clock.now += 5 * 60_000;
    expect(await admit(IMAGE, { fresh: true })).toMatchObject({ digest: digest(1), source: 'stale' });
    expect(ledger.fallbacks).toEqual([]);
  });

  it('is not a fallback when the registry answered (no such manifest, credentials refused)', async () => {
    const { admit, ledger, source, clock } = ledgered();
    source.on(IMAGE, new RegistryAuthError(IMAGE, 'registry answered 401', { status: 401 }));
    ledger.older.set(`team-a ${IMAGE}`, { digest: digest(7), verifiedAt: clock.now });
    await expect(admit(IMAGE, { fresh: true })).rejects.toBeInstanceOf(RegistryAuthError);
    await expect(admit('registry.test/dp/missing:v1', { fresh: true })).rejects.toBeInstanceOf(ManifestUnknownError);
    expect(ledger.fallbacks).toEqual([]);
  });

  it('is asked only for an admission (not the CLI), and the failure stands when it holds nothing', async () => {
    const { admit, ledger, source, clock } = ledgered();
    source.on(IMAGE, unavailable());
    ledger.older.set(` ${IMAGE}`, { digest: digest(7), verifiedAt: clock.now });
    await expect(admit(IMAGE, { fresh: true, scope: undefined })).rejects.toBeInstanceOf(RegistryUnavailableError);
    expect(ledger.fallbacks).toEqual([]);
    await expect(admit(IMAGE, { fresh: true })).rejects.toBeInstanceOf(RegistryUnavailableError);
    expect(ledger.fallbacks).toEqual([`team-a ${IMAGE} within 3600000`]);
  });
});

describe('formatAge', () => {
  it.each([
    [0, '0s'],
    [44_600, '45s'],
    [12 * 60_000, '12m'],
    [3_600_000, '1h'],
    [2 * 3_600_000 + 5 * 60_000, '2h5m'],
  ])('%i ms is %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});
