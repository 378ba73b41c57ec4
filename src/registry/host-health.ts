/**
 * Per-host circuit breaker and Retry-After gate, in front of every request to a
 * registry or token service.
 *
 *   closed ──N failures in a row──▶ open ──cool-down──▶ half-open
 *     ▲                              ▲                     │ one probe
 *     └────── probe answered ────────┴──── probe failed ◀──┘
 *
 * Failures are connection errors, timeouts and 5xx answers; any other answer
 * (404, 401, 429 …) shows the host is alive. Requests in flight together that
 * fail count as one failure: one slow spell that times out every request of an
 * admission is one sign of trouble, not several, so it does not open the breaker
 * by itself; failures one after another (retries, later admissions) do. While
 * open, requests fail fast with a `circuit-open` failure. After a 429 with
 * Retry-After, requests to that host fail fast as rate-limited until the time it
 * named.
 */
import { LRUCache } from 'lru-cache';
import { truncate } from '../text.js';
import { RegistryFailure } from './failure.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** When the breaker opens and for how long. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  readonly failureThreshold: number;
  /** How long an open breaker refuses requests before letting one probe through. */
  readonly coolDownMs: number;
}

/** How a request ended, as the breaker counts it. */
export type RequestOutcome =
  | { readonly kind: 'answered' }
  | { readonly kind: 'failed'; readonly reason: string }
  /** Ended by our caller: says nothing about the host. */
  | { readonly kind: 'abandoned' };

/** Reports how one admitted request ended (see HostHealth.admit). */
export type OutcomeReport = (outcome: RequestOutcome) => void;

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 3, coolDownMs: 10_000 };

/** A host named in a Retry-After is not asked again sooner, but never told to wait longer than this. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
const MAX_HOSTS = 1000;
/** The host table's bytes: every record counts its host, the most failure text it keeps, and a share for itself. */
const MAX_TABLE_BYTES = 1024 * 1024;
const MAX_FAILURE_TEXT = 200;
const RECORD_BYTES = 200;

interface HostRecord {
  failures: number;
  /**
   * Moves on each counted failure. A request admitted before the latest counted
   * failure was in flight with it, and its own failure is not counted again.
   */
  generation: number;
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
  // Hosts are as requests name them (a host no DNS name can have never gets this far); a record's
  // size is fixed when it is stored, so it counts the longest failure text it may come to hold.
  readonly #hosts = new LRUCache<string, HostRecord>({
    max: MAX_HOSTS,
    maxSize: MAX_TABLE_BYTES,
    sizeCalculation: (_record, host) => RECORD_BYTES + host.length + MAX_FAILURE_TEXT,
  });

  constructor(options: BreakerOptions = DEFAULT_BREAKER, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  /**
   * Called before each request to `host`: throws a `circuit-open` RegistryFailure
   * while the breaker is open (or a probe is already out), a `rate-limited` one
   * while a Retry-After holds. Otherwise the request may go; report how it ended
   * with the function returned.
   */
  admit(host: string): OutcomeReport {
    const record = this.#hosts.get(host);
    const generation = record?.generation ?? 0;
    const report: OutcomeReport = (outcome) => {
      this.#report(host, outcome, generation);
    };
    if (record === undefined) return report;
    const now = this.#now();
    if (record.retryAt !== undefined && now < record.retryAt) {
      throw new RegistryFailure('rate-limited', `${host} asked not to be contacted before ${isoTime(record.retryAt)} (Retry-After)`, {
        status: 429,
        retryAfterMs: record.retryAt - now,
      });
    }
    if (record.openUntil === undefined) return report;
    if (now < record.openUntil || record.probing) throw this.#openFailure(host, record);
    record.probing = true;
    return report;
  }

  /** Remembers a Retry-After from `host` (ms from now). */
  retryAfter(host: string, retryAfterMs: number): void {
    const record = this.#record(host);
    record.retryAt = this.#now() + Math.min(Math.max(0, retryAfterMs), MAX_RETRY_AFTER_MS);
  }

  /** The breaker state of every host seen (the most recent MAX_HOSTS), for metrics. */
  states(): ReadonlyMap<string, BreakerState> {
    const now = this.#now();
    const states = new Map<string, BreakerState>();
    for (const [host, record] of this.#hosts.entries()) states.set(host, stateOf(record, now));
    return states;
  }

  #report(host: string, outcome: RequestOutcome, generation: number): void {
    if (outcome.kind === 'failed') {
      this.#failed(host, outcome.reason, generation);
      return;
    }
    const record = this.#hosts.get(host);
    if (record === undefined) return;
    record.probing = false;
    if (outcome.kind === 'abandoned') return;
    record.failures = 0;
    record.failingSince = undefined;
    record.lastFailure = undefined;
    record.openUntil = undefined;
  }

  #failed(host: string, reason: string, generation: number): void {
    const record = this.#record(host);
    if (generation !== record.generation) return;
    const now = this.#now();
    record.generation += 1;
    record.failures += 1;
    record.failingSince ??= now;
    record.lastFailure = truncate(reason, MAX_FAILURE_TEXT);
    record.probing = false;
    if (record.failures >= this.#options.failureThreshold) record.openUntil = now + this.#options.coolDownMs;
  }

  #record(host: string): HostRecord {
    let record = this.#hosts.get(host);
    if (record === undefined) {
      record = { failures: 0, generation: 0, failingSince: undefined, lastFailure: undefined, openUntil: undefined, probing: false, retryAt: undefined };
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
