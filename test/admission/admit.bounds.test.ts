/**
 * What one admission may cost: the image limit, the fields resolved at once, fields never
 * started before the deadline, and registry hosts no DNS name can have.
 */
import { describe, expect, it } from 'vitest';
import { admit, type AdmitDeps, type ImageResolver } from '../../src/admission/admit.js';
import { FIELDS_AT_ONCE, MAX_IMAGES_PER_ADMISSION } from '../../src/admission/fan-out.js';
import { skipList } from '../../src/admission/skip.js';
import { podRequest } from './requests.js';
import type { ImageRef } from '../../src/reference/types.js';
import type { Resolution } from '../../src/resolve/index.js';
import { decodedPatch } from '../support/webhook.js';
import { deadlineOf } from '../support/deadline.js';
import type { Deadline } from '../../src/timeout.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;

/** Answers DIGEST for everything, each answer when `hold` lets it go; counts what runs at once. */
class CountingResolver implements ImageResolver {
  readonly asked: string[] = [];
  running = 0;
  most = 0;
  constructor(private readonly hold: () => Promise<void> = () => Promise.resolve()) {}
  async resolve(ref: ImageRef): Promise<Resolution> {
    this.asked.push(ref.written);
    this.running += 1;
    this.most = Math.max(this.most, this.running);
    await this.hold();
    this.running -= 1;
    return { ref, digest: DIGEST, source: 'registry', credential: undefined };
  }
}

function deps(resolver: ImageResolver): AdmitDeps {
  return { resolver, credentials: () => Promise.resolve([undefined]), skip: skipList([]), dropTag: false };
}

/** A Pod with one container per image, `c0`, `c1`, …. */
function podOf(images: readonly string[]) {
  return podRequest(images.map((image, i) => ({ name: `c${i}`, image })));
}

const images = (count: number) => Array.from({ length: count }, (_, i) => `registry.example/app:v${i}`);
const never = deadlineOf(new AbortController().signal);

describe('admit with more distinct images than one admission looks up', () => {
  const named = MAX_IMAGES_PER_ADMISSION + 44;

  it('warn: pins the first images, looks up none beyond them, and says in one warning, first, how many were not pinned', async () => {
    const resolver = new CountingResolver();
    // Each image twice: the limit counts distinct images, and every field of an admitted image is pinned.
    const request = podOf([...images(named), ...images(named)]);
    const result = await admit(request, 'warn', deps(resolver), never);
    expect(resolver.asked).toEqual([...images(MAX_IMAGES_PER_ADMISSION), ...images(MAX_IMAGES_PER_ADMISSION)]);
    expect(result.outcome).toBe('warned');
    expect(result.response.allowed).toBe(true);
    expect(decodedPatch(result)?.filter((op) => (op as { op: string }).op === 'replace')).toHaveLength(2 * MAX_IMAGES_PER_ADMISSION);
    expect(result.response.warnings).toEqual([
      `digest-pinner: 88 image fields not pinned: the Pod names ${named} distinct images, more than the ${MAX_IMAGES_PER_ADMISSION} looked up per admission`,
    ]);
  });

  it('strict: denies at once with a message naming the count, and looks nothing up', async () => {
    const resolver = new CountingResolver();
    const result = await admit(podOf(images(named)), 'strict', deps(resolver), never);
    expect(resolver.asked).toEqual([]);
    expect(result.outcome).toBe('denied');
    expect(result.response).toEqual({
      uid: 'uid-1',
      allowed: false,
      status: {
        code: 403,
        reason: 'Forbidden',
        message: `digest-pinner: the Pod names ${named} distinct images, more than the ${MAX_IMAGES_PER_ADMISSION} looked up per admission (namespace mode strict); none was pinned`,
      },
    });
  });

  it('up to the limit: every image is pinned without a warning', async () => {
    const result = await admit(podOf(images(MAX_IMAGES_PER_ADMISSION)), 'strict', deps(new CountingResolver()), never);
    expect(result.outcome).toBe('pinned');
    expect(result.response.warnings).toBeUndefined();
  });
});

describe('admit resolving many fields', () => {
  it(`resolves at most ${FIELDS_AT_ONCE} fields at once`, async () => {
    const resolver = new CountingResolver(() => new Promise((resolve) => setImmediate(resolve)));
    const result = await admit(podOf(images(100)), 'warn', deps(resolver), never);
    expect(result.outcome).toBe('pinned');
    expect(resolver.asked).toHaveLength(100);
    expect(resolver.most).toBe(FIELDS_AT_ONCE);
  });

  it('starts no field once the deadline has passed: warn counts them in one warning, strict denies naming them', async () => {
    for (const mode of ['warn', 'strict'] as const) {
      const deadline = new AbortController();
      const waiting: (() => void)[] = [];
      // The first fields are held until the deadline has passed; then they answer.
      const resolver = new CountingResolver(() => new Promise((resolve) => waiting.push(resolve)));
      const admitted = admit(podOf(images(40)), mode, deps(resolver), deadlineOf(deadline.signal));
      while (waiting.length < FIELDS_AT_ONCE) await new Promise((resolve) => setImmediate(resolve));
      deadline.abort();
      for (const go of waiting) go();
      const result = await admitted;
      expect(resolver.asked).toHaveLength(FIELDS_AT_ONCE);
      const line = `${40 - FIELDS_AT_ONCE} image fields not pinned: the admission deadline passed before they were looked up`;
      if (mode === 'warn') {
        expect(result.response.warnings).toEqual([`digest-pinner: ${line}`]);
        expect(decodedPatch(result)?.filter((op) => (op as { op: string }).op === 'replace')).toHaveLength(FIELDS_AT_ONCE);
      } else {
        expect(result.response.status?.message).toBe(`digest-pinner: ${40 - FIELDS_AT_ONCE} images could not be pinned to a digest (namespace mode strict): ${line}`);
      }
    }
  });
});

describe('admit answered from the cache', () => {
  it('never reads the deadline signal, so it arms no timer', async () => {
    const resolver: ImageResolver = {
      resolve: () => Promise.reject(new Error('a cached image asked the registry')),
      cached: (ref) => ({ ref, digest: DIGEST, source: 'cache', credential: undefined }),
    };
    const unread: Deadline = {
      get signal(): AbortSignal {
        throw new Error('the deadline signal was read');
      },
      passed: () => false,
    };
    const result = await admit(podOf(images(5)), 'strict', deps(resolver), unread);
    expect(result.outcome).toBe('pinned');
    expect(result.failures).toEqual([]);
  });
});

describe('admit with a registry host no DNS name can have', () => {
  it('does not pin it, and asks neither for credentials nor the resolver: a host may be a megabyte long', async () => {
    const resolver = new CountingResolver();
    const looked: string[] = [];
    const host = `${'a'.repeat(1024 * 1024)}.example`;
    const result = await admit(
      podOf([`${host}/app:v1`, `${'b'.repeat(64)}.example:5000/app:v1`, 'registry.example/app:v1']),
      'warn',
      {
        ...deps(resolver),
        credentials: (ref) => {
          looked.push(ref.domain);
          return Promise.resolve([undefined]);
        },
      },
      never,
    );
    expect(looked).toEqual(['registry.example']);
    expect(resolver.asked).toEqual(['registry.example/app:v1']);
    expect(result.failures.map((f) => [f.where, f.code, f.reason])).toEqual([
      ['containers/c0', 'DP_ERR_INVALID_HOST_NAME', `host name "${'a'.repeat(40)}…" is 1048584 characters long; no DNS name is longer than 253`],
      ['containers/c1', 'DP_ERR_INVALID_HOST_NAME', `host name "${'b'.repeat(40)}…" has a label of 64 characters; no DNS label is longer than 63`],
    ]);
  });
});
