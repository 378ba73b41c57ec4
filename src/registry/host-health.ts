/**
 * Per-host circuit breaker and Retry-After gate, in front of every request to a
 * registry or token service.
 *
 *   closed ──N failures in a row (or one timeout)──▶ open ──cool-down──▶ half-open
 *     ▲                                                ▲                     │ one probe
 *     └──────────────── probe answered ────────────────┴──── probe failed ◀──┘
 *
 * Failures are connection errors, timeouts and 5xx answers; any other answer
 * (404, 401, 429 …) shows the host is alive. A timeout opens the breaker at once:
 * it is the expensive failure, and a dead host should cost one, not one per
 * admission. While open, requests fail fast with a `circuit-open` failure.
 * After a 429 with Retry-After, requests to that host fail fast as rate-limited
 * until the time it named.
 */
import { LRUCache } from 'lru-cache';
import { RegistryFailure } from './failure.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** When the breaker opens and for how long. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker (a timeout counts as all of them). */
  readonly failureThreshold: number;
  /** How long an open breaker refuses requests before letting one probe through. */
  readonly coolDownMs: number;
}

/** How a request ended, as the breaker counts it. */
export type RequestOutcome =
  | { readonly kind: 'answered' }
  | { readonly kind: 'failed'; readonly reason: string; readonly timeout: boolean }
  /** Ended by our caller: says nothing about the host. */
  | { readonly kind: 'abandoned' };

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 3, coolDownMs: 10_000 };

/** A host named in a Retry-After is not asked again sooner, but never told to wait longer than this. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
const MAX_HOSTS = 1000;

interface HostRecord {
  failures: number;
  failingSince: number | undefined;
  lastFailure: string | undefined;
  openUntil: number | undefined;
  probing: boolean;
  retryAt: number | undefined;
}

/** Health of every host contacted, by `host[:port]`. */
export class HostHealth {
  readonly #options: BreakerOptions;
  readonly #now: () => number;
  readonly #hosts = new LRUCache<string, HostRecord>({ max: MAX_HOSTS });

  constructor(options: BreakerOptions = DEFAULT_BREAKER, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  /**
   * Called before each request to `host`: throws a `circuit-open` RegistryFailure
   * while the breaker is open (or a probe is already out), a `rate-limited` one
   * while a Retry-After holds. Otherwise the request may go; report how it ended
   * with `record`.
   */
  admit(host: string): void {
    const record = this.#hosts.get(host);
    if (record === undefined) return;
    const now = this.#now();
    if (record.retryAt !== undefined && now < record.retryAt) {
      throw new RegistryFailure('rate-limited', `${host} asked not to be contacted before ${isoTime(record.retryAt)} (Retry-After)`, {
        status: 429,
        retryAfterMs: record.retryAt - now,
      });
    }
    if (record.openUntil === undefined) return;
    if (now < record.openUntil || record.probing) throw this.#openFailure(host, record);
    record.probing = true;
  }

  /** Counts how a request to `host` ended. */
  record(host: string, outcome: RequestOutcome): void {
    if (outcome.kind === 'abandoned') {
      const record = this.#hosts.get(host);
      if (record !== undefined) record.probing = false;
      return;
    }
    if (outcome.kind === 'answered') {
      this.#answered(host);
      return;
    }
    this.#failed(host, outcome.reason, outcome.timeout);
  }

  /** Remembers a Retry-After from `host` (ms from now). */
  retryAfter(host: string, retryAfterMs: number): void {
    const record = this.#record(host);
    record.retryAt = this.#now() + Math.min(Math.max(0, retryAfterMs), MAX_RETRY_AFTER_MS);
  }

  /** The breaker state of every host seen (bounded to the most recent 1000), for metrics. */
  states(): ReadonlyMap<string, BreakerState> {
    const now = this.#now();
    const states = new Map<string, BreakerState>();
    for (const [host, record] of this.#hosts.entries()) states.set(host, stateOf(record, now));
    return states;
  }

  #answered(host: string): void {
    const record = this.#hosts.get(host);
    if (record === undefined) return;
    record.failures = 0;
    record.failingSince = undefined;
    record.lastFailure = undefined;
    record.openUntil = undefined;
    record.probing = false;
  }

  #failed(host: string, reason: string, timeout: boolean): void {
    const record = this.#record(host);
    const now = this.#now();
    record.failures = timeout ? Math.max(record.failures + 1, this.#options.failureThreshold) : record.failures + 1;
    record.failingSince ??= now;
    record.lastFailure = reason;
    record.probing = false;
    if (record.failures >= this.#options.failureThreshold) record.openUntil = now + this.#options.coolDownMs;
  }

  #record(host: string): HostRecord {
    let record = this.#hosts.get(host);
    if (record === undefined) {
      record = { failures: 0, failingSince: undefined, lastFailure: undefined, openUntil: undefined, probing: false, retryAt: undefined };
      this.#hosts.set(host, record);
    }
    return record;
  }

  #openFailure(host: string, record: HostRecord): RegistryFailure {
    const since = record.failingSince === undefined ? '' : ` since ${isoTime(record.failingSince)}`;
    const last = record.lastFailure === undefined ? '' : `, last: ${record.lastFailure}`;
    const until = record.probing ? 'until a probe request answers' : `until ${isoTime(record.openUntil ?? this.#now())}`;
    return new RegistryFailure(
      'circuit-open',
      `${host} has been failing${since} (${record.failures} failures in a row${last}); not contacted ${until} (circuit breaker open)`,
    );
  }
}

function stateOf(record: HostRecord, now: number): BreakerState {
  if (record.openUntil === undefined) return 'closed';
  return record.probing || now >= record.openUntil ? 'half-open' : 'open';
}

/** `2025-01-31T12:00:00Z`: second precision is what an operator reads. */
function isoTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
