import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/duration.js';

describe('parseDuration', () => {
  it.each([
    ['10s', 10_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
    ['0', 0],
    [' 30s ', 30_000],
    [90, 90_000],
    [0.5, 500],
  ])('%j is %d ms', (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  it.each(['', '10', 's', '10x', '1 h', '-1s', '1d', 'soon', true, null, undefined, -1, Number.NaN, Number.POSITIVE_INFINITY])('%j is not a duration', (value) => {
    expect(parseDuration(value)).toBeUndefined();
  });
});
