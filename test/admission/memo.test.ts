/** AnswerMemo and admit(): repeats of a pod spec answered from memory, exactly as a fresh admission would answer them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admit, planAdmission, type AdmitDeps, type Deadline, type ImageResolver } from '../../src/admission/admit.js';
import { AnswerMemo } from '../../src/admission/memo.js';
import { skipList } from '../../src/admission/skip.js';
import type { AdmissionRequest, Mode } from '../../src/admission/types.js';
import { ORIGINAL_IMAGES_ANNOTATION } from '../../src/patch/annotation.js';
import type { ImageRef } from '../../src/reference/types.js';
import type { Resolution } from '../../src/resolve/index.js';

const TTL_MS = 60_000;

/** A clock the resolver stand-in and the memo share. */
class Clock {
  ms = 1_000_000;
  readonly now = (): number => this.ms;
}

/**
 * Stands in for the Resolver: a digest derived from the reference and a per-image
 * generation (bumped to mimic a tag pushed again), fresh for TTL_MS, as the cache would give it.
 * Images named `*:missing` fail, `*:stale` come back stale with a warning.
 */
class RecordingResolver implements ImageResolver {
  readonly asked: string[] = [];
  readonly generation = new Map<string, number>();
  constructor(private readonly clock: Clock) {}

  resolve(ref: ImageRef): Promise<Resolution> {
    this.asked.push(ref.written);
    if (ref.tag === 'missing') return Promise.reject(new Error(`no such tag ${ref.written}`));
    const digest = `sha256:${hexOf(`${ref.name}:${ref.tag ?? 'latest'}#${this.generation.get(ref.written) ?? 0}`)}`;
    if (ref.tag === 'stale') return Promise.resolve({ ref, digest, source: 'stale', credential: undefined, warning: 'pinned to a stale digest' });
    return Promise.resolve({ ref, digest, source: 'registry', credential: undefined, freshUntil: this.clock.now() + TTL_MS });
  }
}

/** 64 hex characters that depend on every character of `text`. */
function hexOf(text: string): string {
  let h = 0x811c9dc5;
  let out = '';
  for (let round = 0; round < 8; round += 1) {
    for (const char of `${round}${text}`) h = Math.imul(h ^ char.charCodeAt(0), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out;
}

interface Setup {
  readonly deps: AdmitDeps;
  readonly resolver: RecordingResolver;
  readonly memo: AnswerMemo;
  readonly clock: Clock;
  version: number;
}

function setup(options: { memo?: boolean; maxChars?: number } = {}): Setup {
  const clock = new Clock();
  const resolver = new RecordingResolver(clock);
  const state: { version: number } = { version: 0 };
  const memo = new AnswerMemo({ now: clock.now, version: () => state.version, maxChars: options.maxChars });
  const deps: AdmitDeps = {
    resolver,
    credentials: () => Promise.resolve([undefined]),
    skip: skipList([]),
    dropTag: false,
    ...(options.memo === false ? {} : { memo }),
  };
  return Object.assign(state, { deps, resolver, memo, clock });
}

let uid = 0;
function podRequest(spec: Record<string, unknown>, extra: { namespace?: string; metadata?: Record<string, unknown> | null; kind?: string } = {}): AdmissionRequest {
  uid += 1;
  const kind = extra.kind ?? 'Pod';
  const metadata = extra.metadata === undefined ? { name: `p-${uid}`, namespace: extra.namespace ?? 'ns' } : extra.metadata;
  const object =
    kind === 'Pod'
      ? { apiVersion: 'v1', kind, metadata, spec }
      : { apiVersion: 'apps/v1', kind, metadata: { name: `d-${uid}` }, spec: { template: { metadata, spec } } };
  return {
    uid: `uid-${uid}`,
    kind: { group: kind === 'Pod' ? '' : 'apps', version: 'v1', kind },
    subResource: undefined,
    name: `p-${uid}`,
    namespace: extra.namespace ?? 'ns',
    operation: 'CREATE',
    object,
    oldObject: null,
    dryRun: false,
  };
}

const containers = (...images: string[]): Record<string, unknown> => ({ containers: images.map((image, i) => ({ name: `c${i}`, image })) });
const deadline = (): Deadline => ({ signal: AbortSignal.timeout(5_000) });
const run = (s: Setup, request: AdmissionRequest, mode: Mode = 'warn') => admit(request, mode, s.deps, deadline());

describe('admit with an AnswerMemo', () => {
  it('answers a repeat of a pod spec from memory: same patch, its own uid, digests counted as cache hits', async () => {
    const s = setup();
    const first = await run(s, podRequest(containers('registry.example/app:v1', 'registry.example/sidecar:v2')));
    const second = await run(s, podRequest(containers('registry.example/app:v1', 'registry.example/sidecar:v2')));
    expect(s.resolver.asked).toHaveLength(2);
    expect(second.response.patch).toBe(first.response.patch);
    expect(second.response.uid).not.toBe(first.response.uid);
    expect(second.response.uid).toBe(`uid-${uid}`);
    expect(second.outcome).toBe('pinned');
    expect(first.resolutions.map((r) => r.source)).toEqual(['registry', 'registry']);
    expect(second.resolutions.map((r) => r.source)).toEqual(['cache', 'cache']);
  });

  it('planAdmission gives the remembered answer without any waiting', async () => {
    const s = setup();
    await run(s, podRequest(containers('registry.example/app:v1')));
    const plan = planAdmission(podRequest(containers('registry.example/app:v1')), s.deps);
    expect(plan.done?.outcome).toBe('pinned');
    expect(plan.done?.response.patch).toBeDefined();
  });

  it('works out again what differs: namespace, pull secrets, ServiceAccount, container names, images, kind, metadata shape', async () => {
    const s = setup();
    const base = containers('registry.example/app:v1');
    await run(s, podRequest(base));
    const variants: AdmissionRequest[] = [
      podRequest(base, { namespace: 'other' }),
      podRequest({ ...base, imagePullSecrets: [{ name: 'regcred' }] }),
      podRequest({ ...base, serviceAccountName: 'builder' }),
      podRequest({ ...base, serviceAccount: 'legacy' }),
      podRequest({ containers: [{ name: 'renamed', image: 'registry.example/app:v1' }] }),
      podRequest(containers('registry.example/app:v2')),
      podRequest(base, { kind: 'Deployment' }),
      podRequest(base, { metadata: null }),
      podRequest(base, { metadata: { name: 'x', annotations: { team: 'a' } } }),
    ];
    for (const request of variants) {
      const before = s.resolver.asked.length;
      await run(s, request);
      expect(s.resolver.asked.length, JSON.stringify(request.object)).toBe(before + 1);
    }
    expect(s.memo.size).toBe(variants.length + 1);
  });

  it('never remembers an answer with a failure or a stale digest', async () => {
    const s = setup();
    for (const images of [['registry.example/app:v1', 'registry.example/app:missing'], ['registry.example/app:stale']]) {
      const first = await run(s, podRequest(containers(...images)));
      const second = await run(s, podRequest(containers(...images)));
      expect(first.response.warnings).toBeDefined();
      expect(second.response.warnings).toEqual(first.response.warnings);
    }
    expect(s.resolver.asked).toHaveLength(6);
    expect(s.memo.size).toBe(0);
  });

  it('strict mode still denies a repeat of a failing pod: nothing was remembered for it', async () => {
    const s = setup();
    await run(s, podRequest(containers('registry.example/app:missing')), 'warn');
    const denied = await run(s, podRequest(containers('registry.example/app:missing')), 'strict');
    expect(denied.response.allowed).toBe(false);
  });

  it('lets an answer go when its least fresh digest expires: a tag pushed again is seen, as through the cache', async () => {
    const s = setup();
    const first = await run(s, podRequest(containers('registry.example/app:v1')));
    s.resolver.generation.set('registry.example/app:v1', 1);
    s.clock.ms += TTL_MS - 1;
    expect((await run(s, podRequest(containers('registry.example/app:v1')))).response.patch).toBe(first.response.patch);
    s.clock.ms += 1;
    const later = await run(s, podRequest(containers('registry.example/app:v1')));
    expect(later.response.patch).not.toBe(first.response.patch);
    expect(s.resolver.asked).toHaveLength(2);
  });

  it('drops every answer when what credentials or ImageSets come from changes (version)', async () => {
    const s = setup();
    await run(s, podRequest(containers('registry.example/app:v1')));
    s.version += 1;
    await run(s, podRequest(containers('registry.example/app:v1')));
    expect(s.resolver.asked).toHaveLength(2);
    await run(s, podRequest(containers('registry.example/app:v1')));
    expect(s.resolver.asked).toHaveLength(2);
  });

  it('does not memoise an object that already records original images (its patch depends on the record)', async () => {
    const s = setup();
    const metadata = { name: 'p', annotations: { [ORIGINAL_IMAGES_ANNOTATION]: '{"containers/old":"registry.example/old:v1"}' } };
    await run(s, podRequest(containers('registry.example/app:v1'), { metadata }));
    await run(s, podRequest(containers('registry.example/app:v1'), { metadata }));
    expect(s.resolver.asked).toHaveLength(2);
  });

  it('does not memoise a request whose values contain its key separator', async () => {
    const s = setup();
    const spec = { containers: [{ name: 'a\u0001b', image: 'registry.example/app:v1' }] };
    await run(s, podRequest(spec));
    await run(s, podRequest(spec));
    expect(s.resolver.asked).toHaveLength(2);
  });

  it('keeps no answer larger than its whole budget, and still answers the admission', async () => {
    const s = setup({ maxChars: 200 });
    const result = await run(s, podRequest(containers('registry.example/a-rather-long-repository-name/app:v1')));
    expect(result.outcome).toBe('pinned');
    expect(s.memo.size).toBe(0);
  });

  it('holds no more than its size budget', async () => {
    const s = setup({ maxChars: 4_000 });
    for (let i = 0; i < 50; i += 1) await run(s, podRequest(containers(`registry.example/app-${i}:v1`)));
    expect(s.memo.size).toBeGreaterThan(0);
    expect(s.memo.size).toBeLessThan(10);
  });

  it('answers every request as an admission without a memo would (property)', async () => {
    // Few values per dimension, mostly images that pin: repeats and near-repeats are common.
    const name = fc.constantFrom('a', 'b');
    const image = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('registry.example/app:v1', 'registry.example/app:v2') },
      { weight: 1, arbitrary: fc.constantFrom('registry.example/db:missing', 'registry.example/x:stale', 'bad:ref:', `registry.example/pinned@sha256:${'a'.repeat(64)}`) },
    );
    const request = fc.record({
      kind: fc.constantFrom('Pod', 'Deployment'),
      namespace: fc.constantFrom('ns', 'other'),
      spec: fc.record(
        {
          containers: fc.array(fc.record({ name, image }), { minLength: 1, maxLength: 2 }),
          initContainers: fc.array(fc.record({ name, image }), { maxLength: 1 }),
          imagePullSecrets: fc.constantFrom([], [{ name: 'regcred' }]),
          serviceAccountName: fc.constantFrom('default', 'builder'),
        },
        { requiredKeys: ['containers'] },
      ),
      metadata: fc.constantFrom<Record<string, unknown> | null | undefined>(
        undefined,
        undefined,
        null,
        { name: 'm' },
        { name: 'm', annotations: { team: 'a' } },
        { name: 'm', annotations: { [ORIGINAL_IMAGES_ANNOTATION]: '{"containers/a":"registry.example/app:v0"}' } },
      ),
      mode: fc.constantFrom<Mode>('warn', 'strict'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 2, maxLength: 16 }), async (requests) => {
        const withMemo = setup();
        const without = setup({ memo: false });
        for (const r of requests) {
          const review = podRequest(r.spec, { kind: r.kind, namespace: r.namespace, metadata: r.metadata });
          const a = await admit(review, r.mode, withMemo.deps, deadline());
          const b = await admit(review, r.mode, without.deps, deadline());
          expect(a.response).toEqual(b.response);
          expect(a.outcome).toBe(b.outcome);
          expect(a.resolutions.map((x) => x.digest)).toEqual(b.resolutions.map((x) => x.digest));
        }
      }),
      { numRuns: 300 },
    );
  });
});
