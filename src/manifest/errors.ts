import { DigestPinnerError } from '../errors.js';

/** A manifest that is not valid YAML (or JSON): names the file and the position of the first error. */
export class ManifestSyntaxError extends DigestPinnerError {
  readonly code = 'DP_ERR_MANIFEST_SYNTAX';

  readonly line: number;
  readonly column: number;

  constructor(
    readonly file: string,
    position: { readonly line: number; readonly column: number },
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}:${position.line}:${position.column}: invalid YAML: ${reason}`, options);
    this.line = position.line;
    this.column = position.column;
  }
}

/**
 * A rewrite that would not have changed only the image values: the spliced
 * text did not parse back to the original objects with the new images. Raised
 * instead of writing the file, e.g. when an image is a YAML anchor that a
 * field other than an image also uses.
 */
export class ManifestRewriteError extends DigestPinnerError {
  readonly code = 'DP_ERR_MANIFEST_REWRITE';

  constructor(
    readonly file: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: cannot rewrite the images in place: ${reason}`, options);
  }
}

/** Two edits of one source that overlap: a bug upstream, never written out. */
export class OverlappingEditsError extends DigestPinnerError {
  readonly code = 'DP_ERR_OVERLAPPING_EDITS';

  constructor(first: { start: number; end: number }, second: { start: number; end: number }) {
    super(`edits [${first.start}, ${first.end}) and [${second.start}, ${second.end}) overlap or lie outside the source`);
  }
}
