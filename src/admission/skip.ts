/**
 * The skip list: images the webhook leaves alone and the strict policy lets run unpinned.
 * One list, held by the policy itself (its variable `skipList`, a raw string literal), and
 * read as the policy's CEL reads it (variable `skipRegexes` in
 * charts/digest-pinner/templates/validatingadmissionpolicy.yaml):
 *
 *   lines      `split('\n')`, each `trim()`med as Go's strings.TrimSpace trims
 *   kept       a line made only of PATTERN_CHARACTERS; any other line (a comment, a blank,
 *              a pattern followed by a comment) is ignored, by both
 *   glob       `**` any characters, `*` any but `/`, `?` one but `/`, anything else itself (glob.ts)
 *   matched    against the normalised reference (`docker.io/library/nginx:1.27`), or the
 *              same without its tag: `^GLOB(:[^/:]*)?$`
 *
 * The webhook matches an image as the policy would if it were not pinned: its
 * digest, which the policy never looks at, is left out.
 */
import { DigestPinnerError } from '../errors.js';
import { compileGlob, globMatches, type Glob } from '../glob.js';
import type { ImageRef } from '../reference/types.js';
import { truncate } from '../text.js';

/** A line the policy keeps: these characters only (its `matches('^[a-zA-Z0-9._/:@*?-]+$')`). */
const PATTERN_LINE = /^[a-zA-Z0-9._/:@*?-]+$/;
const NOT_PATTERN_CHARACTER = /[^a-zA-Z0-9._/:@*?-]/u;
/** A CEL raw string literal in triple quotes, and nothing else but CEL's whitespace around it. */
const RAW_STRING_LITERAL = /^[\t\n\f\r ]*[rR]'''([\s\S]*)'''[\t\n\f\r ]*$/;
/** The characters a skip pattern may have, for messages. */
export const PATTERN_CHARACTERS = 'letters, digits, . _ / : @ - and the wildcards * ?';

/** What Go's unicode.IsSpace, and so strings.TrimSpace and CEL's trim(), takes for space; String.prototype.trim differs (U+FEFF, U+0085). */
const GO_SPACE: ReadonlySet<number> = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Longest text of an ignored line kept for the log. */
const MAX_IGNORED_TEXT = 120;

/**
 * Most patterns the webhook takes. The policy's CEL has a cost limit per evaluation that
 * grows with the lines of the list and, per unpinned image, the patterns tried; past it the
 * policy denies every unpinned Pod in strict namespaces, even images the webhook skipped.
 * Well under it for Pods of many images (docs/install.md, "The skip list").
 */
export const MAX_SKIP_PATTERNS = 1_000;

/** A skip list the webhook does not take: a pattern the policy would ignore, or too many patterns. */
export class InvalidSkipListError extends DigestPinnerError {
  readonly code = 'DP_ERR_SKIP_LIST';
}

/** A non-blank line of the skip list that is not a pattern, and so matches nothing. */
export interface IgnoredSkipLine {
  /** 1-based. */
  readonly line: number;
  /** The line, trimmed, at most MAX_IGNORED_TEXT characters. */
  readonly text: string;
  /** `comment` for a line starting with `#`, else the first character a pattern cannot have. */
  readonly reason: string;
}

export interface ParsedSkipPatterns {
  readonly patterns: readonly string[];
  readonly ignored: readonly IgnoredSkipLine[];
}

/** The strict policy's variable that holds the skip list. */
export const SKIP_LIST_VARIABLE = 'skipList';

/**
 * The text of the `skipList` expression when it is one CEL raw string literal
 * (`r'''` … `'''`, whose characters CEL takes as they are, newlines included);
 * undefined for any other expression, whose value only CEL could tell.
 */
export function skipListLiteral(expression: string): string | undefined {
  const text = RAW_STRING_LITERAL.exec(expression)?.[1];
  // CEL ends the literal at the first ''' after the opening one: that must be the last.
  return text === undefined || `${text}'''`.indexOf("'''") !== text.length ? undefined : text;
}

/** Reads the skip list's text exactly as the strict policy does: its patterns, and the non-blank lines it ignores. */
export function parseSkipPatterns(text: string): ParsedSkipPatterns {
  const patterns: string[] = [];
  const ignored: IgnoredSkipLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = trimSpace(raw);
    if (line === '') return;
    if (PATTERN_LINE.test(line)) {
      patterns.push(line);
      return;
    }
    const reason = line.startsWith('#') ? 'comment' : `has ${JSON.stringify(NOT_PATTERN_CHARACTER.exec(line)?.[0] ?? '')}`;
    ignored.push({ line: index + 1, text: truncate(line, MAX_IGNORED_TEXT), reason });
  });
  return { patterns, ignored };
}

/** Go's strings.TrimSpace. Every Go space is in the Basic Multilingual Plane, so UTF-16 units suffice. */
export function trimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && GO_SPACE.has(text.charCodeAt(start))) start++;
  while (end > start && GO_SPACE.has(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** The compiled skip list the admission asks. */
export interface SkipList {
  /** Whether `ref` is left alone: some pattern matches it as the strict policy would match it unpinned. */
  matches(ref: ImageRef): boolean;
}

/**
 * Compiles `patterns` (from parseSkipPatterns, or `--skip` flags). Throws
 * InvalidSkipListError for a pattern the policy would ignore, so a flag never skips
 * what a line of the policy's list could not, and for more than MAX_SKIP_PATTERNS.
 */
export function skipList(patterns: readonly string[]): SkipList {
  if (patterns.length > MAX_SKIP_PATTERNS) {
    throw new InvalidSkipListError(`the skip list has ${patterns.length} patterns, more than ${MAX_SKIP_PATTERNS}: the strict policy could exceed its CEL cost limit and deny Pods whose images the webhook skipped`);
  }
  const globs = [...new Set(patterns)].map((pattern) => {
    if (!PATTERN_LINE.test(pattern)) {
      throw new InvalidSkipListError(`skip pattern ${JSON.stringify(pattern)} may only have ${PATTERN_CHARACTERS}`);
    }
    return compileGlob(pattern);
  });
  return {
    matches: (ref) => {
      const reference = unpinnedString(ref);
      return globs.some((glob) => skipGlobMatches(glob, reference));
    },
  };
}

/** What the policy matches: the normalised reference without its digest, `name[:tag]`. */
function unpinnedString(ref: ImageRef): string {
  return ref.tag === undefined ? ref.name : `${ref.name}:${ref.tag}`;
}

/**
 * `^GLOB(:[^/:]*)?$` on `reference`, as RE2 matches it. The optional group can only be
 * the last `:` and what follows it, when no `/` follows, so it is at most two whole matches.
 */
export function skipGlobMatches(glob: Glob, reference: string): boolean {
  if (globMatches(glob, reference)) return true;
  const colon = reference.lastIndexOf(':');
  return colon > reference.lastIndexOf('/') && globMatches(glob, reference.slice(0, colon));
}
