/** Replacing ranges of a source text, leaving every other character as it was. */
import { OverlappingEditsError } from './errors.js';

/** Replace `source.slice(start, end)` with `text`; offsets are UTF-16 code units, as JavaScript strings and the yaml package count them. */
export interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/**
 * The source with every edit applied. Edits may come in any order; an edit
 * given twice (same range, same text) is applied once, as when two image
 * fields are one aliased YAML scalar. Overlapping or out-of-range edits throw
 * OverlappingEditsError.
 */
export function splice(source: string, edits: readonly Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  const parts: string[] = [];
  let cursor = 0;
  let previous: Edit | undefined;
  for (const edit of sorted) {
    if (previous !== undefined && sameEdit(previous, edit)) continue;
    if (edit.start < cursor || edit.end < edit.start || edit.end > source.length) {
      throw new OverlappingEditsError(previous ?? { start: 0, end: 0 }, edit);
    }
    parts.push(source.slice(cursor, edit.start), edit.text);
    cursor = edit.end;
    previous = edit;
  }
  parts.push(source.slice(cursor));
  return parts.join('');
}

function sameEdit(a: Edit, b: Edit): boolean {
  return a.start === b.start && a.end === b.end && a.text === b.text;
}
