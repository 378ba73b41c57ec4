/** A shared quantity: what fits is taken at once, the rest waits smallest first, an abort ends a wait. */
import { describe, expect, it } from 'vitest';
import { Budget } from '../../src/server/budget.js';

const never = new AbortController().signal;

describe('Budget', () => {
  it('grants what fits in the same turn', async () => {
    const budget = new Budget(10);
    let granted = 0;
    const taken = budget.acquire(6, never, () => (granted += 6));
    expect(granted).toBe(6);
    expect(budget.used).toBe(6);
    await taken;
    await budget.acquire(4, never, () => (granted += 4));
    expect(budget.used).toBe(10);
  });

  it('makes what does not fit wait, and grants waiters smallest first as room is made', async () => {
    const budget = new Budget(10);
    await budget.acquire(10, never, () => undefined);
    const order: number[] = [];
    const waits = [8, 3, 5, 3].map((amount) => budget.acquire(amount, never, () => order.push(amount)));
    expect(budget.waiting).toBe(4);
    budget.release(10);
    // 3 + 3 fit, then 5 would pass 10 until one of them gives back.
    expect(order).toEqual([3, 3]);
    expect(budget.used).toBe(6);
    budget.release(3);
    expect(order).toEqual([3, 3, 5]);
    budget.release(3);
    budget.release(5);
    expect(order).toEqual([3, 3, 5, 8]);
    await Promise.all(waits);
    expect(budget.waiting).toBe(0);
  });

  it('ends a wait with the signal’s reason, and the waiter no longer holds a place', async () => {
    const budget = new Budget(10);
    await budget.acquire(9, never, () => undefined);
    const controller = new AbortController();
    let granted = false;
    const wait = budget.acquire(5, controller.signal, () => (granted = true));
    controller.abort(new Error('deadline'));
    await expect(wait).rejects.toThrow('deadline');
    budget.release(9);
    expect(granted).toBe(false);
    expect(budget.used).toBe(0);
  });

  it('refuses at once when the signal has already aborted and nothing fits', async () => {
    const budget = new Budget(1);
    await budget.acquire(1, never, () => undefined);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(budget.acquire(1, controller.signal, () => undefined)).rejects.toThrow('gone');
    expect(budget.waiting).toBe(0);
  });

  it('refuses an amount larger than its capacity (it could never be granted)', async () => {
    await expect(new Budget(10).acquire(11, never, () => undefined)).rejects.toThrow(RangeError);
  });
});
