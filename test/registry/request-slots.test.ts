import { describe, expect, it } from 'vitest';
import { RequestSlots, type ReleaseSlot } from '../../src/registry/request-slots.js';

const aborted = (reason: unknown): Error => new Error(`gave up: ${String(reason)}`);
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Acquires a slot in the background; `got` says whether it has it yet. */
function waiter(slots: RequestSlots, origin: string, signal?: AbortSignal) {
  const state: { got: boolean; release: ReleaseSlot | undefined; error: unknown } = { got: false, release: undefined, error: undefined };
  const done = slots.acquire(origin, signal, aborted).then(
    (release) => {
      state.got = true;
      state.release = release;
    },
    (error: unknown) => {
      state.error = error;
    },
  );
  return Object.assign(state, { done });
}

describe('RequestSlots', () => {
  it('lets `perOrigin` requests go to one origin; the next waits until one is given back', async () => {
    const slots = new RequestSlots({ perOrigin: 2, total: 10 });
    const [a, b, c] = [waiter(slots, 'https://r'), waiter(slots, 'https://r'), waiter(slots, 'https://r')];
    const other = waiter(slots, 'https://other');
    await tick();
    expect([a.got, b.got, c.got, other.got]).toEqual([true, true, false, true]);
    expect(slots.waiting).toBe(1);
    a.release?.();
    await c.done;
    expect(c.got).toBe(true);
    expect(slots.waiting).toBe(0);
  });

  it('bounds requests in all, across origins, and serves waiters in order of arrival', async () => {
    const slots = new RequestSlots({ perOrigin: 5, total: 2 });
    const first = [waiter(slots, 'https://a'), waiter(slots, 'https://b')];
    const queued = [waiter(slots, 'https://c'), waiter(slots, 'https://d'), waiter(slots, 'https://a')];
    await tick();
    expect(queued.map((w) => w.got)).toEqual([false, false, false]);
    first[1]?.release?.();
    await tick();
    expect(queued.map((w) => w.got)).toEqual([true, false, false]);
    first[0]?.release?.();
    await tick();
    expect(queued.map((w) => w.got)).toEqual([true, true, false]);
  });

  it('gives up a wait when the signal aborts, with the error the caller makes, and leaves the queue', async () => {
    const slots = new RequestSlots({ perOrigin: 1, total: 10 });
    const holder = waiter(slots, 'https://r');
    const controller = new AbortController();
    const impatient = waiter(slots, 'https://r', controller.signal);
    const patient = waiter(slots, 'https://r');
    await tick();
    controller.abort('deadline');
    await impatient.done;
    expect(impatient.error).toEqual(new Error('gave up: deadline'));
    expect(slots.waiting).toBe(1);
    holder.release?.();
    await patient.done;
    expect(patient.got).toBe(true);
  });

  it('refuses at once when the signal has already aborted and no slot is free', async () => {
    const slots = new RequestSlots({ perOrigin: 1, total: 1 });
    await slots.acquire('https://r', undefined, aborted);
    await expect(slots.acquire('https://r', AbortSignal.abort('late'), aborted)).rejects.toThrow('gave up: late');
    expect(slots.waiting).toBe(0);
  });

  it('counts a slot given back twice once', async () => {
    const slots = new RequestSlots({ perOrigin: 1, total: 1 });
    const release = await slots.acquire('https://r', undefined, aborted);
    release();
    release();
    const [a, b] = [waiter(slots, 'https://r'), waiter(slots, 'https://r')];
    await tick();
    expect([a.got, b.got]).toEqual([true, false]);
  });
});
