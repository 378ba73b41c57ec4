/** Waiting on shared work without letting one caller's abort cancel it for the others. */
import { describeError } from '../errors.js';
import { RegistryFailure } from './failure.js';

/** `promise`, or an `aborted` failure as soon as `signal` aborts (the work itself goes on). */
export async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) throw abortedFailure(signal, what);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      reject(abortedFailure(signal, what));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

function abortedFailure(signal: AbortSignal, what: string): RegistryFailure {
  return new RegistryFailure('aborted', `aborted by the caller while ${what} (${describeError(signal.reason)})`, { cause: signal.reason });
}
