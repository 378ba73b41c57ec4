/** Retry decisions and the retry loop: backoff with jitter, Retry-After, and the fetch budget. */
import { describe, expect, it } from 'vitest';
import {
  ManifestUnknownError,
  RegistryAuthError,
  RegistryCircuitOpenError,
  RegistryPolicyError,
  RegistryRateLimitedError,
  RegistryTimeoutError,
  RegistryUnavailableError,
} from '../../src/registry/index.js';
import { DEFAULT_RETRY, jitter, retryDelay, withRetries, type RetryPolicy } from '../../src/resolve/index.js';

const IMAGE = 'registry.test/dp/app:v1';
const POLICY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, minAttemptMs: 50 };
const half = (): number => 0.5;

describe('jitter', () => {
  it.each([
    [1, 0, 50],
    [1, 0.999, 100],
    [2, 0, 100],
    [3, 0.5, 300],
    [10, 0, 500],
    [10, 0.999, 1_000],
  ])('retry %i with random %f waits %i ms (half the doubling delay, plus up to as much, capped)', (retry, random, expected) => {
    expect(jitter(retry, POLICY, () => random)).toBe(expected);
  });
});

describe('retryDelay', () => {
  it.each([
    ['unreachable or 5xx', new RegistryUnavailableError(IMAGE, 'registry answered 503', { status: 503 })],
    ['a request timeout', new RegistryTimeoutError(IMAGE, 'did not answer within 1000 ms')],
  ])('retries %s with backoff', (_name, error) => {
    expect(retryDelay(error, 1, POLICY, half)).toBe(75);
  });

  it('waits as long as Retry-After says when that is longer than the backoff', () => {
    expect(retryDelay(new RegistryRateLimitedError(IMAGE, 'rate limited', { status: 429, retryAfterMs: 2_000 }), 1, POLICY, half)).toBe(2_000);
    expect(retryDelay(new RegistryRateLimitedError(IMAGE, 'rate limited', { status: 429, retryAfterMs: 0 }), 1, POLICY, half)).toBe(75);
  });

  it.each([
    ['429 without Retry-After', new RegistryRateLimitedError(IMAGE, 'rate limited', { status: 429 })],
    ['an open circuit breaker', new RegistryCircuitOpenError(IMAGE, 'failing')],
    ['manifest unknown', new ManifestUnknownError(IMAGE, 'registry answered 404', { status: 404 })],
    ['refused credentials', new RegistryAuthError(IMAGE, 'registry answered 401', { status: 401 })],
    ['a policy refusal', new RegistryPolicyError(IMAGE, 'not in the allow-list')],
    ['a programming error', new TypeError('x is not a function')],
  ])('does not retry %s', (_name, error) => {
    expect(retryDelay(error, 1, POLICY, half)).toBeUndefined();
  });
});

function budget(ms: number) {
  return { deadline: Date.now() + ms, signal: AbortSignal.timeout(ms), now: Date.now, random: half };
}

/** An attempt that fails with the given errors in turn, then answers `ok`. */
function scripted(errors: Error[]): { attempt: () => Promise<string>; calls: number[] } {
  const calls: number[] = [];
  const started = Date.now();
  return {
    calls,
    attempt: () => {
      calls.push(Date.now() - started);
      const error = errors.shift();
      return error === undefined ? Promise.resolve('ok') : Promise.reject(error);
    },
  };
}

const unavailable = (): RegistryUnavailableError => new RegistryUnavailableError(IMAGE, 'registry answered 503', { status: 503 });

describe('withRetries', () => {
  it('retries passing failures with growing waits until one attempt succeeds', async () => {
    const { attempt, calls } = scripted([unavailable(), unavailable()]);
    expect(await withRetries(attempt, POLICY, budget(5_000))).toBe('ok');
    expect(calls).toHaveLength(3);
    expect((calls[1] ?? 0) - (calls[0] ?? 0)).toBeGreaterThanOrEqual(70);
    expect((calls[2] ?? 0) - (calls[1] ?? 0)).toBeGreaterThanOrEqual(145);
  });

  it('gives up after the last attempt with its failure', async () => {
    const last = unavailable();
    const { attempt, calls } = scripted([unavailable(), unavailable(), last, unavailable()]);
    await expect(withRetries(attempt, POLICY, budget(5_000))).rejects.toBe(last);
    expect(calls).toHaveLength(3);
  });

  it('does not start a retry the budget cannot finish', async () => {
    const first = unavailable();
    const { attempt, calls } = scripted([first]);
    await expect(withRetries(attempt, { ...POLICY, baseDelayMs: 1_000 }, budget(400))).rejects.toBe(first);
    expect(calls).toHaveLength(1);
  });

  it('honours Retry-After when it fits, and not when it does not', async () => {
    const soon = scripted([new RegistryRateLimitedError(IMAGE, 'rate limited', { status: 429, retryAfterMs: 200 })]);
    expect(await withRetries(soon.attempt, POLICY, budget(5_000))).toBe('ok');
    expect(soon.calls[1]).toBeGreaterThanOrEqual(195);
    const late = new RegistryRateLimitedError(IMAGE, 'rate limited', { status: 429, retryAfterMs: 60_000 });
    const later = scripted([late]);
    await expect(withRetries(later.attempt, POLICY, budget(5_000))).rejects.toBe(late);
    expect(later.calls).toHaveLength(1);
  });

  it('never retries what the registry said on purpose', async () => {
    const notFound = new ManifestUnknownError(IMAGE, 'registry answered 404', { status: 404 });
    const { attempt, calls } = scripted([notFound]);
    await expect(withRetries(attempt, DEFAULT_RETRY, budget(5_000))).rejects.toBe(notFound);
    expect(calls).toHaveLength(1);
  });

  it('stops waiting when the budget aborts, with the failure rather than the abort', async () => {
    const first = unavailable();
    const { attempt } = scripted([first]);
    const controller = new AbortController();
    const pending = withRetries(attempt, { ...POLICY, baseDelayMs: 10_000, maxDelayMs: 10_000 }, {
      deadline: Date.now() + 60_000,
      signal: controller.signal,
      now: Date.now,
      random: half,
    });
    setTimeout(() => {
      controller.abort();
    }, 20);
    await expect(pending).rejects.toBe(first);
  });
});
