import { describe, expect, it } from 'vitest';
import { boundedFanOut, withinImageLimit } from '../../src/admission/fan-out.js';
import { deadlineOf } from '../support/deadline.js';

const field = (image: string, n: number) => ({ image, n });

describe('withinImageLimit', () => {
  it('admits every field of the first `max` distinct images, in order, and counts all distinct images', () => {
    const fields = [field('a', 0), field('b', 1), field('a', 2), field('c', 3), field('b', 4), field('d', 5), field('c', 6)];
    const { admitted, beyond, distinct } = withinImageLimit(fields, 2);
    expect(admitted.map((f) => f.n)).toEqual([0, 1, 2, 4]);
    expect(beyond.map((f) => f.n)).toEqual([3, 5, 6]);
    expect(distinct).toBe(4);
  });

  it('admits everything up to the limit', () => {
    const fields = [field('a', 0), field('b', 1)];
    expect(withinImageLimit(fields, 2)).toEqual({ admitted: fields, beyond: [], distinct: 2 });
  });
});

/** Work that waits until the test lets it finish, counting how much runs at once. */
function heldWork() {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const release: (() => void)[] = [];
  const work = async (n: number): Promise<string> => {
    running += 1;
    most = Math.max(most, running);
    started.push(n);
    await new Promise<void>((resolve) => release.push(resolve));
    running -= 1;
    return `done ${n}`;
  };
  const finishAll = async (): Promise<void> => {
    while (release.length > 0) {
      release.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { work, started, finishAll, most: () => most };
}

describe('boundedFanOut', () => {
  it('runs at most `limit` at once, starting items in order, and keeps outcomes in item order', async () => {
    const held = heldWork();
    const run = boundedFanOut([0, 1, 2, 3, 4, 5, 6], held.work, deadlineOf(new AbortController().signal), 3);
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.started).toEqual([0, 1, 2]);
    await held.finishAll();
    const { outcomes, notStarted } = await run;
    expect(held.most()).toBe(3);
    expect(held.started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(outcomes).toEqual([0, 1, 2, 3, 4, 5, 6].map((n) => `done ${n}`));
    expect(notStarted).toBe(0);
  });

  it('starts nothing once the signal has aborted; what runs finishes', async () => {
    const held = heldWork();
    const deadline = new AbortController();
    const run = boundedFanOut([0, 1, 2, 3, 4], held.work, deadlineOf(deadline.signal), 2);
    await new Promise((resolve) => setImmediate(resolve));
    deadline.abort();
    await held.finishAll();
    const { outcomes, notStarted } = await run;
    expect(held.started).toEqual([0, 1]);
    expect(outcomes).toEqual(['done 0', 'done 1', undefined, undefined, undefined]);
    expect(notStarted).toBe(3);
  });

  it('does nothing for no items', async () => {
    expect(await boundedFanOut([], () => Promise.resolve(1), deadlineOf(new AbortController().signal))).toEqual({ outcomes: [], notStarted: 0 });
  });
});
