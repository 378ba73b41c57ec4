/** `digest-pinner imageset --name NAME (REF... | --from FILE)`: an ImageSet manifest of references and their digests. */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { stringify } from 'yaml';
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, concurrencyFlag, parseFlags, UsageError } from './options.js';
import { readStdin, writeLine, type CliIo } from './io.js';
import { fsReason, STDIN_NAME } from './inputs.js';
import { resolutionKey, resolveAll, type Outcome } from './pinning.js';
import { IMAGESET_API_VERSION, IMAGESET_KIND, type ImageSetEntry } from '../imageset/types.js';
import { findImageScalars, objectsOf, parseManifest } from '../manifest/index.js';
import { parseImage, type ImageRef } from '../reference/index.js';
import { describeError, DigestPinnerError } from '../errors.js';

export const IMAGESET_USAGE = `Usage: digest-pinner imageset --name NAME [flags] (REF... | --from FILE|-)

Resolves image references to their digests and prints an ImageSet manifest
(digest-pinner.io/v1alpha1, cluster-scoped) to stdout:

  apiVersion: digest-pinner.io/v1alpha1
  kind: ImageSet
  metadata:
    name: NAME
  spec:
    images:
      - image: registry.example.com/app:1.4   # as written, without a digest
        digest: sha256:…

Images are sorted and listed once each; an image found with two different
digests (pinned to an old digest in one place, a tag elsewhere) is a failure. --from reads a file (- for stdin) that
is either Kubernetes manifests, whose image fields are taken (as pin finds them),
or a list of references, one per line (# starts a comment). References already
carrying a digest are listed with it, without asking a registry.

Exit code 1 when any reference is invalid or could not be resolved (each named on
stderr); nothing is printed then unless --partial, which prints the others.

Flags:
  --name NAME                 metadata.name of the ImageSet (a DNS subdomain; required)
  --from FILE                 read references or manifests from FILE, - for stdin (repeatable)
  --partial                   print the ImageSet even when some references failed
  --concurrency N             distinct references resolved at once (default 8)
${COMMON_FLAGS_USAGE}`;

const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const DNS_SUBDOMAIN_MAX = 253;
const COMMENT = /#.*$/;

class ImageSetInputError extends DigestPinnerError {
  readonly code = 'DP_ERR_IMAGESET_INPUT';
}

/** One entry of `spec.images` as this command writes it. */
type WrittenEntry = Pick<ImageSetEntry, 'image' | 'digest'>;

/** The ImageSet object, ready to serialise: images sorted, each once. */
export function imageSetManifest(name: string, entries: readonly WrittenEntry[]): Record<string, unknown> {
  const unique = new Map(entries.map((entry) => [entry.image, entry]));
  const images = [...unique.values()].sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0)).map(({ image, digest }) => ({ image, digest }));
  return { apiVersion: IMAGESET_API_VERSION, kind: IMAGESET_KIND, metadata: { name }, spec: { images } };
}

/**
 * Images that came with more than one digest (a reference pinned to an older
 * digest next to the tag itself): an ImageSet maps an image to one digest, so
 * these are failures rather than a silent choice.
 */
export function conflictingImages(entries: readonly WrittenEntry[]): Map<string, string[]> {
  const digests = new Map<string, Set<string>>();
  for (const { image, digest } of entries) digests.set(image, (digests.get(image) ?? new Set()).add(digest));
  return new Map([...digests].filter(([, set]) => set.size > 1).map(([image, set]) => [image, [...set].sort()]));
}

/**
 * The references in a `--from` input: the image fields of its Kubernetes
 * objects when it parses as YAML holding any (a document or List item with a
 * string `kind`), otherwise one reference per line with `#` comments and
 * blank lines dropped.
 */
export function referencesIn(text: string, file: string): string[] {
  try {
    const manifest = parseManifest(text, file);
    if (manifest.values.some((value, index) => objectsOf(value, index).length > 0)) return findImageScalars(manifest).map((scalar) => scalar.field.image);
  } catch {
    // Not YAML: a list of references whose comments or layout YAML rejects.
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(COMMENT, '').trim())
    .filter((line) => line !== '');
}

async function readFrom(source: string, io: CliIo): Promise<string> {
  if (source !== '-') {
    try {
      return await readFile(resolvePath(io.cwd, source), 'utf8');
    } catch (error) {
      throw new ImageSetInputError(`cannot read ${source}: ${fsReason(error)}`, { cause: error });
    }
  }
  return readStdin(io);
}

/** `written` without its `@digest`, since the digest has a field of its own. */
function imageWithoutDigest(ref: ImageRef): string {
  return ref.digest === undefined ? ref.written : ref.written.slice(0, ref.written.length - ref.digest.length - 1);
}

type Parsed = { readonly ref: ImageRef } | { readonly input: string; readonly reason: string };

function parseInput(input: string): Parsed {
  try {
    return { ref: parseImage(input) };
  } catch (error) {
    return { input, reason: describeError(error) };
  }
}

function entryFor(ref: ImageRef, outcomes: ReadonlyMap<string, Outcome>): WrittenEntry | { readonly input: string; readonly reason: string } {
  if (ref.digest !== undefined) return { image: imageWithoutDigest(ref), digest: ref.digest };
  const outcome = outcomes.get(resolutionKey(ref)) ?? { reason: 'not resolved' };
  return 'digest' in outcome ? { image: ref.written, digest: outcome.digest } : { input: ref.written, reason: outcome.reason };
}

function validName(name: string | undefined): string {
  if (name === undefined) throw new UsageError('imageset needs --name NAME');
  if (name.length > DNS_SUBDOMAIN_MAX || !DNS_SUBDOMAIN.test(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)} must be a DNS subdomain: lowercase letters, digits, - and ., at most 253 characters`);
  }
  return name;
}

/** Returns the exit code. */
export async function imagesetCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags({
    args: [...argv],
    allowPositionals: true,
    options: { ...COMMON_FLAGS, name: { type: 'string' }, from: { type: 'string', multiple: true }, partial: { type: 'boolean' }, concurrency: { type: 'string' } },
  });
  if (values.help === true) {
    writeLine(io.stdout, IMAGESET_USAGE);
    return 0;
  }
  const name = validName(values.name);
  const from = values.from ?? [];
  if (positionals.length === 0 && from.length === 0) throw new UsageError('imageset needs image references or --from FILE');
  if (from.filter((source) => source === '-').length > 1) throw new UsageError('--from - (stdin) can be given only once');
  const concurrency = concurrencyFlag(values.concurrency);
  const options = commonOptions(values);
  const inputs = [...positionals];
  for (const source of from) inputs.push(...referencesIn(await readFrom(source, io), source === '-' ? STDIN_NAME : source));
  const parsed = [...new Set(inputs)].map(parseInput);
  const refs = parsed.flatMap((entry) => ('ref' in entry && entry.ref.digest === undefined ? [entry.ref] : []));
  const outcomes = await resolveAll(io, options, refs, concurrency);
  const results = parsed.map((entry) => ('ref' in entry ? entryFor(entry.ref, outcomes) : entry));
  const resolved = results.flatMap((result) => ('digest' in result ? [result] : []));
  const conflicts = conflictingImages(resolved);
  const failures = [
    ...results.flatMap((result) => ('reason' in result ? [result] : [])),
    ...[...conflicts].map(([image, digests]) => ({ input: image, reason: `more than one digest for one image: ${digests.join(', ')}` })),
  ];
  for (const failure of failures) writeLine(io.stderr, `digest-pinner: cannot pin ${failure.input}: ${failure.reason}`);
  if (failures.length === 0 || values.partial === true) {
    const entries = resolved.filter((entry) => !conflicts.has(entry.image));
    io.stdout.write(stringify(imageSetManifest(name, entries), { lineWidth: 0 }));
  }
  return failures.length > 0 ? 1 : 0;
}
