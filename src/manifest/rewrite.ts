/** Splicing new image values into a manifest's source, and proving nothing else changed. */
import { isDeepStrictEqual } from 'node:util';
import { tokensOf, escapeToken } from '../workload/index.js';
import { isRecord } from '../json.js';
import { ManifestRewriteError, ManifestSyntaxError } from './errors.js';
import type { ImageScalar } from './images.js';
import { parseManifest, type ParsedManifest } from './parse.js';
import { renderScalar, type ScalarStyle } from './scalar.js';
import { splice, type Edit } from './splice.js';

/** An image field and the reference to write into it. */
export interface Replacement {
  readonly scalar: ImageScalar;
  readonly value: string;
}

/** Why an image field cannot be rewritten in place; undefined when it can. */
export function rewriteProblem(scalar: Pick<ImageScalar, 'style'>): string | undefined {
  return scalar.style === 'block' ? 'written as a block scalar (| or >); write the image on one line to have it pinned' : undefined;
}

/**
 * The manifest's source with each replacement's scalar rewritten in its own
 * quoting style and every other character unchanged. The result is parsed
 * again and must hold exactly the original data with the new images; if not
 * (say an image is an anchor that another field aliases) ManifestRewriteError
 * is thrown and nothing should be written.
 */
export function rewriteImages(manifest: ParsedManifest, replacements: readonly Replacement[]): string {
  if (replacements.length === 0) return manifest.source;
  const edits = replacements.map((replacement) => editFor(manifest, replacement));
  const text = splice(manifest.source, edits);
  verify(manifest, replacements, text);
  return text;
}

function editFor(manifest: ParsedManifest, { scalar, value }: Replacement): Edit {
  const style: ScalarStyle = scalar.style;
  if (style === 'block') throw new ManifestRewriteError(manifest.file, `the image at line ${scalar.line} is ${rewriteProblem(scalar) ?? ''}`);
  return { start: scalar.start, end: scalar.end, text: renderScalar(style, value) };
}

function verify(manifest: ParsedManifest, replacements: readonly Replacement[], text: string): void {
  let reparsed: ParsedManifest;
  try {
    reparsed = parseManifest(text, manifest.file);
  } catch (error) {
    if (!(error instanceof ManifestSyntaxError)) throw error;
    throw new ManifestRewriteError(manifest.file, `the result would not parse (${error.reason} at line ${error.line})`, { cause: error });
  }
  const expected = manifest.values.map(cloneTree);
  for (const { scalar, value } of replacements) {
    setAt(expected[scalar.documentIndex], tokensOf(scalar.objectPointer + scalar.field.pointer), value);
  }
  if (reparsed.values.length !== expected.length) {
    throw new ManifestRewriteError(manifest.file, `the result has ${reparsed.values.length} documents instead of ${expected.length}`);
  }
  reparsed.values.forEach((actual, index) => {
    const difference = firstDifference(expected[index], actual, '');
    if (difference !== undefined) {
      throw new ManifestRewriteError(
        manifest.file,
        `document ${index + 1} would also change at ${difference || '/'} (is an image a YAML anchor that another field aliases?)`,
      );
    }
  });
}

/** A copy that shares no objects, so setting one aliased field does not set the others. */
function cloneTree(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneTree);
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, cloneTree(child)]));
  return value;
}

function setAt(root: unknown, tokens: readonly string[], value: string): void {
  let node = root;
  tokens.forEach((token, index) => {
    if (typeof node !== 'object' || node === null) return;
    const container = node as Record<string, unknown>;
    if (index === tokens.length - 1) container[token] = value;
    else node = container[token];
  });
}

/** The pointer of the first place where `a` and `b` differ; undefined when they are equal. */
function firstDifference(a: unknown, b: unknown, pointer: string): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    return a.map((item, index) => firstDifference(item, b[index], `${pointer}/${index}`)).find((found) => found !== undefined) ?? pointer;
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.map((key) => firstDifference(a[key], b[key], `${pointer}/${escapeToken(key)}`)).find((found) => found !== undefined) ?? pointer;
  }
  return pointer;
}
