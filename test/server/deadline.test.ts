import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdmissionDeadline, resolutionDeadlineMs } from '../../src/server/deadline.js';

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
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('aborts its signal with a TimeoutError when the time is up, counted from construction, and not a millisecond before', () => {
    const deadline = new AdmissionDeadline(40);
    vi.advanceTimersByTime(20);
    // The signal, and its timer, are made when first read: 20 ms are left of 40.
    expect(vi.getTimerCount()).toBe(0);
    const { signal } = deadline;
    vi.advanceTimersByTime(19);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ name: 'TimeoutError', message: 'The admission deadline passed' });
    expect(deadline.signal).toBe(signal);
  });

  it('gives an already aborted signal when first read after the time is up', () => {
    const deadline = new AdmissionDeadline(5);
    vi.advanceTimersByTime(20);
    expect(deadline.signal.aborted).toBe(true);
  });

  it('never aborts once disposed, and leaves no timer behind', () => {
    const deadline = new AdmissionDeadline(20);
    const { signal } = deadline;
    deadline.dispose();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(signal.aborted).toBe(false);
  });

  it('lets every image of a large Pod listen without a MaxListenersExceededWarning', async () => {
    const onWarning = vi.fn();
    process.on('warning', onWarning);
    try {
      const deadline = new AdmissionDeadline(1_000);
      const listeners = Array.from({ length: 50 }, () => () => undefined);
      for (const listener of listeners) deadline.signal.addEventListener('abort', listener);
      deadline.dispose();
      for (const listener of listeners) deadline.signal.removeEventListener('abort', listener);
      // Node emits the warning on the next tick.
      await new Promise((resolve) => {
        process.nextTick(resolve);
      });
    } finally {
      process.off('warning', onWarning);
    }
    expect(onWarning).not.toHaveBeenCalled();
  });
});
