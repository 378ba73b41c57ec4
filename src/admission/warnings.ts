/**
 * Admission warnings within kube-apiserver's limits: it truncates each warning at
 * about 256 characters and drops them past 4 KiB in all, so long references are
 * shortened here and the overflow is counted rather than lost silently.
 */

export const MAX_WARNING_LENGTH = 250;
export const MAX_WARNINGS_BYTES = 4000;
const MAX_REFERENCE_LENGTH = 100;
const PREFIX = 'digest-pinner: ';

/** An image the webhook could not pin, and why, in an operator's words. */
export interface ImageFailure {
  /** Where the image is, e.g. `containers/app`. */
  readonly where: string;
  readonly image: string;
  readonly reason: string;
  /** Stable error code, e.g. `DP_ERR_MANIFEST_UNKNOWN`. */
  readonly code: string;
}

/** Shortens `text` to `max` characters, keeping both ends (the registry and the tag say the most). */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const keep = max - 1;
  const head = Math.ceil(keep / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
}

/** One line describing a failure, without the prefix. */
export function describeFailure(failure: ImageFailure): string {
  return `${failure.where} image "${shorten(failure.image, MAX_REFERENCE_LENGTH)}" not pinned: ${failure.reason}`;
}

/** An image that was pinned, with something the user should know (e.g. a stale digest). */
export interface ImageNote {
  readonly where: string;
  readonly image: string;
  readonly text: string;
}

/** One line describing a note, without the prefix. */
export function describeNote(note: ImageNote): string {
  return `${note.where} image "${shorten(note.image, MAX_REFERENCE_LENGTH)}" ${note.text}`;
}

/** Warnings for `notes` then `failures`, each and all within kube-apiserver's limits. */
export function failureWarnings(failures: readonly ImageFailure[], notes: readonly ImageNote[] = []): string[] {
  const lines = [...notes.map(describeNote), ...failures.map(describeFailure)];
  const warnings: string[] = [];
  let bytes = 0;
  for (const [index, line] of lines.entries()) {
    const warning = shorten(PREFIX + line, MAX_WARNING_LENGTH);
    const remaining = lines.length - index;
    const reserve = remaining > 1 ? 80 : 0;
    if (bytes + Buffer.byteLength(warning) + reserve > MAX_WARNINGS_BYTES) {
      warnings.push(`${PREFIX}${remaining} more warning${remaining === 1 ? '' : 's'} about images omitted`);
      break;
    }
    warnings.push(warning);
    bytes += Buffer.byteLength(warning);
  }
  return warnings;
}

/** The denial message for strict mode: every failure named, bounded in length. */
export function denialMessage(failures: readonly ImageFailure[], maxLength = 2000): string {
  const count = failures.length;
  const head = `digest-pinner: ${count} image${count === 1 ? '' : 's'} could not be pinned to a digest (namespace mode strict): `;
  return shorten(head + failures.map(describeFailure).join('; '), maxLength);
}
