/** Deadlines: kube-apiserver appends `?timeout=10s` (the webhook's timeoutSeconds) to every call. */
import { setMaxListeners } from 'node:events';
import { cancellableTimeout, type CancellableTimeout, type Deadline } from '../timeout.js';

const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration (`10s`, `1m30s`, `500ms`) into milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(DURATION_PART)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
  }
  return total;
}

/** Time the webhook keeps for itself after resolution: encoding, the response, the network. */
export const RESPONSE_MARGIN_MS = 1_000;

/**
 * The resolution deadline for one admission: the webhook's own cap, and never past the
 * caller's timeout less a margin (at least half the caller's timeout stays usable).
 */
export function resolutionDeadlineMs(timeoutParam: string | undefined, capMs: number): number {
  const callerMs = timeoutParam === undefined ? undefined : parseGoDuration(timeoutParam);
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

  dispose(): void {
    this.#timeout?.cancel();
  }
}
