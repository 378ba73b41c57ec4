/** The per-host circuit breaker and Retry-After gate, on a fake clock, with requests sequenced by hand. */
import { describe, expect, it } from 'vitest';
import { HostHealth, type RequestOutcome } from '../../src/registry/host-health.js';
import { RegistryFailure } from '../../src/registry/failure.js';

const HOST = 'registry.test:5000';
const START = Date.parse('2030-01-02T03:04:05Z');
const refused: RequestOutcome = { kind: 'failed', reason: 'cannot reach registry.test:5000: connection refused (ECONNREFUSED)' };
const timedOut: RequestOutcome = { kind: 'failed', reason: 'registry.test:5000 did not answer within 1000 ms' };
const answered: RequestOutcome = { kind: 'answered' };

function breaker(options = { failureThreshold: 3, coolDownMs: 10_000 }) {
  const clock = { now: START };
  const health = new HostHealth(options, () => clock.now);
  return { health, clock };
}

/** One request to `host`, admitted and ended with `outcome` before the next starts. */
function request(health: HostHealth, outcome: RequestOutcome, host = HOST): void {
  health.admit(host)(outcome);
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
    request(health, refused);
    request(health, refused);
    expect(admitError(health)).toBeUndefined();
    expect(health.states().get(HOST)).toBe('closed');
  });

  it('opens after N consecutive failures and fails fast saying since when', () => {
    const { health, clock } = breaker();
    request(health, refused);
    clock.now += 1_000;
    request(health, refused);
    request(health, refused);
    const error = admitError(health);
    expect(error?.kind).toBe('circuit-open');
    expect(error?.reason).toBe(
      'registry.test:5000 has been failing since 2030-01-02T03:04:05Z (3 failures in a row, last: cannot reach registry.test:5000: ' +
        'connection refused (ECONNREFUSED)); not contacted until 2030-01-02T03:04:16Z (circuit breaker open)',
    );
    expect(health.states().get(HOST)).toBe('open');
    expect(admitError(health, 'other.test')).toBeUndefined();
  });

  it('leaves it closed after one timeout: one slow answer does not fail the next requests', () => {
    const { health } = breaker();
    request(health, timedOut);
    expect(admitError(health)).toBeUndefined();
    expect(health.states().get(HOST)).toBe('closed');
  });

  it('opens after three timeouts one after another', () => {
    const { health } = breaker();
    request(health, timedOut);
    request(health, timedOut);
    expect(health.states().get(HOST)).toBe('closed');
    request(health, timedOut);
    expect(health.states().get(HOST)).toBe('open');
    expect(admitError(health)?.reason).toContain('3 failures in a row, last: registry.test:5000 did not answer within 1000 ms');
  });

  it('counts three timeouts of requests in flight together as one failure', () => {
    const { health } = breaker();
    const reports = [health.admit(HOST), health.admit(HOST), health.admit(HOST)];
    for (const report of reports) report(timedOut);
    expect(health.states().get(HOST)).toBe('closed');
    // Two more failures, one after the other, make three in a row.
    request(health, timedOut);
    expect(health.states().get(HOST)).toBe('closed');
    request(health, timedOut);
    expect(admitError(health)?.reason).toContain('3 failures in a row');
  });

  it('counts a request that started after a failure, even while others from before it are still out', () => {
    const { health } = breaker();
    const early = health.admit(HOST);
    request(health, refused);
    const late = health.admit(HOST);
    early(refused);
    late(refused);
    expect(health.states().get(HOST)).toBe('closed');
    request(health, refused);
    expect(health.states().get(HOST)).toBe('open');
  });

  it('counts only consecutive failures: any answer resets the count', () => {
    const { health } = breaker();
    request(health, refused);
    request(health, refused);
    request(health, answered);
    request(health, refused);
    request(health, refused);
    expect(admitError(health)).toBeUndefined();
  });

  it('ignores requests the caller abandoned', () => {
    const { health } = breaker();
    for (let i = 0; i < 5; i += 1) request(health, { kind: 'abandoned' });
    expect(admitError(health)).toBeUndefined();
  });

  /** A breaker opened by three failures in a row. */
  function opened() {
    const opened = breaker();
    for (let i = 0; i < 3; i += 1) request(opened.health, refused);
    return opened;
  }

  it('lets exactly one probe through after the cool-down, and closes when it is answered', () => {
    const { health, clock } = opened();
    clock.now += 10_000;
    expect(health.states().get(HOST)).toBe('half-open');
    const probe = health.admit(HOST);
    const second = admitError(health);
    expect(second?.kind).toBe('circuit-open');
    expect(second?.reason).toContain('not contacted until a probe request answers');
    probe(answered);
    expect(health.states().get(HOST)).toBe('closed');
    expect(admitError(health)).toBeUndefined();
  });

  it('opens again for a full cool-down when the probe fails', () => {
    const { health, clock } = opened();
    clock.now += 10_000;
    request(health, timedOut);
    clock.now += 9_999;
    expect(admitError(health)?.kind).toBe('circuit-open');
    clock.now += 1;
    expect(admitError(health)).toBeUndefined();
  });

  it('is not kept from probing by a request that failed together with the ones that opened it', () => {
    const { health, clock } = breaker();
    const straggler = health.admit(HOST);
    for (let i = 0; i < 3; i += 1) request(health, refused);
    clock.now += 10_000;
    const probe = health.admit(HOST);
    straggler(timedOut);
    probe(answered);
    expect(health.states().get(HOST)).toBe('closed');
  });

  it('lets another probe go when the first was abandoned by its caller', () => {
    const { health, clock } = opened();
    clock.now += 10_000;
    request(health, { kind: 'abandoned' });
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

describe('HostHealth host table', () => {
  it('keeps a failure text shortened: the open breaker names the start of the last one', () => {
    const { health } = breaker({ failureThreshold: 1, coolDownMs: 10_000 });
    request(health, { kind: 'failed', reason: `cannot reach ${HOST}: ${'x'.repeat(100_000)}` });
    const message = admitError(health)?.reason ?? '';
    expect(message).toContain(`last: cannot reach ${HOST}: xxx`);
    expect(message.length).toBeLessThan(500);
  });

  it('is bounded by bytes as well as by count: were longer host names to get here, fewer records would be kept', () => {
    const { health } = breaker();
    const longHost = (i: number) => `${String(i).padStart(6, '0')}.${'h'.repeat(2_000)}:5000`;
    for (let i = 0; i < 1000; i += 1) request(health, refused, longHost(i));
    const kept = health.states().size;
    expect(kept).toBeLessThan(1000);
    expect(kept).toBeGreaterThan(0);
    // The most recent hosts are the ones kept.
    expect(health.states().has(longHost(999))).toBe(true);
    expect(health.states().has(longHost(0))).toBe(false);
  });
});
