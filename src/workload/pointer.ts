/** RFC 6901 JSON Pointers: the addresses of fields, shared by the walker and the patch builder. */
import { member } from '../json.js';

const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

/** True for a token that addresses an array element: a decimal index without leading zeros (RFC 6901 §4). */
export function isArrayIndex(token: string): boolean {
  return ARRAY_INDEX.test(token);
}

/** One reference token escaped for a pointer: `~` → `~0`, `/` → `~1` (RFC 6901 §3). */
export function escapeToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** The tokens of a pointer, unescaped; `''` (the whole document) has none. */
export function tokensOf(pointer: string): string[] {
  if (pointer === '') return [];
  const tokens = pointer.slice(1).split('/');
  return pointer.includes('~') ? tokens.map(unescapeToken) : tokens;
}

/** The value a pointer addresses in `document`; undefined when any step is missing or of the wrong shape. */
export function valueAt(document: unknown, pointer: string): unknown {
  // Walks the tokens in place rather than splitting the pointer into an array first:
  // this runs for every image field of every admission.
  const escaped = pointer.includes('~');
  let value = document;
  for (let start = 1; start <= pointer.length; ) {
    const end = pointer.indexOf('/', start);
    const stop = end === -1 ? pointer.length : end;
    const token = pointer.slice(start, stop);
    value = step(value, escaped ? unescapeToken(token) : token);
    if (value === undefined) return undefined;
    start = stop + 1;
  }
  return value;
}

/** `~1` is undone before `~0`, so `~01` reads back as `~1` (RFC 6901 §4). */
function unescapeToken(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

function step(value: unknown, token: string): unknown {
  if (Array.isArray(value)) return isArrayIndex(token) ? (value as readonly unknown[])[Number(token)] : undefined;
  return member(value, token);
}
