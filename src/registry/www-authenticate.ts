/**
 * Parser of the `WWW-Authenticate` header (RFC 7235 §4.1, RFC 9110 §11.6.1):
 *
 *   WWW-Authenticate = 1#challenge
 *   challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param       = token BWS "=" BWS ( token / quoted-string )
 *   token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 *
 * Several challenges share one comma-separated list, so a comma either ends a
 * parameter or a whole challenge: a new challenge starts where a token is not
 * followed by `=`.
 */
import { DigestPinnerError } from '../errors.js';

/** One challenge: scheme and parameter names lower-cased, values unquoted. */
export interface Challenge {
  /** Lower-cased auth scheme, e.g. `bearer`, `basic`. */
  readonly scheme: string;
  /** Parameters by lower-cased name, e.g. `realm`, `service`, `scope`. */
  readonly params: ReadonlyMap<string, string>;
  /** The token68 form (`Negotiate abc==`), when the challenge used it instead of parameters. */
  readonly token68: string | undefined;
}

/** A header that does not follow the grammar; the message names the position and the rule, not the header's text. */
export class MalformedChallengeError extends DigestPinnerError {
  readonly code = 'DP_ERR_MALFORMED_CHALLENGE';

  constructor(problem: string, position: number) {
    super(`malformed WWW-Authenticate header at character ${position}: ${problem}`);
  }
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
// token68 only when what follows it ends the challenge (end of header or a comma).
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/y;
const OWS = /[ \t]*/y;
const SP = /[ \t]+/y;
// A parameter starts here when a token is followed by BWS "=" and something other than "=".
const PARAM_START = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=(?!=)/y;
const QUOTED_CHAR = /[\t \x21\x23-\x5B\x5D-\x7E\x80-\xFF]/;
const ESCAPABLE_CHAR = /[\t \x21-\x7E\x80-\xFF]/;

/** Parses a `WWW-Authenticate` header into its challenges, in order. Throws MalformedChallengeError. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const scanner = new Scanner(header);
  const challenges: Challenge[] = [];
  skipListSeparators(scanner);
  while (!scanner.atEnd()) {
    challenges.push(parseChallenge(scanner));
    skipListSeparators(scanner);
  }
  if (challenges.length === 0) throw new MalformedChallengeError('no challenge', 0);
  return challenges;
}

/** The first challenge with that scheme (case-insensitive), if any. */
export function findChallenge(challenges: readonly Challenge[], scheme: string): Challenge | undefined {
  const wanted = scheme.toLowerCase();
  return challenges.find((c) => c.scheme === wanted);
}

function parseChallenge(scanner: Scanner): Challenge {
  const scheme = scanner.expect(TOKEN, 'expected an auth scheme').toLowerCase();
  const params = new Map<string, string>();
  if (scanner.atEnd() || scanner.peek() === ',') return { scheme, params, token68: undefined };
  scanner.expect(SP, 'expected a space after the auth scheme');
  if (scanner.atEnd() || scanner.peek() === ',') return { scheme, params, token68: undefined };
  const token68 = scanner.match(TOKEN68);
  if (token68 !== undefined) return { scheme, params, token68 };
  parseParam(scanner, params);
  while (nextIsParam(scanner)) parseParam(scanner, params);
  return { scheme, params, token68: undefined };
}

/** After a parameter: consumes `OWS , OWS` (and empty list elements) only if another parameter of the same challenge follows. */
function nextIsParam(scanner: Scanner): boolean {
  const start = scanner.position;
  scanner.match(OWS);
  if (scanner.atEnd()) return false;
  if (scanner.peek() !== ',') throw new MalformedChallengeError('expected "," between parameters', scanner.position);
  skipListSeparators(scanner);
  if (scanner.lookingAt(PARAM_START)) return true;
  scanner.position = start;
  return false;
}

function parseParam(scanner: Scanner, params: Map<string, string>): void {
  const at = scanner.position;
  const name = scanner.expect(TOKEN, 'expected a parameter name').toLowerCase();
  scanner.match(OWS);
  scanner.expect(/=/y, 'expected "=" after a parameter name');
  scanner.match(OWS);
  const value = scanner.peek() === '"' ? parseQuotedString(scanner) : scanner.expect(TOKEN, 'expected a token or a quoted string');
  if (params.has(name)) throw new MalformedChallengeError(`parameter "${name}" given twice`, at);
  params.set(name, value);
}

function parseQuotedString(scanner: Scanner): string {
  const open = scanner.position;
  scanner.position += 1;
  let value = '';
  for (;;) {
    const c = scanner.peek();
    if (c === undefined) throw new MalformedChallengeError('unterminated quoted string', open);
    scanner.position += 1;
    if (c === '"') return value;
    if (c === '\\') {
      const escaped = scanner.peek();
      if (escaped === undefined || !ESCAPABLE_CHAR.test(escaped)) throw new MalformedChallengeError('bad escape in quoted string', scanner.position);
      scanner.position += 1;
      value += escaped;
    } else if (QUOTED_CHAR.test(c)) {
      value += c;
    } else {
      throw new MalformedChallengeError('control character in quoted string', scanner.position - 1);
    }
  }
}

function skipListSeparators(scanner: Scanner): void {
  scanner.match(/[ \t,]*/y);
}

/** A cursor over the header with sticky-regex helpers. */
class Scanner {
  position = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.position >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.position];
  }

  /** Matches `re` (sticky) at the cursor and advances past it; undefined when it does not match or matches nothing. */
  match(re: RegExp): string | undefined {
    re.lastIndex = this.position;
    const m = re.exec(this.text);
    if (m === null || m[0] === '') return undefined;
    this.position += m[0].length;
    return m[0];
  }

  lookingAt(re: RegExp): boolean {
    re.lastIndex = this.position;
    return re.test(this.text);
  }

  expect(re: RegExp, problem: string): string {
    const m = this.match(re);
    if (m === undefined) throw new MalformedChallengeError(problem, this.position);
    return m;
  }
}
