import { describe, expect, it } from 'vitest';
import { durationFlag, UsageError } from '../../src/cli/options.js';

describe('durationFlag', () => {
  it('takes the fallback when the flag is absent', () => {
    expect(durationFlag('deadline', undefined, 8000)).toBe(8000);
  });

  it.each([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['90', 90_000],
    ['0.5', 500],
  ])('reads %j as %d ms (Go duration, or seconds)', (value, ms) => {
    expect(durationFlag('deadline', value, 8000)).toBe(ms);
  });

  it.each(['0', '0s', 'soon', '-1s', ''])('refuses %j with a usage error naming the flag', (value) => {
    expect(() => durationFlag('cache-ttl', value, 8000)).toThrow(UsageError);
    expect(() => durationFlag('cache-ttl', value, 8000)).toThrow(`--cache-ttl ${JSON.stringify(value)} is not a duration`);
  });
});
