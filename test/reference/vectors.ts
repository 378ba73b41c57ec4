/**
 * The conformance vectors of distribution/reference's own tests that apply to what
 * digest-pinner keeps (Parse, ParseNormalizedNamed, the grammar's regular
 * expressions), copied into reference-vectors.json from the shared conformance set.
 */
import { readFileSync } from 'node:fs';

/** Fields common to rows that parse one input. */
export interface Row {
  readonly input: string;
  readonly valid: boolean;
  readonly test: string;
  readonly note?: string;
  readonly case?: number | string;
  /** Go's sentinel error variable, e.g. `ErrNameEmpty` or `digest.ErrDigestUnsupported`. */
  readonly errorId?: string;
  /** The DP_ERR_… code digest-pinner rejects an invalid row with. */
  readonly code?: string;
  readonly name?: string;
  readonly domain?: string;
  readonly path?: string;
  readonly tag?: string;
  readonly digest?: string;
  readonly normalized?: string;
}

export interface SerializationRow extends Row {
  readonly description: string;
}

export interface RegexpRow {
  readonly input: string;
  readonly match: boolean;
  readonly subs?: readonly string[];
}

export interface Vectors {
  readonly conventions: readonly string[];
  readonly parse: readonly Row[];
  /** ParseNormalizedNamed rows. */
  readonly normalize: readonly Row[];
  readonly extra: {
    readonly serialization: readonly SerializationRow[];
    readonly regexp: {
      readonly domainAndPort: readonly RegexpRow[];
      readonly anchoredName: readonly RegexpRow[];
      readonly reference: readonly RegexpRow[];
      readonly identifier: readonly RegexpRow[];
    };
  };
}

const parsed: unknown = JSON.parse(readFileSync(new URL('reference-vectors.json', import.meta.url), 'utf8'));

/** The vectors, typed by the shape the file documents in its `conventions`. */
export const vectors = parsed as Vectors;

/** A test name for a row: its index and its input, shortened when it is long. */
export function rowName(index: number, input: string, suffix = ''): string {
  const shown = input.length > 72 ? `${JSON.stringify(input.slice(0, 60))}… (${input.length} chars)` : JSON.stringify(input);
  return `[${index}] ${shown}${suffix}`;
}
