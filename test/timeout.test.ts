/** cancellableTimeout: aborts with a TimeoutError when the time is up, never once cancelled; raceAbort: stops a wait, not the work. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cancellableTimeout, raceAbort } from '../src/timeout.js';

describe('cancellableTimeout', () => {
  it('aborts with a TimeoutError carrying the message', async () => {
    const timeout = cancellableTimeout(20, 'budget ran out');
    expect(timeout.signal.aborted).toBe(false);
    await sleep(60);
    expect(timeout.signal.aborted).toBe(true);
    expect(timeout.signal.reason).toMatchObject({ name: 'TimeoutError', message: 'budget ran out' });
  });

  it('is aborted at once for a time already past', () => {
    expect(cancellableTimeout(0, 'late').signal.aborted).toBe(true);
  });

  it('never aborts once cancelled', async () => {
    const timeout = cancellableTimeout(20, 'unused');
    timeout.cancel();
    await sleep(60);
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
