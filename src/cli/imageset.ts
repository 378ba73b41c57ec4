/**
 * `digest-pinner imageset --name NAME (REF... | --from FILE | --from-ledger)`: an ImageSet
 * manifest of references and their digests, resolved or read from the tag ledger.
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { stringify } from 'yaml';
import type { ParseArgsConfig } from 'node:util';
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, concurrencyFlag, DEFAULT_WEBHOOK_NAMESPACE, parseFlags, UsageError } from './options.js';
import { readStdin, writeLine, type CliIo } from './io.js';
import { fsReason, STDIN_NAME } from './inputs.js';
import { resolutionKey, resolveAll, type Outcome } from './pinning.js';
import { IMAGESET_API_VERSION, IMAGESET_KIND, type ImageSetEntry } from '../imageset/types.js';
import { findImageScalars, objectsOf, parseManifest } from '../manifest/index.js';
import { parseImage, type ImageRef } from '../reference/index.js';
import { describeError, DigestPinnerError } from '../errors.js';

export const IMAGESET_USAGE = `Usage: digest-pinner imageset --name NAME [flags] (REF... | --from FILE|- | --from-ledger)

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

--from-ledger reads the digests from the cluster's tag ledger instead
(docs/rollouts.md): its cluster-wide entries, and with --namespace NS also the
entries learnt with NS's pull secrets (an ImageSet answers every namespace: it
says so on stderr). Freezes a connected cluster's digests for an air-gapped one.

Exit code 1 when any reference is invalid or could not be resolved, or the ledger
could not be read (each named on stderr); nothing is printed then unless
--partial, which prints the others.

Flags:
  --name NAME                 metadata.name of the ImageSet (a DNS subdomain; required)
  --from FILE                 read references or manifests from FILE, - for stdin (repeatable)
  --partial                   print the ImageSet even when some references failed
  --concurrency N             distinct references resolved at once (default 8)
  --from-ledger               the tag ledger's entries instead of references (not with REF or --from)
  --namespace NS              with --from-ledger: also the entries of tenant namespace NS
  --ledger-namespace NS       with --from-ledger: where the cluster-wide entries are (default ${DEFAULT_WEBHOOK_NAMESPACE})
  --kubeconfig FILE           with --from-ledger: the cluster (default: $KUBECONFIG, then
                              in-cluster, then ~/.kube/config)
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

/** An input that gave no digest, and why. */
interface Failed {
  readonly input: string;
  readonly reason: string;
}

type Parsed = { readonly ref: ImageRef } | Failed;

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
    options: IMAGESET_FLAGS,
  });
  if (values.help === true) {
    writeLine(io.stdout, IMAGESET_USAGE);
    return 0;
  }
  const name = validName(values.name);
  const from = values.from ?? [];
  if (values['from-ledger'] === true) {
    if (positionals.length > 0 || from.length > 0) throw new UsageError('--from-ledger takes no image references and no --from');
    return fromLedger(name, values, io);
  }
  for (const flag of ['namespace', 'ledger-namespace', 'kubeconfig'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --from-ledger`);
  }
  if (positionals.length === 0 && from.length === 0) throw new UsageError('imageset needs image references, --from FILE or --from-ledger');
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
  return printImageSet(io, name, { resolved, failed: results.flatMap((result) => ('reason' in result ? [result] : [])) }, values.partial === true);
}

const IMAGESET_FLAGS = {
  ...COMMON_FLAGS,
  name: { type: 'string' },
  from: { type: 'string', multiple: true },
  partial: { type: 'boolean' },
  concurrency: { type: 'string' },
  'from-ledger': { type: 'boolean' },
  namespace: { type: 'string' },
  'ledger-namespace': { type: 'string' },
  kubeconfig: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** Prints the ImageSet of `resolved` (less images with two digests) unless something failed and not `partial`; the exit code. */
function printImageSet(io: CliIo, name: string, found: { readonly resolved: readonly WrittenEntry[]; readonly failed: readonly Failed[] }, partial: boolean): number {
  const { resolved, failed } = found;
  const conflicts = conflictingImages(resolved);
  const failures = [
    ...failed,
    ...[...conflicts].map(([image, digests]) => ({ input: image, reason: `more than one digest for one image: ${digests.join(', ')}` })),
  ];
  for (const failure of failures) writeLine(io.stderr, `digest-pinner: cannot pin ${failure.input}: ${failure.reason}`);
  if (failures.length === 0 || partial) {
    const entries = resolved.filter((entry) => !conflicts.has(entry.image));
    io.stdout.write(stringify(imageSetManifest(name, entries), { lineWidth: 0 }));
  }
  return failures.length > 0 ? 1 : 0;
}

/** `--from-ledger`: the cluster-wide entries, and a tenant's with --namespace (with a warning). */
async function fromLedger(name: string, values: { namespace?: string; 'ledger-namespace'?: string; kubeconfig?: string; partial?: boolean }, io: CliIo): Promise<number> {
  const tenant = values.namespace;
  const clusterWide = values['ledger-namespace'] ?? DEFAULT_WEBHOOK_NAMESPACE;
  if (tenant !== undefined) {
    writeLine(io.stderr, `digest-pinner: warning: the entries of namespace ${tenant} were learnt with its pull secrets; an ImageSet answers every namespace`);
  }
  const { ledgerImages } = await import('./ledger-images.js');
  try {
    const entries = await ledgerImages(io, values.kubeconfig, tenant === undefined || tenant === clusterWide ? [clusterWide] : [clusterWide, tenant]);
    return printImageSet(io, name, { resolved: entries, failed: [] }, values.partial === true);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    writeLine(io.stderr, `digest-pinner: ${describeError(error)}`);
    return 1;
  }
}
