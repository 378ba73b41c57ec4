/** Adding a top-level entry to a one-document manifest (a KRM ResourceList's `results`) while keeping its text. */
import { isDeepStrictEqual } from 'node:util';
import { isMap, stringify } from 'yaml';
import { isRecord } from '../json.js';
import { parseManifest, positionAt, type ParsedManifest } from './parse.js';

const STRINGIFY_OPTIONS = { lineWidth: 0 } as const;

/**
 * The manifest's text with `key: value` set at the top level of its only
 * document. When the document is a block mapping at column 1 without `key`,
 * the entry is appended as text after it and nothing else moves; otherwise
 * (JSON, a flow mapping, `key` already present) the document is serialised
 * again by the yaml package, which keeps comments but not all formatting.
 */
export function appendTopLevelEntry(manifest: ParsedManifest, key: string, value: unknown): string {
  return appendedText(manifest, key, value) ?? reserialised(manifest, key, value);
}

function appendedText(manifest: ParsedManifest, key: string, value: unknown): string | undefined {
  const [document] = manifest.documents;
  const contents = document?.contents;
  const original = manifest.values[0];
  if (manifest.documents.length !== 1 || !isMap(contents) || contents.flow === true || !isRecord(original) || Object.hasOwn(original, key)) return undefined;
  const [start, , end] = contents.range;
  if (positionAt(manifest, start).column !== 1) return undefined;
  const before = manifest.source.slice(0, end);
  const separator = before === '' || before.endsWith('\n') ? '' : '\n';
  const text = `${before}${separator}${stringify({ [key]: value }, STRINGIFY_OPTIONS)}${manifest.source.slice(end)}`;
  // Checked like every rewrite: the text must read back as the original plus the entry.
  const reparsed = safeParse(text, manifest.file);
  return reparsed !== undefined && isDeepStrictEqual(reparsed.values, [{ ...original, [key]: value }]) ? text : undefined;
}

function reserialised(manifest: ParsedManifest, key: string, value: unknown): string {
  const [document] = manifest.documents;
  if (document === undefined) return stringify({ [key]: value }, STRINGIFY_OPTIONS);
  const copy = document.clone();
  copy.set(key, copy.createNode(value));
  return copy.toString(STRINGIFY_OPTIONS);
}

function safeParse(text: string, file: string): ParsedManifest | undefined {
  try {
    return parseManifest(text, file);
  } catch {
    return undefined;
  }
}
