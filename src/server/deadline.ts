/** Deadlines: kube-apiserver appends `?timeout=10s` (the webhook's timeoutSeconds) to every call. */
import { setMaxListeners } from 'node:events';
import { parseDuration } from '../duration.js';
import { cancellableTimeout, type CancellableTimeout, type Deadline } from '../timeout.js';

/** Time the webhook keeps for itself after resolution: encoding, the response, the network. */
export const RESPONSE_MARGIN_MS = 1_000;

/**
 * The resolution deadline for one admission: the webhook's own cap, and never past the
 * caller's timeout less a margin (at least half the caller's timeout stays usable).
 */
export function resolutionDeadlineMs(timeoutParam: string | undefined, capMs: number): number {
  const callerMs = parseDuration(timeoutParam);
  if (callerMs === undefined || callerMs <= 0) return capMs;
  return Math.min(capMs, Math.max(callerMs - RESPONSE_MARGIN_MS, callerMs / 2));
}

/**
 * One admission's deadline, as the AbortSignal its waits listen to. The signal and
 * its timer exist only once something asks for them (an image missing from the
 * cache): an admission answered from the cache never arms a timer. `dispose()` when
 * the admission is answered, so no timer outlives it.
 */
export class AdmissionDeadline implements Deadline {
  readonly #at: number;
  #timeout: CancellableTimeout | undefined;

  constructor(ms: number) {
    this.#at = Date.now() + ms;
  }

  get signal(): AbortSignal {
    if (this.#timeout !== undefined) return this.#timeout.signal;
    this.#timeout = cancellableTimeout(this.#at - Date.now(), 'The admission deadline passed');
    // Each image waits with a listener of its own: many images are not a leak, and
    // Node's MaxListenersExceededWarning would put a line that is not JSON on stderr.
    setMaxListeners(0, this.#timeout.signal);
    return this.#timeout.signal;
  }

  passed(): boolean {
    return this.#timeout?.signal.aborted ?? Date.now() >= this.#at;
  }

  dispose(): void {
    this.#timeout?.cancel();
  }
}
