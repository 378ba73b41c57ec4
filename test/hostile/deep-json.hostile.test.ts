/**
 * Defect 7 of issue 13: deep JSON in a typed field. At 3290712 a Pod whose imagePullSecrets
 * nested thousands of levels deep overflowed the stack and was answered "internal error,
 * images not pinned" (in strict namespaces: denied with code 500). Nothing may walk or
 * serialise a review's JSON recursively without a bound: the pre-parse scan refuses what nests
 * deeper than any Kubernetes object.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { SERVER_LIMITS } from '../../src/server/limits.js';
import { pinnedImages, podReview } from '../support/webhook.js';
import { OrdinaryReviews } from './ordinary.js';
import { startWebhookProcess, type TimedReview, type WebhookProcess } from './webhook-process.js';

const registries = inject('registries');
let webhook: WebhookProcess;
let ordinary: OrdinaryReviews;

beforeAll(async () => {
  ordinary = await OrdinaryReviews.prepare(registries.basic, 'hostile/deep-json', 4);
  webhook = await startWebhookProcess(registries);
}, 120_000);

afterAll(async () => {
  await webhook.stop();
});

describe('deep JSON in a typed field', () => {
  function deepPullSecrets(levels: number, path = '/mutate'): Promise<TimedReview> {
    const review = podReview([ordinary.image('cached')], { uid: `deep-${levels}`, namespace: 'tenant', name: `deep-${levels}` });
    (review.request.object.spec as Record<string, unknown>)['imagePullSecrets'] = 'DEEP';
    // Spliced in as text: JSON.stringify of so deep a value overflows this process's stack too.
    return webhook.review(JSON.stringify(review).replace('"DEEP"', `${'['.repeat(levels)}${']'.repeat(levels)}`), { path });
  }

  it('5,000 levels deep is refused with a 400 that names the depth, in either mode, and the webhook goes on', async () => {
    for (const path of ['/mutate', '/mutate/strict']) {
      const { status, error, body } = await deepPullSecrets(5_000, path);
      expect(status, error ?? body.slice(0, 400)).toBe(400);
      expect(JSON.parse(body)).toEqual({ message: `invalid AdmissionReview: it nests deeper than ${SERVER_LIMITS.jsonDepth} levels, which no Kubernetes object does` });
    }
    await ordinary.send('cold', webhook);
    expect(webhook.alive()).toBe(true);
  });

  it('as deep as the limit allows is just data: the Pod is pinned', async () => {
    // The review, request, object, spec and imagePullSecrets are the first five levels.
    const answer = await deepPullSecrets(SERVER_LIMITS.jsonDepth - 5);
    expect(answer.status, answer.error ?? answer.body).toBe(200);
    expect(pinnedImages(answer.answer ?? { response: { uid: '', allowed: false } })).toHaveLength(1);
  });
});
