/** Finding the YAML node behind a JSON Pointer, through aliases and `<<` merge keys, as the document's value was built. */
import { isAlias, isMap, isScalar, isSeq, type Document, type Scalar, type YAMLMap } from 'yaml';
import { isArrayIndex, tokensOf } from '../workload/index.js';

/** Merges nest rarely more than once or twice; this bounds a pathological document. */
const MAX_MERGE_DEPTH = 32;

/**
 * The scalar node whose value the document's data holds at `pointer`;
 * undefined when the pointer leads elsewhere. Follows aliases to their anchor,
 * so two pointers can share one scalar.
 */
export function scalarAt(document: Document.Parsed, pointer: string): Scalar | undefined {
  let node: unknown = document.contents;
  for (const token of tokensOf(pointer)) {
    node = childOf(document, resolved(document, node), token);
    if (node === undefined) return undefined;
  }
  const target = resolved(document, node);
  return isScalar(target) ? target : undefined;
}

function resolved(document: Document.Parsed, node: unknown): unknown {
  return isAlias(node) ? node.resolve(document) : node;
}

function childOf(document: Document.Parsed, node: unknown, token: string): unknown {
  if (isSeq(node)) return isArrayIndex(token) ? node.items[Number(token)] : undefined;
  if (isMap(node)) return memberOf(document, node, token, 0);
  return undefined;
}

/** A key written in the map wins over merged ones; among merged maps the first that has the key wins (yaml.org/type/merge). */
function memberOf(document: Document.Parsed, map: YAMLMap, key: string, depth: number): unknown {
  const own = map.items.find((pair) => !isMergeKey(pair.key) && keyText(pair.key) === key);
  if (own !== undefined) return own.value ?? undefined;
  if (depth >= MAX_MERGE_DEPTH) return undefined;
  for (const pair of map.items) {
    if (!isMergeKey(pair.key)) continue;
    const found = mergeSources(document, pair.value)
      .map((source) => memberOf(document, source, key, depth + 1))
      .find((value) => value !== undefined);
    if (found !== undefined) return found;
  }
  return undefined;
}

function mergeSources(document: Document.Parsed, value: unknown): YAMLMap[] {
  const source = resolved(document, value);
  const candidates = isSeq(source) ? source.items.map((item) => resolved(document, item)) : [source];
  return candidates.filter((candidate): candidate is YAMLMap => isMap(candidate));
}

/** With `merge: true` the yaml package gives a `<<` key a symbol value. */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol';
}

function keyText(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  const { value } = key;
  return typeof value === 'string' ? value : String(value);
}
