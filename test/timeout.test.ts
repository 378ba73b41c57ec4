/** cancellableTimeout: aborts with a TimeoutError when the time is up, never once cancelled; raceAbort: stops a wait, not the work. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cancellableTimeout, raceAbort } from '../src/timeout.js';

describe('cancellableTimeout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('aborts with a TimeoutError carrying the message when the time is up, and not before', () => {
    const timeout = cancellableTimeout(20, 'budget ran out');
    vi.advanceTimersByTime(19);
    expect(timeout.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(timeout.signal.aborted).toBe(true);
    expect(timeout.signal.reason).toMatchObject({ name: 'TimeoutError', message: 'budget ran out' });
  });

  it('is aborted at once for a time already past, with no timer', () => {
    expect(cancellableTimeout(0, 'late').signal.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never aborts once cancelled, and gives its timer back', () => {
    const timeout = cancellableTimeout(20, 'unused');
    expect(vi.getTimerCount()).toBe(1);
    timeout.cancel();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(timeout.signal.aborted).toBe(false);
  });
});

describe('raceAbort', () => {
  const gaveUp = (reason: unknown) => new Error('gave up', { cause: reason });

  it('answers with the promise when the signal does not abort', async () => {
    expect(await raceAbort(Promise.resolve(7), new AbortController().signal, gaveUp)).toBe(7);
  });

  it("rejects with the caller's error as the signal aborts, while the work goes on for others", async () => {
    let finish: (value: number) => void = () => undefined;
    const work = new Promise<number>((resolve) => { finish = resolve; });
    const controller = new AbortController();
    const waiting = raceAbort(work, controller.signal, gaveUp);
    controller.abort('deadline');
    await expect(waiting).rejects.toMatchObject({ message: 'gave up', cause: 'deadline' });
    finish(7);
    expect(await work).toBe(7);
  });

  it('rejects at once for a signal already aborted', async () => {
    await expect(raceAbort(Promise.resolve(7), AbortSignal.abort('late'), gaveUp)).rejects.toMatchObject({ cause: 'late' });
  });

  it('passes the promise\'s own failure through', async () => {
    await expect(raceAbort(Promise.reject(new Error('registry down')), new AbortController().signal, gaveUp)).rejects.toThrow('registry down');
  });
});
