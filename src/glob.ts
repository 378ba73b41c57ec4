/**
 * Globs: `**` any run of characters, `*` any run without `/`, `?` one character but `/`,
 * anything else itself, the glob matching the whole text. The strict policy's CEL turns a
 * skip pattern into exactly this regular expression (admission/skip.ts), and kubelet-style
 * credential keys write a host label with it (credentials/keyring.ts).
 *
 * Matched by simulating the glob's automaton one character (code point, as RE2 reads
 * runes) at a time: time linear in the text for each step, as RE2 guarantees. A
 * backtracking RegExp of the same expression can take exponential time on a pattern of
 * many stars.
 */

/** One step of a glob: a character, or a wildcard. */
type GlobStep = { readonly literal: string } | '?' | '*' | '**';

/** A compiled glob: its steps, and the text before its first wildcard (a quick test). */
export interface Glob {
  readonly steps: readonly GlobStep[];
  readonly prefix: string;
}

/** Compiles `pattern`; `**` pairs are taken left to right, so `***` is `**` then `*`. */
export function compileGlob(pattern: string): Glob {
  const steps: GlobStep[] = [];
  let star = false;
  for (const character of pattern) {
    if (character === '*') {
      if (star) steps.push('**');
      star = !star;
      continue;
    }
    if (star) steps.push('*');
    star = false;
    steps.push(character === '?' ? '?' : { literal: character });
  }
  if (star) steps.push('*');
  const wildcard = steps.findIndex((step) => typeof step === 'string');
  const prefix = (wildcard === -1 ? steps : steps.slice(0, wildcard)).map((step) => (typeof step === 'string' ? '' : step.literal)).join('');
  return { steps, prefix };
}

/** Whether `glob` matches the whole of `text`. */
export function globMatches(glob: Glob, text: string): boolean {
  if (!text.startsWith(glob.prefix)) return false;
  const { steps } = glob;
  let states = new Uint8Array(steps.length + 1);
  let next = new Uint8Array(steps.length + 1);
  states[0] = 1;
  passStars(steps, states);
  for (const character of text) {
    next.fill(0);
    let alive = false;
    for (let i = 0; i < steps.length; i++) {
      const target = states[i] === 1 ? advance(steps[i], character, i) : undefined;
      if (target === undefined) continue;
      next[target] = 1;
      alive = true;
    }
    if (!alive) return false;
    passStars(steps, next);
    [states, next] = [next, states];
  }
  return states[steps.length] === 1;
}

/** The state a step leads to on `character` from state `i`; undefined when it does not take it. */
function advance(step: GlobStep | undefined, character: string, i: number): number | undefined {
  switch (step) {
    case undefined:
      return undefined;
    case '**':
      // RE2's `.` (no `s` flag) takes any character but a newline.
      return character === '\n' ? undefined : i;
    case '*':
      return character === '/' ? undefined : i;
    case '?':
      return character === '/' ? undefined : i + 1;
    default:
      return step.literal === character ? i + 1 : undefined;
  }
}

/** Adds the states reached without taking a character: past a star, which may match nothing. */
function passStars(steps: readonly GlobStep[], states: Uint8Array): void {
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (states[i] === 1 && (step === '*' || step === '**')) states[i + 1] = 1;
  }
}
