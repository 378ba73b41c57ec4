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
  /** For the operator's log only: what `reason` leaves out (how a registry could not be reached). */
  readonly detail?: string | undefined;
  /** The registry (`host[:port]`, after any rewrite) the image failed on; undefined when it never got that far. */
  readonly registry?: string | undefined;
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

/** Image fields an admission did not look up at all: beyond its image limit, or not started before its deadline. */
export interface Unattempted {
  /** The object's kind, e.g. `Pod`. */
  readonly kind: string;
  /** Image fields not looked up. */
  readonly fields: number;
  /** Distinct images the object names. */
  readonly distinctImages: number;
  /** Distinct images one admission looks up. */
  readonly maxImages: number;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** One line saying how many image fields were not looked up, and why; without the prefix. */
export function describeUnattempted(unattempted: Unattempted): string {
  const { kind, fields, distinctImages, maxImages } = unattempted;
  const why =
    distinctImages > maxImages
      ? `the ${kind} names ${distinctImages} distinct images, more than the ${maxImages} looked up per admission`
      : 'the admission deadline passed before they were looked up';
  return `${plural(fields, 'image field')} not pinned: ${why}`;
}

/** The denial of an object naming more distinct images than one admission looks up (strict mode). */
export function tooManyImagesMessage(unattempted: Unattempted): string {
  const { kind, distinctImages, maxImages } = unattempted;
  return `${PREFIX}the ${kind} names ${distinctImages} distinct images, more than the ${maxImages} looked up per admission (namespace mode strict); none was pinned`;
}

/**
 * Warnings for what was not looked up, then what concerns the Pod's revision (its record, its
 * running Pods), then `notes`, then `failures`, each and all within kube-apiserver's limits.
 * What was not looked up is one warning, first, whatever its count.
 */
export function failureWarnings(failures: readonly ImageFailure[], notes: readonly ImageNote[] = [], unattempted?: Unattempted, revisionNotes: readonly string[] = []): string[] {
  const skipped = unattempted === undefined || unattempted.fields === 0 ? [] : [describeUnattempted(unattempted)];
  const lines = [...skipped, ...revisionNotes, ...notes.map(describeNote), ...failures.map(describeFailure)];
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

/** The denial message for strict mode: what was not looked up, then every failure named, bounded in length. */
export function denialMessage(failures: readonly ImageFailure[], unattempted?: Unattempted, maxLength = 2000): string {
  const skipped = unattempted?.fields ?? 0;
  const count = failures.length + skipped;
  const head = `${PREFIX}${plural(count, 'image')} could not be pinned to a digest (namespace mode strict): `;
  const lines = [...(skipped > 0 && unattempted !== undefined ? [describeUnattempted(unattempted)] : []), ...failures.map(describeFailure)];
  return shorten(head + lines.join('; '), maxLength);
}
