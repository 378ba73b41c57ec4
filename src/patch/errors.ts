import { DigestPinnerError } from '../errors.js';

/**
 * A pin that does not describe the object it is meant for (a field that is not
 * there, holds another image, or is pinned twice). It means a bug upstream, and
 * is raised rather than sent as a patch the API server would reject.
 */
export class InvalidPinError extends DigestPinnerError {
  readonly code = 'DP_ERR_INVALID_PIN';
  readonly pointer: string;

  constructor(pointer: string, reason: string) {
    super(`cannot pin the image at ${pointer}: ${reason}`);
    this.pointer = pointer;
  }
}
