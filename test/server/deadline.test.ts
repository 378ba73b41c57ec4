import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdmissionDeadline, parseGoDuration, resolutionDeadlineMs } from '../../src/server/deadline.js';

describe('parseGoDuration', () => {
  it.each([
    ['10s', 10_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['2h', 7_200_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });
  it.each(['', '10', 's', '10x', '-1s', '10s '])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});

describe('resolutionDeadlineMs', () => {
  it('uses the cap without a timeout', () => {
    expect(resolutionDeadlineMs(undefined, 8000)).toBe(8000);
  });
  it('stays a second inside the caller timeout', () => {
    expect(resolutionDeadlineMs('5s', 8000)).toBe(4000);
  });
  it('never exceeds the cap', () => {
    expect(resolutionDeadlineMs('30s', 8000)).toBe(8000);
  });
  it('keeps half of a very short timeout', () => {
    expect(resolutionDeadlineMs('1s', 8000)).toBe(500);
  });
  it('ignores a timeout it cannot read', () => {
    expect(resolutionDeadlineMs('soon', 8000)).toBe(8000);
  });
});

describe('AdmissionDeadline', () => {
  it('aborts its signal with a TimeoutError when the time is up, counted from construction', async () => {
    const deadline = new AdmissionDeadline(40);
    await sleep(20);
    const { signal } = deadline;
    expect(signal.aborted).toBe(false);
    await sleep(60);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
    expect(deadline.signal).toBe(signal);
  });

  it('gives an already aborted signal when first read after the time is up', async () => {
    const deadline = new AdmissionDeadline(5);
    await sleep(20);
    expect(deadline.signal.aborted).toBe(true);
  });

  it('never aborts once disposed', async () => {
    const deadline = new AdmissionDeadline(20);
    const { signal } = deadline;
    deadline.dispose();
    await sleep(50);
    expect(signal.aborted).toBe(false);
  });
});
