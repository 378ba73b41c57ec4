/**
 * `digest-pinner pin FILE|DIR|-...`: rewrites the image fields of Kubernetes
 * manifests to pinned references, byte for byte everywhere else. Also home of
 * what the manifest commands (check, imageset, krm) share: reading inputs,
 * resolving each distinct reference once, and the progress bar.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, parseFlags, UsageError } from './options.js';
import { buildCore, type Core } from './core.js';
import { writeLine, type CliIo } from './io.js';
import { mapBounded } from './resolve.js';
import { findImageScalars, parseManifest, rewriteImages, rewriteProblem, type ImageScalar, type ParsedManifest, type Replacement } from '../manifest/index.js';
import { normalizedString, parseImage, pinnedReference, type ImageRef } from '../reference/index.js';
import { failureReason } from '../resolve/index.js';
import { describeError, errorCode } from '../errors.js';

export { COMMON_FLAGS_USAGE };

export const PIN_USAGE = `Usage: digest-pinner pin [flags] (FILE|DIR|-)...

Rewrites every image of every Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
ReplicationController, Job, CronJob and PodTemplate (also the items of a List) in
multi-document YAML or JSON to <image as written>@sha256:…, the way the webhook
does. Only the image values change: comments, quoting, order and layout are kept.
Images that already carry a digest are left alone, so pinning twice changes nothing.
A DIR is searched recursively for *.yaml, *.yml and *.json; - reads stdin
(helm template … | digest-pinner pin -, kustomize build … | digest-pinner pin -).

Without --write the result goes to stdout, so only one input file is allowed.
An image that cannot be pinned is reported on stderr as
  FILE:LINE:COL: image "REF" not pinned: REASON
and the exit code is 1. A file with such an image is left as it is (nothing is
printed for it) unless --partial, which writes the images that did resolve.

Flags:
  -w, --write                 rewrite the files in place (atomically: temporary file, then rename)
  --partial                   write a file even when some of its images could not be pinned
  --concurrency N             distinct references resolved at once (default 8)
  --drop-tag                  write repository@sha256:… without the tag
${COMMON_FLAGS_USAGE}`;

const STDIN_NAME = '<stdin>';
const MANIFEST_FILE = /\.(?:ya?ml|json)$/i;
const RESOLVE_TIMEOUT_MS = 60_000;

/** A manifest read from a file or stdin; `path` is undefined for stdin. */
export interface LoadedManifest {
  readonly path: string | undefined;
  readonly manifest: ParsedManifest;
}

interface InputFile {
  readonly name: string;
  readonly path: string | undefined;
}

/** Inputs that could be read and parsed, and one message per input that could not. */
export interface Loaded {
  readonly manifests: readonly LoadedManifest[];
  readonly problems: readonly string[];
}

/** What to do with one image field. */
export type ImagePlan =
  | { readonly kind: 'pinned' }
  | { readonly kind: 'resolve'; readonly ref: ImageRef }
  | { readonly kind: 'failed'; readonly reason: string };

/** How one distinct reference resolved. */
export type Outcome = { readonly digest: string } | { readonly reason: string };

/** An image field that could not be pinned, and why. */
export interface Failure {
  readonly scalar: ImageScalar;
  readonly reason: string;
}

/** Progress of a long run, shown only where a person watches. */
export interface Progress {
  tick(): void;
  done(): void;
}

const FS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many symbolic links',
};

/** A file-system error as a short reason. */
export function fsReason(error: unknown): string {
  const code = errorCode(error);
  return (code === undefined ? undefined : FS_REASONS[code]) ?? describeError(error);
}

/** `--concurrency` as a positive whole number (default 8). */
export function concurrencyFlag(value: string | undefined): number {
  const concurrency = Number(value ?? '8');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a positive whole number');
  return concurrency;
}

/** The files behind FILE|DIR|- arguments: a directory recursively (sorted, hidden entries skipped), `-` as stdin. */
async function expandInputs(inputs: readonly string[], io: CliIo): Promise<{ files: InputFile[]; problems: string[] }> {
  if (inputs.filter((input) => input === '-').length > 1) throw new UsageError('- (stdin) can be given only once');
  const files: InputFile[] = [];
  const problems: string[] = [];
  for (const input of inputs) {
    if (input === '-') {
      files.push({ name: STDIN_NAME, path: undefined });
      continue;
    }
    const path = resolve(io.cwd, input);
    try {
      files.push(...((await stat(path)).isDirectory() ? await walk(path, input) : [{ name: input, path }]));
    } catch (error) {
      problems.push(`cannot read ${input}: ${fsReason(error)}`);
    }
  }
  return { files, problems };
}

async function walk(dir: string, name: string): Promise<InputFile[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((entry) => !entry.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1));
  const files: InputFile[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const child = join(name, entry.name);
    // Symbolic links to files are followed; to directories not, so a link cannot loop.
    if (entry.isDirectory()) files.push(...(await walk(path, child)));
    else if (MANIFEST_FILE.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await stat(path)).isFile()))) files.push({ name: child, path });
  }
  return files;
}

async function readInput(file: InputFile, io: CliIo): Promise<string> {
  if (file.path !== undefined) return readFile(file.path, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function loadFiles(files: readonly InputFile[], io: CliIo): Promise<Loaded> {
  const manifests: LoadedManifest[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readInput(file, io);
    } catch (error) {
      problems.push(`cannot read ${file.name}: ${fsReason(error)}`);
      continue;
    }
    try {
      manifests.push({ path: file.path, manifest: parseManifest(text, file.name) });
    } catch (error) {
      problems.push(describeError(error));
    }
  }
  return { manifests, problems };
}

/** Reads and parses FILE|DIR|- arguments; unreadable or invalid inputs become messages naming the file (and position). */
export async function loadManifests(inputs: readonly string[], io: CliIo): Promise<Loaded> {
  const { files, problems } = await expandInputs(inputs, io);
  const loaded = await loadFiles(files, io);
  return { manifests: loaded.manifests, problems: [...problems, ...loaded.problems] };
}

/** Pinned already, to be resolved, or unusable (not a reference, or not rewritable in place). */
export function planImage(scalar: ImageScalar): ImagePlan {
  let ref: ImageRef;
  try {
    ref = parseImage(scalar.field.image);
  } catch (error) {
    return { kind: 'failed', reason: describeError(error) };
  }
  if (ref.digest !== undefined) return { kind: 'pinned' };
  const problem = rewriteProblem(scalar);
  return problem === undefined ? { kind: 'resolve', ref } : { kind: 'failed', reason: problem };
}

/** `\r[=====     ] 12/30` on a terminal; nothing otherwise. */
export function progressBar(stream: CliIo['stderr'], total: number): Progress {
  const tty = 'isTTY' in stream && stream.isTTY === true;
  if (!tty || total === 0) return { tick: () => undefined, done: () => undefined };
  const width = 30;
  let count = 0;
  let last = '';
  const draw = (): void => {
    const filled = Math.round((count / total) * width);
    last = `\r[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${count}/${total}`;
    stream.write(last);
  };
  draw();
  return {
    tick: () => {
      count += 1;
      draw();
    },
    done: () => {
      stream.write(`\r${' '.repeat(last.length)}\r`);
    },
  };
}

/** The key two references share when they name the same image: `nginx:1` and `docker.io/library/nginx:1` resolve once. */
export function resolutionKey(ref: ImageRef): string {
  return normalizedString(ref);
}

/** Resolves each distinct reference once, at most `concurrency` at a time; failures are outcomes, never thrown. */
export async function resolveDistinct(core: Core, refs: readonly ImageRef[], concurrency: number, progress: Progress): Promise<ReadonlyMap<string, Outcome>> {
  const distinct = [...new Map(refs.map((ref) => [resolutionKey(ref), ref])).entries()];
  const outcomes = await mapBounded(distinct, concurrency, async ([key, ref]): Promise<[string, Outcome]> => {
    try {
      const resolution = await core.resolver.resolve(ref, { credentials: await core.credentialsFor(ref), signal: AbortSignal.timeout(RESOLVE_TIMEOUT_MS) });
      return [key, { digest: resolution.digest }];
    } catch (error) {
      return [key, { reason: failureReason(error) }];
    } finally {
      progress.tick();
    }
  });
  progress.done();
  return new Map(outcomes);
}

/** The references to resolve among the plans. */
export function refsToResolve(plans: readonly ImagePlan[]): ImageRef[] {
  return plans.flatMap((plan) => (plan.kind === 'resolve' ? [plan.ref] : []));
}

/** Each field's new value, or why it has none; fields already pinned are neither. */
export function pinFields(
  scalars: readonly ImageScalar[],
  plans: readonly ImagePlan[],
  outcomes: ReadonlyMap<string, Outcome>,
  dropTag: boolean,
): { replacements: Replacement[]; failures: Failure[] } {
  const replacements: Replacement[] = [];
  const failures: Failure[] = [];
  scalars.forEach((scalar, index) => {
    const plan = plans[index];
    if (plan === undefined || plan.kind === 'pinned') return;
    if (plan.kind === 'failed') {
      failures.push({ scalar, reason: plan.reason });
      return;
    }
    const pinned = pinnedValue(plan.ref, outcomes.get(resolutionKey(plan.ref)), dropTag);
    if ('reason' in pinned) failures.push({ scalar, reason: pinned.reason });
    else replacements.push({ scalar, value: pinned.value });
  });
  return { replacements, failures };
}

function pinnedValue(ref: ImageRef, outcome: Outcome | undefined, dropTag: boolean): { value: string } | { reason: string } {
  if (outcome === undefined) return { reason: 'not resolved' };
  if ('reason' in outcome) return outcome;
  try {
    return { value: pinnedReference(ref, outcome.digest, { dropTag }) };
  } catch (error) {
    return { reason: describeError(error) };
  }
}

/** `FILE:LINE:COL: image "REF" not pinned: REASON`. */
export function failureLine(file: string, failure: Failure): string {
  const { scalar, reason } = failure;
  return `${file}:${scalar.line}:${scalar.column}: image ${JSON.stringify(scalar.field.image)} not pinned: ${reason}`;
}

/** Builds the shared core only when something needs the network. */
export async function withCore<T>(io: CliIo, options: ReturnType<typeof commonOptions>, needed: boolean, work: (core: Core | undefined) => Promise<T>): Promise<T> {
  if (!needed) return work(undefined);
  const core = await buildCore({ ...options, homeDir: io.homeDir, env: io.env, version: io.version });
  try {
    return await work(core);
  } finally {
    await core.close();
  }
}

/** Writes `text` over `path` through a temporary file in the same directory and a rename, keeping the file's mode; a symbolic link keeps pointing at it. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const target = await realpath(path);
  const { mode } = await stat(target);
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text, { flag: 'wx' });
    await chmod(temp, mode & 0o7777);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

interface PinRun {
  readonly io: CliIo;
  readonly write: boolean;
  readonly partial: boolean;
  readonly dropTag: boolean;
}

interface Scanned {
  readonly loaded: LoadedManifest;
  readonly scalars: readonly ImageScalar[];
  readonly plans: readonly ImagePlan[];
}

function scan(loaded: LoadedManifest): Scanned {
  const scalars = findImageScalars(loaded.manifest);
  return { loaded, scalars, plans: scalars.map(planImage) };
}

/** Writes or prints one manifest; returns whether it had a problem. */
async function finish(run: PinRun, scanned: Scanned, outcomes: ReadonlyMap<string, Outcome>): Promise<boolean> {
  const { io } = run;
  const { manifest, path } = scanned.loaded;
  const { replacements, failures } = pinFields(scanned.scalars, scanned.plans, outcomes, run.dropTag);
  for (const failure of failures) writeLine(io.stderr, `digest-pinner: ${failureLine(manifest.file, failure)}`);
  if (failures.length > 0 && !run.partial) {
    writeLine(io.stderr, `digest-pinner: ${manifest.file} left unchanged: ${plural(failures.length, 'image')} could not be pinned (--partial writes the others)`);
    return true;
  }
  let text: string;
  try {
    text = rewriteImages(manifest, replacements);
  } catch (error) {
    writeLine(io.stderr, `digest-pinner: ${describeError(error)}`);
    return true;
  }
  if (!run.write || path === undefined) io.stdout.write(text);
  else if (replacements.length > 0) {
    try {
      await writeAtomically(path, text);
      writeLine(io.stderr, `digest-pinner: ${manifest.file}: pinned ${plural(replacements.length, 'image')}`);
    } catch (error) {
      writeLine(io.stderr, `digest-pinner: cannot write ${manifest.file}: ${fsReason(error)}`);
      return true;
    }
  }
  return failures.length > 0;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Returns the exit code. */
export async function pinCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags({
    args: [...argv],
    allowPositionals: true,
    options: { ...COMMON_FLAGS, write: { type: 'boolean', short: 'w' }, partial: { type: 'boolean' }, concurrency: { type: 'string' } },
  });
  if (values.help === true) {
    writeLine(io.stdout, PIN_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('pin needs at least one FILE, DIR or - (stdin)');
  const write = values.write === true;
  if (write && positionals.includes('-')) throw new UsageError('--write cannot rewrite stdin; leave out --write to print the result');
  const concurrency = concurrencyFlag(values.concurrency);
  const options = commonOptions(values);
  const { files, problems } = await expandInputs(positionals, io);
  if (!write && files.length > 1) throw new UsageError(`without --write, pin prints one input to stdout, and ${positionals.join(' ')} holds ${files.length} files: pass --write to rewrite them in place`);
  const loaded = await loadFiles(files, io);
  for (const problem of [...problems, ...loaded.problems]) writeLine(io.stderr, `digest-pinner: ${problem}`);
  const scanned = loaded.manifests.map(scan);
  const refs = scanned.flatMap((entry) => refsToResolve(entry.plans));
  const outcomes = await withCore(io, options, refs.length > 0, async (core) =>
    core === undefined ? new Map<string, Outcome>() : resolveDistinct(core, refs, concurrency, progressBar(io.stderr, new Set(refs.map(resolutionKey)).size)),
  );
  const run: PinRun = { io, write, partial: values.partial === true, dropTag: options.dropTag };
  let failed = problems.length + loaded.problems.length > 0;
  for (const entry of scanned) failed = (await finish(run, entry, outcomes)) || failed;
  return failed ? 1 : 0;
}
