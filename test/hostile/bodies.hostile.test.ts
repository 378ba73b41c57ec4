/**
 * Defect 4 of issue 13: large bodies at once. At 3290712 one body of the largest size accepted,
 * all nested empty arrays, took the process near its memory limit, and a few at once ended in
 * "heap out of memory". Here clients send the largest bodies accepted, of the costliest shapes,
 * back to back while ordinary reviews go on beside them.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { SERVER_LIMITS } from '../../src/server/limits.js';
import { podReview } from '../support/webhook.js';
import { OrdinaryReviews } from './ordinary.js';
import { latencyBound, MEMORY_LIMIT_BYTES, startWebhookProcess, type TimedReview, type WebhookProcess } from './webhook-process.js';

const registries = inject('registries');
let webhook: WebhookProcess;
let ordinary: OrdinaryReviews;

beforeAll(async () => {
  ordinary = await OrdinaryReviews.prepare(registries.basic, 'hostile/bodies', 20);
  webhook = await startWebhookProcess(registries);
}, 120_000);

afterAll(async () => {
  await webhook.stop();
});

/** The largest body accepted, all nested empty arrays: millions of objects, were it parsed. */
const NESTED_ARRAYS = `[${'[],'.repeat(Math.floor(SERVER_LIMITS.bodyBytes / 3) - 2)}[]]`;

/** A Pod CREATE with no image to pin, padded to about `bytes` by `pad`. */
function padded(uid: string, pad: (spec: Record<string, unknown>, metadata: Record<string, unknown>) => void): string {
  const review = podReview([], { uid, namespace: 'attacker', name: uid });
  pad(review.request.object.spec, review.request.object.metadata);
  return JSON.stringify(review);
}

/** Nearly the largest review accepted: an annotation of two-byte characters (two bytes each in the heap, too). */
const LONG_STRINGS = padded('long-strings', (_spec, metadata) => {
  metadata['annotations'] = { padding: 'é'.repeat(Math.floor((SERVER_LIMITS.bodyBytes - 1_024) / 2)) };
});

/** A review with nearly as many JSON values as accepted, all empty objects (the most heap per byte). */
const MANY_VALUES = padded('many-values', (spec) => {
  spec['volumes'] = Array.from({ length: SERVER_LIMITS.jsonValues - 100 }, () => ({}));
});

/** Connections per shape: more of each than the webhook holds at once (SERVER_LIMITS' budgets). */
const ATTACKERS = [
  { name: 'nested arrays', body: NESTED_ARRAYS, connections: 3 },
  { name: 'long strings', body: LONG_STRINGS, connections: 2 },
  { name: 'many values', body: MANY_VALUES, connections: 2 },
] as const;

/** Each attacking connection sends at least this many bodies before the attack ends. */
const MIN_ROUNDS = 3;

/**
 * The allowance for the attack's own work, in units of the slowest attacking body answered
 * alone: an ordinary review takes several turns on the event loop (its body, its registry
 * requests, its answer), and each may come after a large body's parse.
 */
const BODIES_AHEAD = 10;

describe('the largest bodies accepted, many at once', () => {
  it('are no larger than the limit (else they would be refused unread, as 413)', () => {
    for (const { body } of ATTACKERS) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(SERVER_LIMITS.bodyBytes);
    expect(Buffer.byteLength(NESTED_ARRAYS)).toBeGreaterThan(SERVER_LIMITS.bodyBytes - 8);
  });

  it('are bounded: the process stays up under its memory limit, each is answered before its deadline, and ordinary reviews are pinned beside them', async () => {
    const baseline = await ordinary.baseline(webhook);
    let slowestAlone = 0;
    for (const { body } of ATTACKERS) {
      for (let i = 0; i < 2; i += 1) slowestAlone = Math.max(slowestAlone, (await webhook.review(body)).ms);
    }
    const bound = latencyBound(baseline) + BODIES_AHEAD * slowestAlone;

    const answers = new Map<string, TimedReview[]>(ATTACKERS.map((a) => [a.name, []]));
    const attack = { running: true };
    const attackers = ATTACKERS.flatMap(({ name, body, connections }) =>
      Array.from({ length: connections }, async () => {
        const connection = webhook.connect();
        for (let round = 0; attack.running || round < MIN_ROUNDS; round += 1) {
          const answer = await connection.review(body);
          answers.get(name)?.push(answer);
          if (answer.status === 'error' && !webhook.alive()) break;
        }
        await connection.close();
      }),
    );
    let underAttack = 0;
    try {
      for (; underAttack < 6 && webhook.alive(); underAttack += 1) {
        const review = await ordinary.send(underAttack % 2 === 0 ? 'cold' : 'cached', webhook);
        expect(review.ms, `baseline ${baseline.map(Math.round).join(', ')} ms, slowest attacking body alone ${Math.round(slowestAlone)} ms`).toBeLessThan(bound);
      }
    } finally {
      attack.running = false;
      await Promise.all(attackers);
    }

    expect(webhook.alive(), await webhook.log()).toBe(true);
    expect(await webhook.peakRss()).toBeLessThan(MEMORY_LIMIT_BYTES);
    expect(underAttack).toBe(6);
    const refusal = { message: `invalid AdmissionReview: it holds more than ${SERVER_LIMITS.jsonValues} JSON values, which no Kubernetes object does` };
    const busy = { message: expect.stringMatching(/^the webhook is busy: /) as unknown };
    // Each body is read when its turn comes (then answered, or refused for its shape), or, when
    // its time to wait passes first, refused as busy: answered, either way, before its deadline.
    for (const { name } of ATTACKERS) {
      const got = answers.get(name) ?? [];
      expect(got.length).toBeGreaterThanOrEqual(MIN_ROUNDS);
      for (const { status, error, body, answer, ms } of got) {
        const read = name === 'nested arrays' ? 400 : 200;
        expect([read, 503], `${name}, after ${Math.round(ms)} ms: ${error ?? body.slice(0, 200)}`).toContain(status);
        if (status === 503) expect(JSON.parse(body)).toEqual(busy);
        else if (status === 400) expect(JSON.parse(body)).toEqual(refusal);
        else expect(answer?.response.allowed).toBe(true);
      }
    }
  });
});
