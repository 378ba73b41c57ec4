import { describeError, DigestPinnerError } from '../errors.js';
import { RegistryUnreachableError } from '../registry/index.js';

/** The admission's deadline ran out before the image resolved (the shared fetch goes on for others). */
export class ResolutionDeadlineError extends DigestPinnerError {
  readonly code = 'DP_ERR_DEADLINE';

  constructor(readonly image: string, options?: { cause?: unknown }) {
    super(`could not get digest for ${image}: deadline exceeded`, options);
  }
}

const IMAGE_PREFIX = /^could not get digest for \S+: /;

/** The reason of a failed resolution without the `could not get digest for <image>:` prefix, for messages that already name the image. */
export function failureReason(error: unknown): string {
  return describeError(error).replace(IMAGE_PREFIX, '');
}

/** What only the operator's log learns of a failure (how a registry could not be reached), when the reason leaves it out. */
export function failureDetail(error: unknown): string | undefined {
  return error instanceof RegistryUnreachableError ? error.detail : undefined;
}
