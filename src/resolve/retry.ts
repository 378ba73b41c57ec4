/**
 * Retries of one registry fetch: jittered exponential backoff for failures
 * that may pass (unreachable, 5xx, timeout), the registry's own Retry-After
 * for 429, and never a retry the fetch's budget cannot finish.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryRateLimitedError, RegistryTimeoutError, RegistryUnavailableError } from '../registry/index.js';

/** How often and how patiently a fetch is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1: never retry). */
  readonly attempts: number;
  /** Backoff before the first retry; doubles for each later one, up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A retry starts only if at least this much of the budget remains after its wait. */
  readonly minAttemptMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, minAttemptMs: 250 };

/** The budget one fetch runs within. */
export interface RetryBudget {
  /** Epoch ms after which nothing more is started. */
  readonly deadline: number;
  /** Aborts a wait between attempts. */
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** In [0, 1); Math.random unless a test fixes it. */
  readonly random: () => number;
  /** Waits `ms`, rejecting when `signal` aborts: a timer, unless a test brings the clock that `now` reads. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<unknown>;
}

function timer(ms: number, signal: AbortSignal): Promise<unknown> {
  return sleep(ms, undefined, { signal });
}

/**
 * The wait before retry number `retry` (1 for the first) after `error`, or
 * undefined when the failure is not worth retrying: a 429 without Retry-After
 * (Docker Hub's pull limit lasts hours), an open circuit breaker, anything the
 * registry said on purpose (404, 401, policy).
 */
export function retryDelay(error: unknown, retry: number, policy: RetryPolicy, random: () => number): number | undefined {
  if (error instanceof RegistryRateLimitedError) {
    return error.retryAfterMs === undefined ? undefined : Math.max(error.retryAfterMs, jitter(retry, policy, random));
  }
  if (error instanceof RegistryUnavailableError || error instanceof RegistryTimeoutError) return jitter(retry, policy, random);
  return undefined;
}

/** "Equal jitter": half the exponential delay, plus up to as much again at random, so retries of many fetches spread out. */
export function jitter(retry: number, policy: RetryPolicy, random: () => number): number {
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(delay / 2 + random() * (delay / 2));
}

/** Runs `attempt` until it succeeds, fails for good, runs out of attempts, or a retry would not fit the budget. */
export async function withRetries<T>(attempt: () => Promise<T>, policy: RetryPolicy, budget: RetryBudget): Promise<T> {
  for (let retry = 1; ; retry += 1) {
    try {
      return await attempt();
    } catch (error) {
      const delay = retry < policy.attempts ? retryDelay(error, retry, policy, budget.random) : undefined;
      if (delay === undefined || budget.now() + delay + policy.minAttemptMs > budget.deadline) throw error;
      try {
        await (budget.sleep ?? timer)(delay, budget.signal);
      } catch {
        throw error;
      }
    }
  }
}
