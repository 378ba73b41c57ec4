/** The HTTPS edge: modes, bad input, de-duplication, credential isolation, health, shutdown. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { requestLog } from '../support/requests.js';
import { decodedPatch, pinnedImages, podReview as pod, startTestWebhook, type TestWebhook } from '../support/webhook.js';
import { SERVER_LIMITS } from '../../src/server/limits.js';
import { compileRewrites, parseLocation } from '../../src/config/index.js';

const registries = inject('registries');
const plain = registries.plain;

let uidCounter = 0;
function podReview(images: readonly string[], extra: { namespace?: string; dryRun?: boolean } = {}) {
  uidCounter += 1;
  return pod(images, { uid: `uid-${uidCounter}`, namespace: extra.namespace ?? 'team-a', name: `p${uidCounter}`, dryRun: extra.dryRun ?? false });
}

describe('modes', () => {
  let warn: TestWebhook;
  let strictDefault: TestWebhook;
  let image: PushedImage;
  beforeAll(async () => {
    image = await pushImage(plain, 'modes/app', 'v1');
    warn = await startTestWebhook(registries);
    strictDefault = await startTestWebhook(registries, { mode: 'strict' });
  });
  afterAll(async () => {
    await Promise.all([warn.close(), strictDefault.close()]);
  });
  const good = () => `${plain.host}/modes/app:v1`;
  const missing = () => `${plain.host}/modes/app:no-such-tag`;

  it('warn: pins what resolves and warns, naming the image, about what does not', async () => {
    const answer = await warn.review('/mutate/warn', podReview([good(), missing()]));
    expect(answer.response.allowed).toBe(true);
    expect(pinnedImages(answer)).toEqual([`${good()}@${image.digest}`]);
    expect(answer.response.warnings).toHaveLength(1);
    expect(answer.response.warnings?.[0]).toContain(`containers/c1 image "${missing()}" not pinned`);
    expect(answer.response.warnings?.[0]).toMatch(/404 \(no such tag or repository\)/);
  });

  it('strict: denies with a message that names the image and the reason', async () => {
    const answer = await warn.review('/mutate/strict', podReview([good(), missing()]));
    expect(answer.response.allowed).toBe(false);
    expect(answer.response.patch).toBeUndefined();
    expect(answer.response.patchType).toBeUndefined();
    expect(answer.response.status?.code).toBe(403);
    expect(answer.response.status?.message).toContain('1 image could not be pinned');
    expect(answer.response.status?.message).toContain(missing());
  });

  it('POST /mutate follows --mode', async () => {
    const answer = await strictDefault.review('/mutate', podReview([missing()]));
    expect(answer.response.allowed).toBe(false);
    const warned = await warn.review('/mutate', podReview([missing()]));
    expect(warned.response.allowed).toBe(true);
  });

  it('an invalid reference is named in the warning, not a crash', async () => {
    const answer = await warn.review('/mutate', podReview(['Not/A:Valid:Ref', good()]));
    expect(answer.response.allowed).toBe(true);
    expect(answer.response.warnings?.[0]).toContain('"Not/A:Valid:Ref" not pinned');
    expect(pinnedImages(answer)).toEqual([`${good()}@${image.digest}`]);
  });

  it('dryRun requests are answered the same way', async () => {
    const answer = await warn.review('/mutate', podReview([good()], { dryRun: true }));
    expect(pinnedImages(answer)).toEqual([`${good()}@${image.digest}`]);
  });

  it('an unreachable registry fails within the deadline with a clear reason', async () => {
    const answer = await warn.review('/mutate', podReview(['127.0.0.1:1/nothing/here:v1']), '?timeout=3s');
    // The refusal is the reason: an answer at the deadline would say "deadline exceeded".
    expect(answer.response.warnings?.[0]).toMatch(/127\.0\.0\.1:1\/nothing\/here:v1" not pinned: cannot reach 127\.0\.0\.1:1: connection refused/);
  });
});

describe('flags', () => {
  it('--drop-tag writes repository@digest', async () => {
    const image = await pushImage(plain, 'flags/drop', 'v2');
    const webhook = await startTestWebhook(registries, { dropTag: true });
    try {
      const answer = await webhook.review('/mutate', podReview([`${plain.host}/flags/drop:v2`]));
      expect(pinnedImages(answer)).toEqual([`${plain.host}/flags/drop@${image.digest}`]);
    } finally {
      await webhook.close();
    }
  });

  it('--skip leaves matching images alone, matched on the normalised reference', async () => {
    await pushImage(plain, 'flags/skipped', 'v1');
    const webhook = await startTestWebhook(registries, { skip: [`${plain.host}/flags/*`] });
    try {
      const answer = await webhook.review('/mutate', podReview([`${plain.host}/flags/skipped:v1`]));
      expect(answer.response).toEqual({ uid: answer.response.uid, allowed: true });
    } finally {
      await webhook.close();
    }
  });
});

describe('rewrites', () => {
  it('moves an image to the configured registry and pins it there, recording what was asked', async () => {
    const image = await pushImage(plain, 'mirror/tigera/operator', 'v1.36');
    const rules = compileRewrites([{ from: parseLocation('quay.io/tigera/')!, to: parseLocation(`${plain.host}/mirror/tigera/`)! }]);
    const webhook = await startTestWebhook(registries, { rewrite: rules });
    try {
      const answer = await webhook.review('/mutate', podReview(['quay.io/tigera/operator:v1.36', `quay.io/tigera/operator@${image.digest}`]));
      expect(answer.response.warnings).toBeUndefined();
      expect(pinnedImages(answer)).toEqual([
        `${plain.host}/mirror/tigera/operator:v1.36@${image.digest}`,
        `${plain.host}/mirror/tigera/operator@${image.digest}`,
      ]);
      const annotation = (decodedPatch(answer) ?? []).find((op) => JSON.stringify(op).includes('original-images'));
      expect(JSON.stringify(annotation)).toContain('quay.io/tigera/operator:v1.36');
    } finally {
      await webhook.close();
    }
  });
});

describe('de-duplication and credential isolation', () => {
  it('100 concurrent admissions of one uncached image make exactly one manifest request', async () => {
    const image = await pushImage(plain, 'dedup/app', 'v1');
    const requests = requestLog();
    const webhook = await startTestWebhook(registries, { onRequest: requests.onRequest });
    try {
      const answers = await Promise.all(Array.from({ length: 100 }, () => webhook.review('/mutate', podReview([`${plain.host}/dedup/app:v1`]))));
      for (const answer of answers) expect(pinnedImages(answer)).toEqual([`${plain.host}/dedup/app:v1@${image.digest}`]);
      // The webhook's first contact with the registry (GET /v2/), then one manifest HEAD.
      expect(requests.to(plain.host)).toEqual(['GET 200', 'HEAD 200']);
    } finally {
      await webhook.close();
    }
  });

  it('a digest resolved with one credential is not served to a request with another', async () => {
    const token = registries.token;
    const image = await pushImage(token, 'tenants/private', 'v1');
    const alice = { username: `${token.username ?? ''}-alice`, password: token.password ?? '', source: 'test alice' };
    const bob = { username: `${token.username ?? ''}-bob`, password: token.password ?? '', source: 'test bob' };
    const requests = requestLog();
    const a = await startTestWebhook(registries, { credentials: [alice], onRequest: requests.onRequest });
    try {
      const ref = `${token.host}/tenants/private:v1`;
      // Same resolver, two credentials: the second must go to the registry itself.
      const first = await a.resolver.resolve(parseRef(ref), { credentials: [alice], signal: AbortSignal.timeout(5000) });
      const second = await a.resolver.resolve(parseRef(ref), { credentials: [bob], signal: AbortSignal.timeout(5000) });
      const third = await a.resolver.resolve(parseRef(ref), { credentials: [alice], signal: AbortSignal.timeout(5000) });
      expect([first.digest, second.digest, third.digest]).toEqual([image.digest, image.digest, image.digest]);
      expect([first.source, second.source, third.source]).toEqual(['registry', 'registry', 'cache']);
      expect(requests.to(token.host).filter((r) => r.startsWith('HEAD '))).toEqual(['HEAD 200', 'HEAD 200']);
      // Anonymous cannot read it, and the cached answers for alice and bob don't leak to it.
      await expect(a.resolver.resolve(parseRef(ref), { credentials: [undefined], signal: AbortSignal.timeout(5000) })).rejects.toThrow(/401 .*credentials are required/);
    } finally {
      await a.close();
    }
  });

  it('a caller that gives up does not cancel the shared fetch for others', async () => {
    const image = await pushImage(plain, 'deadline/app', 'v1');
    const webhook = await startTestWebhook(registries);
    try {
      const ref = parseRef(`${plain.host}/deadline/app:v1`);
      const impatient = webhook.resolver.resolve(ref, { credentials: [undefined], signal: AbortSignal.abort() });
      const patient = webhook.resolver.resolve(ref, { credentials: [undefined], signal: AbortSignal.timeout(5000) });
      await expect(impatient).rejects.toThrow('deadline exceeded');
      expect((await patient).digest).toBe(image.digest);
    } finally {
      await webhook.close();
    }
  });
});

describe('bad input gets a clear 400, never a 500', () => {
  let webhook: TestWebhook;
  beforeAll(async () => {
    webhook = await startTestWebhook(registries);
  });
  afterAll(async () => {
    await webhook.close();
  });

  it.each([
    ['malformed JSON', '{"apiVersion": ', 'application/json', /not valid JSON/],
    ['an empty body', '', 'application/json', /body is empty|not valid JSON/],
    ['a JSON array', '[]', 'application/json', /body must be a JSON object/],
    ['a non-review object', '{"hello":"world"}', 'application/json', /kind must be "AdmissionReview"/],
    ['v1beta1', JSON.stringify({ ...podReview([]), apiVersion: 'admission.k8s.io/v1beta1' }), 'application/json', /apiVersion must be "admission.k8s.io\/v1"/],
    ['a wrong content type', '{"a":', 'text/plain', /not valid JSON/],
  ])('%s', async (_name, body, contentType, message) => {
    const { status, json } = await webhook.post('/mutate', body, { contentType });
    expect(status).toBe(400);
    expect((json as { message: string }).message).toMatch(message);
  });

  it('a body over the limit gets 413', async () => {
    const { status, json } = await webhook.post('/mutate', `{"x":"${'a'.repeat(SERVER_LIMITS.bodyBytes)}"}`);
    expect(status).toBe(413);
    expect((json as { message: string }).message).toContain('larger than');
  });

  it('a __proto__ or constructor key is data: admitted, and nothing else changes', async () => {
    const review = podReview([]);
    const object = { ...review.request.object, spec: { containers: [{ name: 'app', image: 'nope:::' }] } };
    const body = JSON.stringify({ ...review, request: { ...review.request, object } }).replace('"spec":', '"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"spec":');
    const { status, json } = await webhook.post('/mutate', body);
    expect(status).toBe(200);
    const response = (json as { response: { allowed: boolean; warnings?: string[] } }).response;
    expect(response.allowed).toBe(true);
    expect(response.warnings?.join('\n')).toContain('nope:::');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('an object of the wrong shape is admitted unchanged', async () => {
    const review = podReview([]);
    const answer = await webhook.review('/mutate', { ...review, request: { ...review.request, object: { spec: { containers: 'nope' } } } });
    expect(answer.response).toEqual({ uid: review.request.uid, allowed: true });
  });
});

describe('health and shutdown', () => {
  it('answers /healthz and /readyz, and finishes an in-flight review when closed', async () => {
    await pushImage(plain, 'shutdown/app', 'v1');
    // Hold one review inside the handler (at its credential lookup) until close() has begun.
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const webhook = await startTestWebhook(registries, { beforeCredentials: async () => { arrived(); await gate; } });
    const health = await webhook.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).toEqual({ status: 'ok' });
    expect((await webhook.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const inFlight = webhook.review('/mutate', podReview([`${plain.host}/shutdown/app:v1`]));
    await inHandler;
    const closing = webhook.close();
    release();
    const answer = await inFlight;
    expect(answer.response.allowed).toBe(true);
    expect(answer.response.patch).toBeDefined();
    await closing;
    await expect(webhook.post('/mutate', podReview([]))).rejects.toThrow(/ECONNREFUSED|closed|destroyed/);
  });
});

import { parseImage } from '../../src/reference/index.js';
function parseRef(text: string) {
  return parseImage(text);
}
