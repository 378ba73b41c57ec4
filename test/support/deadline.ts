import type { Deadline } from '../../src/timeout.js';

/** A deadline that passes when `signal` aborts. */
export function deadlineOf(signal: AbortSignal): Deadline {
  return { signal, passed: () => signal.aborted };
}
