/**
 * Pins the chart to a released image: writes DIGEST into `image.digest` of the chart's
 * values file and changes nothing else in it, comments and layout included (the yaml
 * library finds the value and where it is written). The release runs it after pushing,
 * then renders manifests/.
 *
 *   node scripts/image/set-digest.mjs charts/digest-pinner/values.yaml sha256:…
 */
import { readFile, writeFile } from 'node:fs/promises';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { isScalar, parseDocument } from 'yaml';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const KEY = ['image', 'digest'];

/**
 * `text` (a values file) with `image.digest` set to `digest`: the scalar's own characters are
 * replaced in the source (in the quotes it was written with), so every other byte stays.
 * Throws on a bad digest, a file without the key, or a value that is not a one-line scalar.
 */
export function withImageDigest(text, digest) {
  if (!DIGEST.test(digest)) throw new Error(`${JSON.stringify(digest)} is not an image digest (sha256: and 64 lowercase hex digits)`);
  const document = parseDocument(text);
  const [error] = document.errors;
  if (error !== undefined) throw new Error(`not valid YAML: ${error.message}`);
  const node = document.getIn(KEY, true);
  if (!isScalar(node) || node.range == null) throw new Error(`has no ${KEY.join('.')} string to set`);
  const quote = { PLAIN: '', QUOTE_DOUBLE: '"', QUOTE_SINGLE: "'" }[node.type ?? 'PLAIN'];
  if (quote === undefined) throw new Error(`${KEY.join('.')} is a block scalar: write it as "" for the release to fill in`);
  const [start, end] = node.range;
  // `digest:` with no value ends right after the colon.
  const gap = start === end && text[start - 1] === ':' ? ' ' : '';
  const result = `${text.slice(0, start)}${gap}${quote}${digest}${quote}${text.slice(end)}`;
  if (parseDocument(result).getIn(KEY) !== digest) throw new Error(`${KEY.join('.')} could not be rewritten in place`);
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, digest] = process.argv.slice(2);
  if (file === undefined || digest === undefined) {
    process.stderr.write('usage: node scripts/image/set-digest.mjs VALUES_FILE sha256:…\n');
    process.exit(2);
  }
  try {
    await writeFile(file, withImageDigest(await readFile(file, 'utf8'), digest));
  } catch (error) {
    process.stderr.write(`set-digest: ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  process.stdout.write(`set-digest: ${file}: image.digest ${digest}\n`);
}
