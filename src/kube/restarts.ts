/**
 * What every informer here shares: when to restart after a failure, and listing a
 * collection page by page as one list. client-node's ListWatch stops on an error.
 */

/** First delay before restarting a failed informer, and the most it grows to. */
export interface RestartDelays {
  readonly initial: number;
  readonly max: number;
}

export const DEFAULT_RESTART_DELAY: RestartDelays = { initial: 1_000, max: 30_000 };

/** Objects asked for per list page. */
export const DEFAULT_PAGE_SIZE = 500;
/** Most time one list page may take. */
export const DEFAULT_LIST_TIMEOUT_MS = 60_000;

/**
 * One pending restart at a time, with a delay that doubles from `initial` up to `max`
 * while failures keep coming and starts over after a quiet spell of twice `max`,
 * ±20% so that replicas do not retry in step. Its timer never keeps the process alive.
 */
export class Restarts {
  readonly #delays: RestartDelays;
  readonly #now: () => number;
  readonly #random: () => number;
  #timer: NodeJS.Timeout | undefined;
  #delayMs = 0;
  #lastFailureAt = Number.NEGATIVE_INFINITY;

  constructor(delays: RestartDelays = DEFAULT_RESTART_DELAY, now: () => number = Date.now, random: () => number = Math.random) {
    this.#delays = delays;
    this.#now = now;
    this.#random = random;
  }

  /** Whether a restart is scheduled. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** The delay before the restart after a failure now, in ms (jittered). */
  backoff(): number {
    const { initial, max } = this.#delays;
    const now = this.#now();
    this.#delayMs = now - this.#lastFailureAt > 2 * max ? initial : Math.min(Math.max(this.#delayMs * 2, initial), max);
    this.#lastFailureAt = now;
    return Math.round(this.#delayMs * (0.8 + this.#random() * 0.4));
  }

  /** Runs `restart` in `delayMs`, unless cancelled first. */
  after(delayMs: number, restart: () => void): void {
    this.cancel();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      restart();
    }, delayMs);
    this.#timer.unref();
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** One page of a list: its objects, the collection's resourceVersion, and the token of the next page, if any. */
export interface ListPage<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
  readonly next: string | undefined;
}

/**
 * Every page of a list, from `page(undefined)` on, as one list at the first page's resourceVersion.
 * `project` trims each object in place as its page arrives, so the list holds no more than the
 * projections of the pages before the last (not every page's full objects).
 */
export async function listAllPages<T>(
  page: (continueToken: string | undefined) => Promise<ListPage<T>>,
  project?: (item: T) => void,
): Promise<{ items: T[]; resourceVersion: string }> {
  const first = await page(undefined);
  const items: T[] = [];
  const add = (more: readonly T[]): void => {
    for (const item of more) {
      project?.(item);
      items.push(item);
    }
  };
  add(first.items);
  for (let token = first.next; token !== undefined && token !== ''; ) {
    const next = await page(token);
    add(next.items);
    token = next.next;
  }
  return { items, resourceVersion: first.resourceVersion };
}
