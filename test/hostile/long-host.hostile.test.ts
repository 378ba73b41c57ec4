/**
 * Defect: a registry host longer than 255 bytes, which OpenSSL refuses as TLS SNI, made other
 * clients' reviews on other keep-alive connections fail (HTTP 400 "Client Error", or a reset):
 * the error OpenSSL left behind surfaced on an incoming connection
 * (docs/upstream/openssl-sni-error-queue.md). Here such hosts come as an image's registry, as
 * a token realm a real registry names in its challenge, and as a redirect target, on Node 20
 * and on Node 24, while ordinary reviews go on over other connections.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { startRegistry, type RunningRegistry } from '../harness/registry-process.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { podReview } from '../support/webhook.js';
import { OrdinaryReviews } from './ordinary.js';
import { latencyBound, MEMORY_LIMIT_BYTES, NODE24, startWebhookProcess, type TimedReview, type WebhookProcess } from './webhook-process.js';

const registries = inject('registries');
/** Host names from just past the DNS limit to well past what TLS SNI takes, and one with an overlong label. */
const LENGTHS = [254, 255, 256, 260, 280, 300];
const HOSTILE_REVIEWS = 24;
const ORDINARY_CLIENTS = 4;

/** A name of `length` characters in labels of at most 63: only its length is wrong. */
function longHost(length: number, seed: number): string {
  const labels: string[] = [];
  let left = length;
  for (let i = 0; left > 0; i += 1) {
    const size = Math.min(left, 50);
    labels.push(String.fromCharCode(97 + ((seed + i) % 26)).repeat(size));
    left -= size + 1;
  }
  return labels.join('.').slice(0, length);
}
const OVERLONG_LABEL = `${'l'.repeat(64)}.example`;

let dir: string;
let realmRegistry: RunningRegistry;
let redirecting: FaultProxy;
let ordinary: OrdinaryReviews;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-long-host-'));
  ordinary = await OrdinaryReviews.prepare(registries.basic, 'hostile/long-host', 2 * (HOSTILE_REVIEWS + 8));
  // A real registry whose challenge names a token realm on a host name no DNS name can be.
  realmRegistry = await startRegistry({
    name: 'long-realm',
    dir: join(dir, 'registry'),
    tls: undefined,
    auth: { kind: 'token', realm: `https://${longHost(280, 3)}/token`, service: 'svc', issuer: 'issuer', rootCertBundle: registries.caFile },
  });
  // The real plain registry behind a proxy that redirects every request to such a host.
  redirecting = await startFaultProxy({ upstream: registries.plain.host });
  await redirecting.set({ kind: 'respond', status: 307, count: 1_000_000, headers: { location: `https://${longHost(300, 7)}/v2/` } });
}, 120_000);

afterAll(async () => {
  await redirecting.close();
  await realmRegistry.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Hostile review `n`: a long host as the image's registry, as a token realm, or as a redirect target. */
function hostileReview(n: number): { body: unknown; as: string } {
  const uid = `hostile-${n}`;
  const review = (image: string) => podReview([image], { uid, namespace: 'attacker', name: uid });
  switch (n % 4) {
    case 0:
      return { body: review(`${longHost(LENGTHS[(n / 4) % LENGTHS.length] ?? 300, n)}/app:v1`), as: 'image registry' };
    case 1:
      return { body: review(`${OVERLONG_LABEL}/app:v1`), as: 'image registry with a long label' };
    case 2:
      return { body: review(`${realmRegistry.host}/app:v${n}`), as: 'token realm' };
    default:
      return { body: review(`${redirecting.host}/app:v${n}`), as: 'redirect target' };
  }
}

describe.each([
  ['Node 20', process.execPath],
  ['Node 24', NODE24],
])('hosts no DNS name can have, on %s', (_name, node) => {
  let webhook: WebhookProcess;
  beforeAll(async () => {
    webhook = await startWebhookProcess(registries, { node, args: ['--insecure-registry', realmRegistry.host, '--insecure-registry', redirecting.host] });
  }, 60_000);
  afterAll(async () => {
    await webhook.stop();
  });

  it('are refused with a clear reason, and no review on another connection fails', async () => {
    const baseline = await ordinary.baseline(webhook);
    const clients = Array.from({ length: ORDINARY_CLIENTS }, () => webhook.connect());
    const attacker = webhook.connect();
    const hostile: { review: TimedReview; as: string }[] = [];
    const beside: TimedReview[] = [];
    for (let n = 0; n < HOSTILE_REVIEWS; n += 1) {
      const { body, as } = hostileReview(n);
      // The hostile review, and ordinary ones on the other connections right behind it.
      const [review, others] = await Promise.all([
        attacker.review(body),
        Promise.all(clients.map((client, i) => ordinary.send(i % 2 === 0 && n % 3 === 0 ? 'cold' : 'cached', client))),
      ]);
      hostile.push({ review, as });
      beside.push(...others);
    }
    await Promise.all([...clients, attacker].map((client) => client.close()));

    expect(webhook.alive(), await webhook.log()).toBe(true);
    expect(await webhook.peakRss()).toBeLessThan(MEMORY_LIMIT_BYTES);
    const bound = latencyBound(baseline);
    for (const review of beside) expect(review.ms, `baseline ${baseline.map(Math.round).join(', ')} ms`).toBeLessThan(bound);
    for (const { review, as } of hostile) {
      expect(review.status, `${as}: ${review.error ?? review.body}`).toBe(200);
      const warning = review.answer?.response.warnings?.[0] ?? '';
      expect(review.answer?.response.allowed, as).toBe(true);
      expect(warning, as).toMatch(/host name "[a-z.]+…" (is \d+ characters long; no DNS name is longer than 253|has a label of 64 characters; no DNS label is longer than 63)/);
    }
  });
});
