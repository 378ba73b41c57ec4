/**
 * Ordinary reviews, the ones an attack must not hurt: a Pod with one image on a real registry,
 * either cold (a tag the webhook has not looked up yet) or cached (looked up before).
 *
 *   const ordinary = await OrdinaryReviews.prepare(registries.basic, 'hostile/x', 20);
 *   const baseline = await ordinary.baseline(webhook);        // latencies, nothing else going on
 *   const review = await ordinary.send('cold', webhook);       // a TimedReview, checked pinned
 *   expect(review.ms).toBeLessThan(latencyBound(baseline));
 */
import { expect } from 'vitest';
import type { TestRegistry } from '../helpers/registry-types.js';
import { addTags, pushImage } from '../helpers/registry.js';
import { pinnedImages, podReview } from '../support/webhook.js';
import type { ReviewClient, TimedReview } from './webhook-process.js';

const CACHED_TAG = 'cached';

export class OrdinaryReviews {
  #cold = 0;
  #uids = 0;

  private constructor(
    private readonly registry: TestRegistry,
    private readonly repository: string,
    /** The digest every tag of the repository has. */
    readonly digest: string,
    private readonly coldTags: number,
  ) {}

  /** Pushes one image to `repository` and gives it `coldTags` more tags, each to be looked up once. */
  static async prepare(registry: TestRegistry, repository: string, coldTags: number): Promise<OrdinaryReviews> {
    const { digest } = await pushImage(registry, repository, CACHED_TAG);
    await addTags(registry, repository, CACHED_TAG, Array.from({ length: coldTags }, (_, i) => `cold-${i}`));
    return new OrdinaryReviews(registry, repository, digest, coldTags);
  }

  /** `registry/repository:tag`. */
  image(tag: string): string {
    return `${this.registry.host}/${this.repository}:${tag}`;
  }

  /**
   * Sends an ordinary review through `client` and checks it came back 200, allowed, with
   * its image pinned to the registry's digest and no warning. `timeoutMs` is its deadline.
   */
  async send(kind: 'cold' | 'cached', client: ReviewClient, timeoutMs?: number): Promise<TimedReview> {
    let tag = CACHED_TAG;
    if (kind === 'cold') {
      if (this.#cold >= this.coldTags) throw new Error(`all ${this.coldTags} cold tags of ${this.repository} are used up: prepare more`);
      tag = `cold-${this.#cold++}`;
    }
    this.#uids += 1;
    const uid = `ordinary-${kind}-${this.#uids}`;
    const review = await client.review(podReview([this.image(tag)], { uid, namespace: 'tenant', name: uid }), timeoutMs === undefined ? {} : { timeoutMs });
    expect(review.status, `${uid}: ${review.error ?? review.body}`).toBe(200);
    expect(review.answer?.response.warnings, uid).toBeUndefined();
    expect(pinnedImages(review.answer ?? { response: { uid, allowed: false } }), uid).toEqual([`${this.image(tag)}@${this.digest}`]);
    return review;
  }

  /**
   * The usual latencies: the cached image once to warm up (its first lookup, the connections),
   * then cold and cached reviews one after another with nothing else going on, in ms.
   */
  async baseline(client: ReviewClient, rounds = 3): Promise<number[]> {
    await this.send('cached', client);
    const latencies: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      latencies.push((await this.send('cold', client)).ms, (await this.send('cached', client)).ms);
    }
    return latencies;
  }
}
