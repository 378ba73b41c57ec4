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

/**
 * A fetch budget of `ms` on a clock of the test's own, starting at 0. Each wait is recorded
 * and moves the clock on at once; with `hold`, a wait lasts until the budget is aborted.
 */
function budget(ms: number, options: { readonly hold?: boolean } = {}) {
  const clock = { now: 0 };
  const waits: number[] = [];
  const controller = new AbortController();
  let waiting = (): void => undefined;
  const firstWait = new Promise<void>((resolve) => {
    waiting = resolve;
  });
  const sleep = (wait: number, signal: AbortSignal): Promise<unknown> => {
    waits.push(wait);
    waiting();
    if (options.hold !== true) {
      clock.now += wait;
      return Promise.resolve();
    }
    return new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => {
        reject(new Error('the wait was aborted', { cause: signal.reason }));
      }, { once: true });
    });
  };
  return { budget: { deadline: ms, signal: controller.signal, now: () => clock.now, random: half, sleep }, clock, waits, firstWait, abort: () => { controller.abort(); } };
}

/** An attempt that fails with the given errors in turn, then answers `ok`; `calls` holds the clock at each attempt. */
function scripted(errors: Error[], clock: { readonly now: number }): { attempt: () => Promise<string>; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    attempt: () => {
      calls.push(clock.now);
      const error = errors.shift();
      return error === undefined ? Promise.resolve('ok') : Promise.reject(error);
    },
  };
}

const unavailable = (): RegistryUnavailableError => new RegistryUnavailableError(IMAGE, 'registry answered 503', { status: 503 });

describe('withRetries', () => {
  it('retries passing failures with growing waits until one attempt succeeds', async () => {
    const { budget: fetch, clock, waits } = budget(5_000);
    const { attempt, calls } = scripted([unavailable(), unavailable()], clock);
    expect(await withRetries(attempt, POLICY, fetch)).toBe('ok');
    expect(waits).toEqual([75, 150]);
    expect(calls).toEqual([0, 75, 225]);
  });

  it('gives up after the last attempt with its failure', async () => {
    const last = unavailable();
    const { budget: fetch, clock } = budget(5_000);
    const { attempt, calls } = scripted([unavailable(), unavailable(), last, unavailable()], clock);
    await expect(withRetries(attempt, POLICY, fetch)).rejects.toBe(last);
    expect(calls).toHaveLength(3);
  });

  it('does not start a retry the budget cannot finish', async () => {
    const first = unavailable();
    // The first retry's wait alone is longer than the budget.
    const { budget: fetch, clock, waits } = budget(400);
    const { attempt, calls } = scripted([first], clock);
    await expect(withRetries(attempt, { ...POLICY, baseDelayMs: 1_000 }, fetch)).rejects.toBe(first);
    expect(calls).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('honours Retry-After when it fits, and not when it does not', async () => {
    const fits = budget(5_000);
    const soon = scripted([new RegistryRateLimitedError(IMAGE, 'rate limited', { status: 429, retryAfterMs: 200 })], fits.clock);
    expect(await withRetries(soon.attempt, POLICY, fits.budget)).toBe('ok');
    expect(fits.waits).toEqual([200]);
    const late = new RegistryRateLimitedError(IMAGE, 'rate limited', { status: 429, retryAfterMs: 60_000 });
    const tooLong = budget(5_000);
    const later = scripted([late], tooLong.clock);
    await expect(withRetries(later.attempt, POLICY, tooLong.budget)).rejects.toBe(late);
    expect(later.calls).toHaveLength(1);
    expect(tooLong.waits).toEqual([]);
  });

  it('never retries what the registry said on purpose', async () => {
    const notFound = new ManifestUnknownError(IMAGE, 'registry answered 404', { status: 404 });
    const { budget: fetch, clock } = budget(5_000);
    const { attempt, calls } = scripted([notFound], clock);
    await expect(withRetries(attempt, DEFAULT_RETRY, fetch)).rejects.toBe(notFound);
    expect(calls).toHaveLength(1);
  });

  it('stops waiting when the budget aborts, with the failure rather than the abort', async () => {
    const first = unavailable();
    const { budget: fetch, clock, firstWait, abort } = budget(60_000, { hold: true });
    const { attempt } = scripted([first], clock);
    const pending = withRetries(attempt, POLICY, fetch);
    await firstWait;
    abort();
    await expect(pending).rejects.toBe(first);
  });
});
