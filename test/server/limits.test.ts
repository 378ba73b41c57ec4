/** The server's bounds: consistent with each other, and quoted with their values in docs/security.md. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_LIMITS, type ServerLimits } from '../../src/server/limits.js';

/** A value as the docs write it: bytes in KiB or MiB, durations in seconds, counts with thousands separators. */
function shown(name: keyof ServerLimits, value: number): string {
  if (name.endsWith('Bytes') || name.endsWith('BytesInFlight')) return value >= 1024 * 1024 ? `${value / (1024 * 1024)} MiB` : `${value / 1024} KiB`;
  if (name.endsWith('Ms')) return `${value / 1000} s`;
  return value.toLocaleString('en-US');
}

describe('SERVER_LIMITS', () => {
  it('let the largest body a lane accepts fit in it, and a header timeout end before the request timeout', () => {
    expect(SERVER_LIMITS.bodyBytes).toBeLessThanOrEqual(SERVER_LIMITS.bodyBytesInFlight);
    expect(SERVER_LIMITS.jsonValues).toBeLessThanOrEqual(SERVER_LIMITS.jsonValuesInFlight);
    expect(SERVER_LIMITS.ordinaryBodyBytes).toBeLessThanOrEqual(SERVER_LIMITS.ordinaryBodyBytesInFlight);
    expect(SERVER_LIMITS.ordinaryJsonValues).toBeLessThanOrEqual(SERVER_LIMITS.ordinaryJsonValuesInFlight);
    expect(SERVER_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(SERVER_LIMITS.requestTimeoutMs);
  });

  it('are each quoted in docs/security.md with their value', () => {
    const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
    for (const [name, value] of Object.entries(SERVER_LIMITS) as [keyof ServerLimits, number][]) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\``));
      expect(row, name).toBeDefined();
      expect(row?.split('|')[2]?.trim(), name).toBe(shown(name, value));
    }
  });
});
