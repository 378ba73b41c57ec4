/**
 * The internal form of a registry failure, raised below the client where the
 * image is not known (shared token and challenge fetches serve many images).
 * The client turns it into the public error class for its own image.
 */
import { describeError } from '../errors.js';
import {
  InsecureRegistryRequiredError,
  InvalidDigestError,
  ManifestUnknownError,
  RegistryAbortedError,
  RegistryAuthError,
  RegistryCircuitOpenError,
  RegistryPolicyError,
  RegistryProtocolError,
  RegistryRateLimitedError,
  RegistryTimeoutError,
  RegistryUnavailableError,
  type RegistryError,
  type RegistryErrorOptions,
} from './errors.js';

/** Which public error a failure becomes. */
export type FailureKind =
  | 'manifest-unknown'
  | 'auth'
  | 'rate-limited'
  | 'unavailable'
  | 'timeout'
  | 'aborted'
  | 'invalid-digest'
  | 'insecure-required'
  | 'protocol'
  | 'circuit-open'
  | 'policy';

type RegistryErrorClass = new (image: string, reason: string, options?: RegistryErrorOptions) => RegistryError;

const ERROR_CLASS: Readonly<Record<FailureKind, RegistryErrorClass>> = {
  'manifest-unknown': ManifestUnknownError,
  auth: RegistryAuthError,
  'rate-limited': RegistryRateLimitedError,
  unavailable: RegistryUnavailableError,
  timeout: RegistryTimeoutError,
  aborted: RegistryAbortedError,
  'invalid-digest': InvalidDigestError,
  'insecure-required': InsecureRegistryRequiredError,
  protocol: RegistryProtocolError,
  'circuit-open': RegistryCircuitOpenError,
  policy: RegistryPolicyError,
};

/** A failure not yet tied to an image. `reason` is written for an operator and never quotes a response body. */
export class RegistryFailure extends Error {
  readonly kind: FailureKind;
  readonly reason: string;
  readonly options: RegistryErrorOptions;

  constructor(kind: FailureKind, reason: string, options: RegistryErrorOptions = {}) {
    super(reason, 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'RegistryFailure';
    this.kind = kind;
    this.reason = reason;
    this.options = options;
  }
}

/** The public error for `image`. */
export function toRegistryError(failure: RegistryFailure, image: string): RegistryError {
  return new ERROR_CLASS[failure.kind](image, failure.reason, failure.options);
}

/** The `aborted` failure of a wait that the caller's signal ended while `what` (for raceAbort). */
export function abortedWhile(what: string): (reason: unknown) => RegistryFailure {
  return (reason) => new RegistryFailure('aborted', `aborted by the caller while ${what} (${describeError(reason)})`, { cause: reason });
}
