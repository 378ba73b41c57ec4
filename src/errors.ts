/**
 * Base class of every error digest-pinner raises on purpose. `code` is stable
 * (`DP_ERR_…`) so tests, logs and metrics can name a failure without parsing
 * its message; the message is written for a cluster operator.
 */
export abstract class DigestPinnerError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Text of any thrown value, for places that must report an unknown failure. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The string `code` of a Node.js or library error (`ENOENT`, `UND_ERR_CONNECT_TIMEOUT`), when it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}
