import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/registry/retry-after.js';

const NOW = Date.parse('2015-10-21T07:28:00Z');

describe('parseRetryAfter', () => {
  it.each([
    ['delay-seconds', '120', 120_000],
    ['zero seconds', '0', 0],
    ['surrounding whitespace', ' 7 ', 7_000],
    ['IMF-fixdate in the future', 'Wed, 21 Oct 2015 07:28:30 GMT', 30_000],
    ['IMF-fixdate in the past is "now"', 'Wed, 21 Oct 2015 07:27:00 GMT', 0],
    ['RFC 850 date', 'Wednesday, 21-Oct-15 07:29:00 GMT', 60_000],
    ['asctime date (no zone: UTC)', 'Wed Oct 21 07:28:05 2015', 5_000],
  ])('reads %s', (_name, value, want) => {
    expect(parseRetryAfter(value, NOW)).toBe(want);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['negative', '-5'],
    ['fractional', '1.5'],
    ['a number with a unit', '10s'],
    ['an ISO date', '2015-10-21T07:29:00Z'],
    ['a date in a local zone', 'Wed, 21 Oct 2015 07:28:30 PST'],
    ['garbage', 'soon'],
    ['too many digits to be a safe integer of ms', '99999999999999999999'],
  ])('ignores %s', (_name, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});
