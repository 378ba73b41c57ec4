/** cancellableTimeout: aborts with a TimeoutError when the time is up, never once cancelled. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cancellableTimeout } from '../src/timeout.js';

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
