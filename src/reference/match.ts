/** Glob matching of references, with Go's `path.Match` semantics (Go's `FamiliarMatch`). */
import { PatternSyntaxError } from './errors.js';
import { familiarName, familiarString } from './normalize.js';
import type { Reference } from './reference.js';

/**
 * Whether `pattern` matches the reference in its familiar form (`nginx:1`), or
 * else its familiar name alone (`nginx`). Throws PatternSyntaxError for a malformed glob.
 */
export function familiarMatch(pattern: string, ref: Reference): boolean {
  if (pathMatch(pattern, familiarString(ref))) return true;
  return ref.kind === 'named' && pathMatch(pattern, familiarName(ref));
}

/**
 * Go's `path.Match`: `*` is any run of characters but `/`, `?` one character
 * but `/`, `[a-z]` / `[^a-z]` a class, and `\` escapes. A malformed pattern
 * throws PatternSyntaxError even when the name would not match anyway.
 */
export function pathMatch(pattern: string, name: string): boolean {
  try {
    return matchChunks(pattern, name);
  } catch (error) {
    // Parts of the pattern report themselves; name the whole pattern instead.
    if (error instanceof PatternSyntaxError) throw new PatternSyntaxError(pattern);
    throw error;
  }
}

function matchChunks(pattern: string, name: string): boolean {
  let pending = pattern;
  let subject = name;
  while (pending.length > 0) {
    const { star, chunk, rest } = scanChunk(pending);
    pending = rest;
    // A trailing star matches whatever is left, unless that crosses a `/`.
    if (star && chunk === '') return !subject.includes('/');
    const after = consumeChunk(chunk, subject, star, pending === '');
    if (after === undefined) {
      checkSyntax(pending);
      return false;
    }
    subject = after;
  }
  return subject === '';
}

/** Splits off leading stars and the literal/class run up to the next star outside a class. */
function scanChunk(pattern: string): { star: boolean; chunk: string; rest: string } {
  let start = 0;
  while (pattern[start] === '*') start++;
  let inRange = false;
  let end = start;
  for (; end < pattern.length; end++) {
    const c = pattern[end];
    if (c === '\\' && end + 1 < pattern.length) end++;
    else if (c === '[') inRange = true;
    else if (c === ']') inRange = false;
    else if (c === '*' && !inRange) break;
  }
  return { star: start > 0, chunk: pattern.slice(start, end), rest: pattern.slice(end) };
}

/** What is left of `subject` after `chunk` matched it, trying later starts when a star precedes the chunk. */
function consumeChunk(chunk: string, subject: string, star: boolean, last: boolean): string | undefined {
  const accept = (rest: string | undefined): boolean => rest !== undefined && (rest === '' || !last);
  const direct = matchChunk(chunk, subject);
  if (accept(direct)) return direct;
  if (!star) return undefined;
  // The star may swallow characters, but never a `/`.
  for (let skip = 1; skip <= subject.length && subject[skip - 1] !== '/'; skip++) {
    const rest = matchChunk(chunk, subject.slice(skip));
    if (accept(rest)) return rest;
  }
  return undefined;
}

/** Throws if any chunk of the rest of the pattern is malformed. */
function checkSyntax(pattern: string): void {
  let pending = pattern;
  while (pending.length > 0) {
    const { chunk, rest } = scanChunk(pending);
    matchChunk(chunk, '');
    pending = rest;
  }
}

/**
 * Matches a star-free chunk at the start of `subject`; returns what is left, or
 * undefined on a mismatch. The whole chunk is read either way, so that a
 * malformed chunk always throws.
 */
function matchChunk(chunk: string, subject: string): string | undefined {
  let pos = 0;
  let rest: string | undefined = subject;
  while (pos < chunk.length) {
    if (rest === '') rest = undefined;
    ({ pos, rest } = matchElement(chunk, pos, rest));
  }
  return rest;
}

interface Step {
  readonly pos: number;
  readonly rest: string | undefined;
}

/** Matches one pattern element at `chunk[pos]`; `rest` is undefined once the match has failed. */
function matchElement(chunk: string, pos: number, rest: string | undefined): Step {
  const c = chunk[pos];
  if (c === '[') return matchClass(chunk, pos + 1, rest);
  if (c === '?') {
    const matched = rest !== undefined && !rest.startsWith('/');
    return { pos: pos + 1, rest: matched ? rest.slice(charLength(rest, 0)) : undefined };
  }
  const literal = c === '\\' ? pos + 1 : pos;
  if (literal >= chunk.length) throw new PatternSyntaxError(chunk);
  const matched = rest !== undefined && rest[0] === chunk[literal];
  return { pos: literal + 1, rest: matched ? rest.slice(1) : undefined };
}

/** Matches a class body starting after its `[`: optional `^`, then ranges `a` or `a-z`, then `]`. */
function matchClass(chunk: string, start: number, rest: string | undefined): Step {
  const r = rest?.codePointAt(0);
  const negated = chunk[start] === '^';
  let pos = negated ? start + 1 : start;
  let inClass = false;
  for (let ranges = 0; !(chunk[pos] === ']' && ranges > 0); ranges++) {
    const lo = classChar(chunk, pos);
    const hi = chunk[lo.pos] === '-' ? classChar(chunk, lo.pos + 1) : lo;
    if (r !== undefined && lo.code <= r && r <= hi.code) inClass = true;
    pos = hi.pos;
  }
  const matched = rest !== undefined && r !== undefined && inClass !== negated;
  return { pos: pos + 1, rest: matched ? rest.slice(charLength(rest, 0)) : undefined };
}

/** Reads one (possibly escaped) character of a class; something must follow it. */
function classChar(chunk: string, pos: number): { code: number; pos: number } {
  const c = chunk[pos];
  if (c === undefined || c === '-' || c === ']') throw new PatternSyntaxError(chunk);
  const at = c === '\\' ? pos + 1 : pos;
  const code = chunk.codePointAt(at);
  if (code === undefined) throw new PatternSyntaxError(chunk);
  const next = at + charLength(chunk, at);
  if (next >= chunk.length) throw new PatternSyntaxError(chunk);
  return { code, pos: next };
}

/** UTF-16 length of the character at `index`: a class or `?` consumes a whole code point. */
function charLength(text: string, index: number): number {
  const code = text.codePointAt(index);
  return code !== undefined && code > 0xffff ? 2 : 1;
}
