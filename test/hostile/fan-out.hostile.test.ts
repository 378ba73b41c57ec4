/**
 * Defect: one review naming thousands of distinct tags resolved them all at once, over as many
 * registry connections. Here a client sends such reviews back to back while ordinary reviews
 * (a cold image on the same registry, and a cached one) go on beside them.
 */
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { MAX_IMAGES_PER_ADMISSION } from '../../src/admission/fan-out.js';
import { MAX_REQUESTS_PER_ORIGIN } from '../../src/registry/client.js';
import { addTags } from '../helpers/registry.js';
import { pinnedImages, podReview } from '../support/webhook.js';
import { OrdinaryReviews } from './ordinary.js';
import { latencyBound, MEMORY_LIMIT_BYTES, startWebhookProcess, type TimedReview, type WebhookProcess } from './webhook-process.js';

const registries = inject('registries');
const { basic } = registries;
const REPOSITORY = 'hostile/fan-out';
/** Distinct tags one attacking review names (about half a MiB of Pod); the first EXISTING of them exist. */
const ATTACK_IMAGES = 9_000;
const EXISTING = 1_024;
const COLD_TAGS = 20;
const TIMEOUT_MS = 5_000;
/** File descriptors the process may open beyond its idle count: its registry connections, and the test's own connections to it. */
const FD_ALLOWANCE = MAX_REQUESTS_PER_ORIGIN + 24;

let webhook: WebhookProcess;
let ordinary: OrdinaryReviews;
const image = (tag: string): string => `${basic.host}/${REPOSITORY}:${tag}`;

beforeAll(async () => {
  ordinary = await OrdinaryReviews.prepare(basic, REPOSITORY, COLD_TAGS);
  await addTags(basic, REPOSITORY, 'cached', Array.from({ length: EXISTING }, (_, i) => `attack-${i}`));
  webhook = await startWebhookProcess(registries);
}, 120_000);

afterAll(async () => {
  await webhook.stop();
});

/** Attacking review `round`: a fresh run of existing (cold) tags first, then tags that do not exist. */
function attackReview(round: number): unknown {
  const start = (round * MAX_IMAGES_PER_ADMISSION) % EXISTING;
  const tags = Array.from({ length: ATTACK_IMAGES }, (_, i) => (i < EXISTING ? `attack-${(start + i) % EXISTING}` : `absent-${round}-${i}`));
  return podReview(tags.map(image), { uid: `attack-${round}`, namespace: 'attacker', name: 'fan-out' });
}

async function openFiles(): Promise<number> {
  return (await readdir(`/proc/${webhook.pid}/fd`)).length;
}

describe('a review naming thousands of distinct tags', () => {
  it('is bounded: the process stays up under its memory limit, and ordinary reviews are pinned beside it', async () => {
    const baseline = await ordinary.baseline(webhook);
    const idleFiles = await openFiles();

    const attacks: TimedReview[] = [];
    const attack = { running: true };
    let peakFiles = idleFiles;
    const attacker = (async () => {
      const connection = webhook.connect();
      for (let round = 0; attack.running; round += 1) {
        const review = await connection.review(attackReview(round), { timeoutMs: TIMEOUT_MS });
        attacks.push(review);
        if (review.status === 'error') break;
      }
      await connection.close();
    })();
    const sampler = (async () => {
      while (attack.running && webhook.alive()) {
        peakFiles = Math.max(peakFiles, await openFiles().catch(() => 0));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const underAttack: TimedReview[] = [];
    try {
      for (let i = 0; i < 6 && webhook.alive(); i += 1) {
        underAttack.push(await ordinary.send(i % 2 === 0 ? 'cold' : 'cached', webhook, TIMEOUT_MS));
      }
    } finally {
      attack.running = false;
      await Promise.all([attacker, sampler]);
    }

    expect(webhook.alive(), await webhook.log()).toBe(true);
    expect(await webhook.peakRss()).toBeLessThan(MEMORY_LIMIT_BYTES);
    expect(peakFiles - idleFiles).toBeLessThanOrEqual(FD_ALLOWANCE);
    const bound = latencyBound(baseline);
    for (const review of underAttack) expect(review.ms, `baseline ${baseline.map(Math.round).join(', ')} ms`).toBeLessThan(bound);

    // What each attacking review got: the first images it names pinned, and one warning counting the rest.
    expect(attacks.length).toBeGreaterThan(0);
    for (const { status, error, body, answer } of attacks) {
      expect(status, error ?? body).toBe(200);
      const response = answer?.response;
      expect(response?.allowed).toBe(true);
      const pinned = pinnedImages({ response: response ?? { uid: '', allowed: false } });
      expect(pinned.length).toBeGreaterThan(0);
      expect(pinned.length).toBeLessThanOrEqual(MAX_IMAGES_PER_ADMISSION);
      for (const value of pinned) expect(value).toMatch(new RegExp(`/${REPOSITORY}:attack-\\d+@${ordinary.digest}$`));
      const first = response?.warnings?.[0] ?? '';
      const counted = /^digest-pinner: (\d+) image fields not pinned: the Pod names 9000 distinct images, more than the 256 looked up per admission$/.exec(first);
      expect(counted, first).not.toBeNull();
      // Those not looked up, those pinned, and those whose lookup the deadline cut short (one warning each, or counted in the last).
      expect(Number(counted?.[1]) + pinned.length).toBeLessThanOrEqual(ATTACK_IMAGES);
      expect(Number(counted?.[1])).toBeGreaterThanOrEqual(ATTACK_IMAGES - MAX_IMAGES_PER_ADMISSION);
    }
  });

  it('in a strict namespace, is denied at once with a message naming the count', async () => {
    const review = await webhook.review(attackReview(99), { path: '/mutate/strict', timeoutMs: TIMEOUT_MS });
    expect(review.status, review.error ?? review.body).toBe(200);
    expect(review.answer?.response).toMatchObject({
      allowed: false,
      status: {
        code: 403,
        message: 'digest-pinner: the Pod names 9000 distinct images, more than the 256 looked up per admission (namespace mode strict); none was pinned',
      },
    });
    expect(webhook.alive()).toBe(true);
  });
});
