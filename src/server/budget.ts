/** A quantity (bytes, JSON values) that requests in flight share, and the waits for it. */

interface Waiter {
  readonly amount: number;
  readonly grant: () => void;
}

/**
 * Holds at most `capacity` units across holders. A request for more than is free waits,
 * the smallest first: an ordinary review never waits behind a large one, which waits until
 * room is made or its signal aborts.
 */
export class Budget {
  readonly capacity: number;
  #used = 0;
  /** Waiting requests, smallest amount first (in arrival order among equals). */
  readonly #waiting: Waiter[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Units held now. */
  get used(): number {
    return this.#used;
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Takes `amount` if it fits now; false (nothing taken) otherwise. Whatever waits needs more
   * than is free, so taking what fits never passes a smaller request.
   */
  tryAcquire(amount: number): boolean {
    if (this.#used + amount > this.capacity) return false;
    this.#used += amount;
    return true;
  }

  /**
   * Takes `amount` now or once it fits, calling `granted` in the same turn as it is taken (so a
   * holder that gives up later never misses a grant). Rejects with the signal's reason if it
   * aborts first; `amount` must not exceed the capacity.
   */
  acquire(amount: number, signal: AbortSignal, granted: () => void): Promise<void> {
    if (amount > this.capacity) return Promise.reject(new RangeError(`${amount} exceeds the budget's capacity of ${this.capacity}`));
    if (this.tryAcquire(amount)) {
      granted();
      return Promise.resolve();
    }
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal.reason as Error);
      };
      const waiter: Waiter = {
        amount,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          granted();
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const at = this.#waiting.findIndex((other) => other.amount > amount);
      this.#waiting.splice(at < 0 ? this.#waiting.length : at, 0, waiter);
    });
  }

  /** Gives back `amount` and grants the waiting requests that now fit, smallest first. */
  release(amount: number): void {
    this.#used -= amount;
    for (let next = this.#waiting[0]; next !== undefined && this.#used + next.amount <= this.capacity; next = this.#waiting[0]) {
      this.#waiting.shift();
      this.#used += next.amount;
      next.grant();
    }
  }
}
