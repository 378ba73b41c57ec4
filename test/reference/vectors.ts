/**
 * The conformance vectors transcribed from distribution/reference's own tests
 * (/work/shared/conformance/reference-vectors.json), loaded at run time.
 */
import { readFileSync } from 'node:fs';

/** Fields common to rows that parse one input. */
export interface Row {
  readonly input: string;
  readonly valid: boolean;
  readonly test: string;
  readonly note?: string;
  readonly case?: number | string;
  /** Go's error message, word for word. */
  readonly error?: string;
  /** Go's sentinel error variable, e.g. `ErrNameEmpty` or `digest.ErrDigestUnsupported`. */
  readonly errorId?: string;
  readonly name?: string;
  readonly domain?: string;
  readonly path?: string;
  readonly tag?: string;
  readonly digest?: string;
  readonly familiar?: string;
  readonly normalized?: string;
}

export interface NormalizeRow extends Row {
  readonly func: 'ParseNormalizedNamed' | 'ParseAnyReference' | 'ParseDockerRef';
}

export interface WithTagDigestRow {
  readonly name: string;
  readonly tag?: string;
  readonly digest?: string;
  readonly combined: string;
  readonly test: 'TestWithTag' | 'TestWithDigest';
  readonly note: string;
}

export interface InvalidComponentRow {
  readonly base: string;
  readonly op: 'WithTag' | 'WithDigest';
  readonly arg: string;
  readonly valid: false;
}

export interface SerializationRow extends Row {
  readonly description: string;
}

export interface MatchRow {
  readonly reference: string;
  readonly pattern: string;
  readonly expected?: boolean;
  readonly error?: boolean;
}

export interface RegexpRow {
  readonly input: string;
  readonly match: boolean;
  readonly subs?: readonly string[];
}

export interface Vectors {
  readonly conventions: readonly string[];
  readonly parse: readonly Row[];
  readonly normalize: readonly NormalizeRow[];
  readonly extra: {
    readonly parseNamed: readonly Row[];
    readonly withName: readonly Row[];
    readonly withTagDigest: readonly WithTagDigestRow[];
    readonly invalidComponents: readonly InvalidComponentRow[];
    readonly serialization: readonly SerializationRow[];
    readonly familiarMatch: readonly MatchRow[];
    readonly regexp: {
      readonly domainAndPort: readonly RegexpRow[];
      readonly anchoredName: readonly RegexpRow[];
      readonly reference: readonly RegexpRow[];
      readonly identifier: readonly RegexpRow[];
    };
  };
}

const file = new URL('../../../shared/conformance/reference-vectors.json', import.meta.url);
const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));

/** The vectors, typed by the shape the file documents in its `conventions`. */
export const vectors = parsed as Vectors;

/** A test name for a row: its index and its input, shortened when it is long. */
export function rowName(index: number, input: string, suffix = ''): string {
  const shown = input.length > 72 ? `${JSON.stringify(input.slice(0, 60))}… (${input.length} chars)` : JSON.stringify(input);
  return `[${index}] ${shown}${suffix}`;
}
