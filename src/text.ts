/** Text for messages and logs, bounded. */

/** `text`, or its first characters and `…` so that the whole is at most `max` characters. */
export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
