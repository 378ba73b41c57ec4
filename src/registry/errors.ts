/** Errors of the registry stage: one class per failure an operator must tell apart. */
import { DigestPinnerError } from '../errors.js';

/** What every registry error may carry besides its message. */
export interface RegistryErrorOptions {
  readonly cause?: unknown;
  /** HTTP status of the answer that failed, when there was one. */
  readonly status?: number | undefined;
  /** Only for 429: the wait the registry asked for, from `Retry-After`. */
  readonly retryAfterMs?: number | undefined;
}

/**
 * A failure to get one image's digest. The message reads
 * `could not get digest for <image>: <reason>`; `image` and `reason` are kept
 * apart for logs. The reason never quotes a registry's response body.
 */
export abstract class RegistryError extends DigestPinnerError {
  /** The image as `domain/path:tag`, e.g. `127.0.0.1:5000/dp/app:v1`. */
  readonly image: string;
  /** What went wrong, without the image, e.g. `registry answered 404 MANIFEST_UNKNOWN`. */
  readonly reason: string;
  /** HTTP status the registry (or its token service) answered, when there was one. */
  readonly status: number | undefined;

  constructor(image: string, reason: string, options: RegistryErrorOptions = {}) {
    super(`could not get digest for ${image}: ${reason}`, 'cause' in options ? { cause: options.cause } : undefined);
    this.image = image;
    this.reason = reason;
    this.status = options.status;
  }
}

/** The registry has no manifest for that tag (or no such repository): 404. */
export class ManifestUnknownError extends RegistryError {
  readonly code = 'DP_ERR_MANIFEST_UNKNOWN';
}

/** Credentials missing or refused: 401/403 after authenticating, or the token service refused. */
export class RegistryAuthError extends RegistryError {
  readonly code = 'DP_ERR_REGISTRY_AUTH';
}

/** The registry (or its token service) answered 429 Too Many Requests. */
export class RegistryRateLimitedError extends RegistryError {
  readonly code = 'DP_ERR_RATE_LIMITED';
  /** How long the registry asked us to wait (from `Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(image: string, reason: string, options: RegistryErrorOptions = {}) {
    super(image, reason, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The registry could not be reached (DNS, refused, reset, TLS) or answered 5xx. */
export class RegistryUnavailableError extends RegistryError {
  readonly code = 'DP_ERR_REGISTRY_UNAVAILABLE';
}

/** The registry did not answer within the request timeout. */
export class RegistryTimeoutError extends RegistryError {
  readonly code = 'DP_ERR_REGISTRY_TIMEOUT';
}

/** The caller's signal aborted the resolution (e.g. the admission deadline passed). */
export class RegistryAbortedError extends RegistryError {
  readonly code = 'DP_ERR_REGISTRY_ABORTED';
}

/** The registry reported (or served content hashing to) a digest that is not valid (reference/digest.ts). */
export class InvalidDigestError extends RegistryError {
  readonly code = 'DP_ERR_INVALID_DIGEST';
}

/** HTTPS to the registry failed because it speaks plain HTTP: it must be listed as insecure. */
export class InsecureRegistryRequiredError extends RegistryError {
  readonly code = 'DP_ERR_INSECURE_REGISTRY_REQUIRED';
}

/** The registry answered something the distribution protocol does not allow (unexpected status, bad challenge, oversized manifest). */
export class RegistryProtocolError extends RegistryError {
  readonly code = 'DP_ERR_REGISTRY_PROTOCOL';
}

/**
 * The registry (or its token service) failed so often that requests to it are
 * suspended for a cool-down: the circuit breaker is open. Fails fast, so a dead
 * registry costs one timeout rather than one per admission.
 */
export class RegistryCircuitOpenError extends RegistryError {
  readonly code = 'DP_ERR_CIRCUIT_OPEN';
}

/**
 * Policy forbids contacting that address or host: a link-local or cloud-metadata
 * address (always), a registry outside the configured allow-list, or credentials
 * headed for a token realm on another host.
 */
export class RegistryPolicyError extends RegistryError {
  readonly code = 'DP_ERR_REGISTRY_POLICY';
}

/**
 * A registry outside the allow-list (or any, when there is none) could not be reached, said
 * without saying how: whether a host refused, timed out or answered something else would tell
 * a tenant what lies at any `host:port` the webhook can reach. `detail` (the failure itself)
 * is for the operator's log only.
 */
export class RegistryUnreachableError extends RegistryError {
  readonly code = 'DP_ERR_REGISTRY_UNREACHABLE';
  readonly detail: string;

  constructor(image: string, host: string, detail: string, options: { readonly cause?: unknown } = {}) {
    super(image, `registry ${host} could not be reached`, options);
    this.detail = detail;
  }
}

/** A registry CA file given in the options could not be read or holds no PEM certificate. */
export class RegistryCaFileError extends DigestPinnerError {
  readonly code = 'DP_ERR_REGISTRY_CA_FILE';
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`registry CA file ${file}: ${problem}`, options);
    this.file = file;
  }
}
