/**
 * `digest-pinner pin FILE|DIR|-...`: rewrites the image fields of Kubernetes
 * manifests to pinned references, byte for byte everywhere else.
 */
import { randomBytes } from 'node:crypto';
import { chmod, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, concurrencyFlag, DROP_TAG_FLAG, parseFlags, UsageError } from './options.js';
import { writeLine, type CliIo } from './io.js';
import { expandInputs, fsReason, loadFiles, type LoadedManifest } from './inputs.js';
import { failureLine, pinManifests, type PinnedFields } from './pinning.js';
import { rewriteImages } from '../manifest/index.js';
import { describeError } from '../errors.js';

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
}

/** Writes or prints one manifest; returns whether it had a problem. */
async function finish(run: PinRun, loaded: LoadedManifest, pinned: PinnedFields | undefined): Promise<boolean> {
  const { io } = run;
  const { manifest, path } = loaded;
  const { replacements, failures } = pinned ?? { replacements: [], failures: [] };
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
    options: { ...COMMON_FLAGS, ...DROP_TAG_FLAG, write: { type: 'boolean', short: 'w' }, partial: { type: 'boolean' }, concurrency: { type: 'string' } },
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
  const pinned = await pinManifests(io, options, loaded.manifests.map((entry) => entry.manifest), concurrency);
  const run: PinRun = { io, write, partial: values.partial === true };
  let failed = problems.length + loaded.problems.length > 0;
  for (const [index, entry] of loaded.manifests.entries()) failed = (await finish(run, entry, pinned[index])) || failed;
  return failed ? 1 : 0;
}
