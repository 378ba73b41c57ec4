/**
 * Defect: caches bounded only by their count kept entries of any size. Here a token service
 * answers every scope with a token of nearly a megabyte, and reviews name registry hosts of
 * a megabyte each, each one new, while ordinary reviews go on beside them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { generateCertificates } from '../../src/certs/index.js';
import { startRegistry, type RunningRegistry } from '../harness/registry-process.js';
import { podReview } from '../support/webhook.js';
import { OrdinaryReviews } from './ordinary.js';
import { allowList, latencyBound, MEMORY_LIMIT_BYTES, startWebhookProcess, type TimedReview, type WebhookProcess } from './webhook-process.js';

const registries = inject('registries');
/** Nearly a megabyte: what the client read and cached before it bounded tokens. */
const TOKEN_LENGTH = 1024 * 1024 - 256;
const HOST_LENGTH = 1024 * 1024;
const REPOSITORIES = 200;
const IMAGES_PER_REVIEW = 5;
const HOSTILE_HOSTS = 60;

let dir: string;
let tokens: Server;
let tokenRequests = 0;
let registry: RunningRegistry;
let ordinary: OrdinaryReviews;
let caFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-caches-'));
  ordinary = await OrdinaryReviews.prepare(registries.basic, 'hostile/caches', 40);
  // A token service that answers every scope with a token of nearly a megabyte.
  const certs = await generateCertificates({ hosts: ['127.0.0.1'], validDays: 1 });
  caFile = join(dir, 'token-ca.crt');
  await writeFile(caFile, certs.caCert);
  tokens = createServer({ cert: certs.cert, key: certs.key }, (request, response) => {
    tokenRequests += 1;
    request.resume();
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ token: 't'.repeat(TOKEN_LENGTH), expires_in: 3600 }));
  });
  await new Promise<void>((resolve) => tokens.listen(0, '127.0.0.1', resolve));
  const realm = `https://127.0.0.1:${(tokens.address() as AddressInfo).port}/token`;
  // A real registry that sends its clients there.
  registry = await startRegistry({
    name: 'hostile-tokens',
    dir: join(dir, 'registry'),
    tls: undefined,
    auth: { kind: 'token', realm, service: 'svc', issuer: 'issuer', rootCertBundle: registries.caFile },
  });
}, 120_000);

afterAll(async () => {
  await registry.stop();
  await new Promise((resolve) => tokens.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe.each([
  ['a token service answering tokens of nearly a megabyte, for each of many repositories', 'tokens'],
  ['registry hosts of a megabyte, each one new', 'hosts'],
] as const)('%s', (_name, attack) => {
  let webhook: WebhookProcess;
  beforeAll(async () => {
    // On the allow-list: the registry's failures are told to the tenant as they are (docs/security.md).
    const allowed = allowList([registries.basic.host, registry.host]);
    webhook = await startWebhookProcess(registries, { ...allowed, args: [...allowed.args, '--insecure-registry', registry.host, '--ca-file', caFile] });
  }, 60_000);
  afterAll(async () => {
    await webhook.stop();
  });

  /** Hostile review `n` and what its first warning must say. */
  function hostileReview(n: number): { body: unknown; warning: RegExp } {
    const uid = `hostile-${n}`;
    if (attack === 'tokens') {
      const images = Array.from({ length: IMAGES_PER_REVIEW }, (_, i) => `${registry.host}/repo-${n * IMAGES_PER_REVIEW + i}:v1`);
      return { body: podReview(images, { uid, namespace: 'attacker', name: uid }), warning: /token service 127\.0\.0\.1:\d+ answered with more than 64 KiB/ };
    }
    const host = `h${n}${'a'.repeat(HOST_LENGTH)}.example`;
    return { body: podReview([`${host}/app:v1`], { uid, namespace: 'attacker', name: uid }), warning: /host name "h\d+a+…" is \d+ characters long; no DNS name is longer than 253/ };
  }

  it('is bounded: the process stays up under its memory limit, refuses with a clear reason, and ordinary reviews are pinned beside it', async () => {
    const baseline = await ordinary.baseline(webhook);
    const attacker = webhook.connect();
    const count = attack === 'tokens' ? REPOSITORIES / IMAGES_PER_REVIEW : HOSTILE_HOSTS;
    const hostile: { review: TimedReview; warning: RegExp }[] = [];
    const beside: TimedReview[] = [];
    for (let n = 0; n < count && webhook.alive(); n += 1) {
      const { body, warning } = hostileReview(n);
      const [review, ordinaryReview] = await Promise.all([attacker.review(body), ordinary.send(n % 8 === 0 ? 'cold' : 'cached', webhook)]);
      hostile.push({ review, warning });
      beside.push(ordinaryReview);
    }
    await attacker.close();

    expect(webhook.alive(), await webhook.log()).toBe(true);
    expect(await webhook.peakRss()).toBeLessThan(MEMORY_LIMIT_BYTES);
    const bound = latencyBound(baseline);
    for (const review of beside) expect(review.ms, `baseline ${baseline.map(Math.round).join(', ')} ms`).toBeLessThan(bound);
    expect(hostile).toHaveLength(count);
    for (const { review, warning } of hostile) {
      expect(review.status, review.error ?? review.body).toBe(200);
      expect(review.answer?.response.allowed).toBe(true);
      for (const line of review.answer?.response.warnings ?? []) expect(line).toMatch(warning);
      expect(review.answer?.response.warnings?.length).toBe(attack === 'tokens' ? IMAGES_PER_REVIEW : 1);
    }
    if (attack === 'tokens') {
      // Every repository's token was asked for, and every refusal is in the operator's log.
      expect(tokenRequests).toBeGreaterThanOrEqual(REPOSITORIES);
      const { log } = await webhook.stop();
      const refused = log.split('\n').filter((line) => line.includes('answered with more than 64 KiB') && line.includes('"maxResponseBytes"'));
      expect(refused.length).toBeGreaterThanOrEqual(REPOSITORIES);
    }
  });
});
