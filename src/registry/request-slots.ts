/**
 * How many requests go out at once: at most `perOrigin` to one origin (as many as the
 * connection pool keeps to it) and `total` in all. A request beyond either waits its
 * turn in order of arrival — a queue, not a failure — until its caller gives up. The
 * wait comes before the request's own timeout starts, so time spent queueing behind
 * other admissions never reads as a slow registry (nor opens its circuit breaker).
 */

/** A request's hold on its slots; `release()` gives them back (again is a no-op). */
export type ReleaseSlot = () => void;

/** What a caller that gave up while waiting is told. */
export type AbortedWait = (reason: unknown) => Error;

/** One bounded group: holders, and the waiters in order. */
class Group {
  holders = 0;
  readonly waiters: (() => void)[] = [];

  constructor(readonly size: number) {}

  get idle(): boolean {
    return this.holders === 0 && this.waiters.length === 0;
  }

  /** Waits for a slot of this group, unless `signal` aborts first. */
  async take(signal: AbortSignal | undefined, aborted: AbortedWait): Promise<void> {
    if (this.holders < this.size && this.waiters.length === 0) {
      this.holders += 1;
      return;
    }
    if (signal?.aborted === true) throw aborted(signal.reason);
    await new Promise<void>((resolve, reject) => {
      const turn = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.holders += 1;
        resolve();
      };
      const onAbort = (): void => {
        const at = this.waiters.indexOf(turn);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(aborted(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(turn);
    });
  }

  give(): void {
    this.holders -= 1;
    this.waiters.shift()?.();
  }
}

/** Slots per origin and in all, for every request a client sends. */
export class RequestSlots {
  readonly #perOrigin: number;
  readonly #total: Group;
  /** Only origins with a request going out or waiting: the map is as large as the traffic in flight. */
  readonly #origins = new Map<string, Group>();

  constructor(limits: { readonly perOrigin: number; readonly total: number }) {
    this.#perOrigin = limits.perOrigin;
    this.#total = new Group(limits.total);
  }

  /**
   * Waits for a slot to `origin` and then one of the total, in that order (a request
   * waiting for a busy origin holds nothing others could use). Throws `aborted(reason)`
   * when `signal` aborts first.
   */
  async acquire(origin: string, signal: AbortSignal | undefined, aborted: AbortedWait): Promise<ReleaseSlot> {
    let group = this.#origins.get(origin);
    if (group === undefined) {
      group = new Group(this.#perOrigin);
      this.#origins.set(origin, group);
    }
    const own = group;
    try {
      await own.take(signal, aborted);
    } catch (error) {
      this.#forgetIfIdle(origin, own);
      throw error;
    }
    try {
      await this.#total.take(signal, aborted);
    } catch (error) {
      own.give();
      this.#forgetIfIdle(origin, own);
      throw error;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total.give();
      own.give();
      this.#forgetIfIdle(origin, own);
    };
  }

  /** Requests waiting for a slot, in all (for tests and metrics). */
  get waiting(): number {
    let count = this.#total.waiters.length;
    for (const group of this.#origins.values()) count += group.waiters.length;
    return count;
  }

  #forgetIfIdle(origin: string, group: Group): void {
    if (group.idle && this.#origins.get(origin) === group) this.#origins.delete(origin);
  }
}
