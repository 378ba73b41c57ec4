/** Multi-document YAML (or JSON) parsed with its source kept, so positions and ranges point into the original text. */
import { LineCounter, parseAllDocuments, visit, type Document, type YAMLError } from 'yaml';
import { ManifestSyntaxError } from './errors.js';

/** A YAML stream as parsed: its documents (AST with source ranges) and their values. */
export interface ParsedManifest {
  /** What to call the source in messages: a path as given, or `<stdin>`. */
  readonly file: string;
  readonly source: string;
  readonly documents: readonly Document.Parsed[];
  /** Each document as plain data (merge keys applied, aliases resolved); null for an empty document. */
  readonly values: readonly unknown[];
  readonly lineCounter: LineCounter;
}

/** A 1-based line and column (UTF-16 code units, as SARIF counts by default). */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/**
 * Kubernetes reads YAML with go-yaml, which applies `<<` merge keys; so do we,
 * or an image reached through a merge would go unseen.
 */
const PARSE_OPTIONS = { merge: true } as const;

/** Parses `source`; throws ManifestSyntaxError naming `file` and the position of the first error. */
export function parseManifest(source: string, file: string): ParsedManifest {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(source, { ...PARSE_OPTIONS, lineCounter });
  // An empty stream yields an EmptyStream (an array with no documents), never errors.
  const documents: Document.Parsed[] = Array.isArray(parsed) ? [...parsed] : [];
  for (const document of documents) {
    const error = document.errors[0];
    if (error !== undefined) throw syntaxError(file, error, lineCounter);
  }
  const values = documents.map((document) => valueOf(document, file, lineCounter));
  return { file, source, documents, values, lineCounter };
}

/** The line and column of a source offset. */
export function positionAt(manifest: Pick<ParsedManifest, 'lineCounter'>, offset: number): Position {
  const { line, col } = manifest.lineCounter.linePos(offset);
  return { line, column: col };
}

function valueOf(document: Document.Parsed, file: string, lineCounter: LineCounter): unknown {
  try {
    return document.toJS();
  } catch (error) {
    // An alias whose anchor comes later or not at all, or too many aliases ("billion laughs").
    const { line, col } = lineCounter.linePos(unresolvedAliasOffset(document) ?? document.range[0]);
    throw new ManifestSyntaxError(file, { line, column: col }, error instanceof Error ? error.message : String(error), { cause: error });
  }
}

function unresolvedAliasOffset(document: Document.Parsed): number | undefined {
  let offset: number | undefined;
  visit(document, {
    Alias: (_key, alias) => {
      if (alias.resolve(document) !== undefined) return undefined;
      offset = alias.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

/** yaml's messages end with ` at line L, column C:` and an excerpt; we give the position in front instead. */
const POSITION_SUFFIX = / at line \d+, column \d+:[\s\S]*$/;

function syntaxError(file: string, error: YAMLError, lineCounter: LineCounter): ManifestSyntaxError {
  const { line, col } = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
  return new ManifestSyntaxError(file, { line, column: col }, error.message.replace(POSITION_SUFFIX, ''), { cause: error });
}
