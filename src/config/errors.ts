/** Errors of the configuration file: each names the file and the field that is wrong. */
import { DigestPinnerError } from '../errors.js';

/**
 * The configuration file cannot be used. The message reads
 * `<file>: <field>: <problem>`, e.g.
 * `config.yaml: registries."quay.io".mirrors[0]: "http://x" must be HOST[:PORT][/PATH]`.
 */
export class ConfigError extends DigestPinnerError {
  readonly code = 'DP_ERR_CONFIG';
  readonly file: string;
  /** The field as a path, e.g. `registries."quay.io".mirrors[0]`; empty for the file as a whole. */
  readonly field: string;
  readonly problem: string;

  constructor(file: string, field: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${field === '' ? '' : `${field}: `}${problem}`, options);
    this.file = file;
    this.field = field;
    this.problem = problem;
  }
}

/** A rewrite rule turned a reference into something that is not a valid reference. */
export class RewriteError extends DigestPinnerError {
  readonly code = 'DP_ERR_REWRITE';
  readonly image: string;

  constructor(image: string, rule: { readonly from: string; readonly to: string }, reason: string, options?: { cause?: unknown }) {
    super(`rewrite ${rule.from} → ${rule.to} makes ${JSON.stringify(image)} invalid: ${reason}`, options);
    this.image = image;
  }
}
