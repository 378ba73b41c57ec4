/**
 * The manifest inputs of pin and check (FILE|DIR|- arguments): files, directories searched
 * for *.yaml, *.yml and *.json, and stdin, read and parsed, each problem a message naming the input.
 * Reads no network: `check` loads this, never the registry stack.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from './options.js';
import { readStdin, type CliIo } from './io.js';
import { parseManifest, type ParsedManifest } from '../manifest/index.js';
import { describeError, errorCode } from '../errors.js';

/** How stdin is named in messages. */
export const STDIN_NAME = '<stdin>';
const MANIFEST_FILE = /\.(?:ya?ml|json)$/i;

/** A manifest read from a file or stdin; `path` is undefined for stdin. */
export interface LoadedManifest {
  readonly path: string | undefined;
  readonly manifest: ParsedManifest;
}

export interface InputFile {
  readonly name: string;
  readonly path: string | undefined;
}

/** Inputs that could be read and parsed, and one message per input that could not. */
export interface Loaded {
  readonly manifests: readonly LoadedManifest[];
  readonly problems: readonly string[];
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

/** The files behind FILE|DIR|- arguments: a directory recursively (sorted, hidden entries skipped), `-` as stdin. */
export async function expandInputs(inputs: readonly string[], io: CliIo): Promise<{ files: InputFile[]; problems: string[] }> {
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
  return readStdin(io);
}

export async function loadFiles(files: readonly InputFile[], io: CliIo): Promise<Loaded> {
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
