/** The per-host circuit breaker and Retry-After gate, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { HostHealth, type RequestOutcome } from '../../src/registry/index.js';
import { RegistryFailure } from '../../src/registry/failure.js';

const HOST = 'registry.test:5000';
const START = Date.parse('2030-01-02T03:04:05Z');
const failed: RequestOutcome = { kind: 'failed', reason: 'cannot reach registry.test:5000: connection refused (ECONNREFUSED)', timeout: false };
const timedOut: RequestOutcome = { kind: 'failed', reason: 'registry.test:5000 did not answer within 1000 ms', timeout: true };

function breaker(options = { failureThreshold: 3, coolDownMs: 10_000 }) {
  const clock = { now: START };
  const health = new HostHealth(options, () => clock.now);
  return { health, clock };
}

function admitError(health: HostHealth, host = HOST): RegistryFailure | undefined {
  try {
    health.admit(host);
    return undefined;
  } catch (error) {
    if (error instanceof RegistryFailure) return error;
    throw error;
  }
}

describe('HostHealth circuit breaker', () => {
  it('stays closed below the threshold and for unknown hosts', () => {
    const { health } = breaker();
    expect(admitError(health)).toBeUndefined();
    health.record(HOST, failed);
    health.record(HOST, failed);
    expect(admitError(health)).toBeUndefined();
    expect(health.states().get(HOST)).toBe('closed');
  });

  it('opens after N consecutive failures and fails fast saying since when', () => {
    const { health, clock } = breaker();
    health.record(HOST, failed);
    clock.now += 1_000;
    health.record(HOST, failed);
    health.record(HOST, failed);
    const error = admitError(health);
    expect(error?.kind).toBe('circuit-open');
    expect(error?.reason).toBe(
      'registry.test:5000 has been failing since 2030-01-02T03:04:05Z (3 failures in a row, last: cannot reach registry.test:5000: ' +
        'connection refused (ECONNREFUSED)); not contacted until 2030-01-02T03:04:16Z (circuit breaker open)',
    );
    expect(health.states().get(HOST)).toBe('open');
    expect(admitError(health, 'other.test')).toBeUndefined();
  });

  it('opens on a single timeout: a dead host costs one timeout, not one per admission', () => {
    const { health } = breaker();
    health.record(HOST, timedOut);
    expect(admitError(health)?.kind).toBe('circuit-open');
  });

  it('counts only consecutive failures: any answer resets the count', () => {
    const { health } = breaker();
    health.record(HOST, failed);
    health.record(HOST, failed);
    health.record(HOST, { kind: 'answered' });
    health.record(HOST, failed);
    health.record(HOST, failed);
    expect(admitError(health)).toBeUndefined();
  });

  it('ignores requests the caller abandoned', () => {
    const { health } = breaker();
    for (let i = 0; i < 5; i += 1) health.record(HOST, { kind: 'abandoned' });
    expect(admitError(health)).toBeUndefined();
  });

  it('lets exactly one probe through after the cool-down, and closes when it is answered', () => {
    const { health, clock } = breaker();
    health.record(HOST, timedOut);
    clock.now += 10_000;
    expect(health.states().get(HOST)).toBe('half-open');
    expect(admitError(health)).toBeUndefined();
    const second = admitError(health);
    expect(second?.kind).toBe('circuit-open');
    expect(second?.reason).toContain('not contacted until a probe request answers');
    health.record(HOST, { kind: 'answered' });
    expect(health.states().get(HOST)).toBe('closed');
    expect(admitError(health)).toBeUndefined();
  });

  it('opens again for a full cool-down when the probe fails', () => {
    const { health, clock } = breaker();
    health.record(HOST, timedOut);
    clock.now += 10_000;
    health.admit(HOST);
    health.record(HOST, failed);
    clock.now += 9_999;
    expect(admitError(health)?.kind).toBe('circuit-open');
    clock.now += 1;
    expect(admitError(health)).toBeUndefined();
  });

  it('lets another probe go when the first was abandoned by its caller', () => {
    const { health, clock } = breaker();
    health.record(HOST, timedOut);
    clock.now += 10_000;
    health.admit(HOST);
    health.record(HOST, { kind: 'abandoned' });
    expect(admitError(health)).toBeUndefined();
  });
});

describe('HostHealth Retry-After', () => {
  it('fails fast as rate-limited until the time the host named, then lets requests go', () => {
    const { health, clock } = breaker();
    health.retryAfter(HOST, 30_000);
    const error = admitError(health);
    expect(error?.kind).toBe('rate-limited');
    expect(error?.options.retryAfterMs).toBe(30_000);
    expect(error?.reason).toBe('registry.test:5000 asked not to be contacted before 2030-01-02T03:04:35Z (Retry-After)');
    clock.now += 30_000;
    expect(admitError(health)).toBeUndefined();
    expect(health.states().get(HOST)).toBe('closed');
  });

  it('never waits longer than an hour, whatever the host says', () => {
    const { health } = breaker();
    health.retryAfter(HOST, 10 * 24 * 3600_000);
    expect(admitError(health)?.options.retryAfterMs).toBe(3600_000);
  });
});
