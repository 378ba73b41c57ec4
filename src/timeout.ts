/** Deadlines as AbortSignals, with timers that are given back when the wait ends. */

/** A deadline as waits see it: `signal` aborts when it passes (an implementation may create it only when first read). */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Whether it has passed, read without creating the signal. */
  passed(): boolean;
}

/** A deadline whose timer can be cleared before it fires. */
export interface CancellableTimeout extends Deadline {
  cancel(): void;
}

/**
 * A deadline `ms` from now: `signal` aborts with a TimeoutError carrying `message`.
 * Like AbortSignal.timeout, its timer never keeps the process alive; unlike it,
 * `cancel()` clears the timer once nothing waits (AbortSignal.timeout's holds its
 * signal until it fires).
 */
export function cancellableTimeout(ms: number, message: string): CancellableTimeout {
  const controller = new AbortController();
  const expire = (): void => {
    controller.abort(new DOMException(message, 'TimeoutError'));
  };
  if (ms <= 0) {
    expire();
    return { signal: controller.signal, passed: () => true, cancel: () => undefined };
  }
  const timer = setTimeout(expire, ms).unref();
  return { signal: controller.signal, passed: () => controller.signal.aborted, cancel: () => { clearTimeout(timer); } };
}

/**
 * `promise`, or the error `aborted` makes of the signal's reason as soon as
 * `signal` aborts. The work itself goes on: shared work (a fetch others wait
 * on too) must not end because one waiter gave up.
 */
export async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, aborted: (reason: unknown) => Error): Promise<T> {
  if (signal.aborted) throw aborted(signal.reason);
  let onAbort: (() => void) | undefined;
  const abort = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      reject(aborted(signal.reason));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, abort]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}
