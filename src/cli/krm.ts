/**
 * `digest-pinner krm`: a KRM function (kustomize, kpt). Reads a ResourceList on
 * stdin, writes it back on stdout with its items' images pinned (only those
 * values change) and a `results` entry per image that could not be pinned.
 */
import { arrayOf, isRecord, member } from '../json.js';
import type { ParseArgsConfig } from 'node:util';
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, concurrencyFlag, DROP_TAG_FLAG, parseFlags, UsageError, type CommonOptions } from './options.js';
import { readStdin, writeLine, type CliIo } from './io.js';
import { STDIN_NAME } from './inputs.js';
import { failureLine, pinManifests, type Failure } from './pinning.js';
import { FUNCTION_CONFIG_API_VERSION, FUNCTION_CONFIG_KIND, FunctionConfigError, functionConfigArgs } from './function-config.js';
import { appendTopLevelEntry, parseManifest, rewriteImages, type ParsedManifest } from '../manifest/index.js';
import { tokensOf, valueAt } from '../workload/index.js';
import { DigestPinnerError } from '../errors.js';

export const KRM_USAGE = `Usage: digest-pinner krm [flags] < resource-list.yaml

Runs as a KRM function (the kustomize/kpt functions specification): reads a
ResourceList (config.kubernetes.io/v1) on stdin and writes it to stdout with
every image of its items pinned as pin does, changing nothing else of the text.

Its settings are its flags, also read from the ResourceList's functionConfig
under the same names (without --): a v1 ConfigMap's data, where values are
strings (drop-tag: "true", ca-file: "a.pem,b.pem"), or a typed object:

  apiVersion: ${FUNCTION_CONFIG_API_VERSION}
  kind: ${FUNCTION_CONFIG_KIND}
  metadata:
    name: pin-images
  spec:
    drop-tag: true
    concurrency: 4
    ca-file: [certs/internal-ca.pem]

A flag replaces the functionConfig's value of that setting (ca-file and
insecure-registry add to its list).

An image that cannot be pinned is left as it is and reported in the output's
results (severity error, resourceRef, field.path, file from the item's
config.kubernetes.io/path annotations) and on stderr; the exit code is then 1,
which kustomize and kpt treat as the function failing.

Flags:
  --concurrency N             distinct references resolved at once (default 8)
  --drop-tag                  write repository@sha256:… without the tag
${COMMON_FLAGS_USAGE}`;

const KRM_FLAGS = {
  ...COMMON_FLAGS,
  ...DROP_TAG_FLAG,
  concurrency: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const RESOURCE_LIST_KIND = 'ResourceList';
const RESOURCE_LIST_GROUP = 'config.kubernetes.io/';
const PATH_ANNOTATIONS = ['config.kubernetes.io/path', 'internal.config.kubernetes.io/path'] as const;
const INDEX_ANNOTATIONS = ['config.kubernetes.io/index', 'internal.config.kubernetes.io/index'] as const;

class KrmInputError extends DigestPinnerError {
  readonly code = 'DP_ERR_KRM_INPUT';
}

/** A KRM function result (kustomize's framework.Result). */
export interface KrmResult {
  readonly message: string;
  readonly severity: 'error' | 'warning' | 'info';
  readonly resourceRef?: Readonly<Record<string, string>>;
  readonly field?: { readonly path: string; readonly currentValue: string };
  readonly file?: { readonly path: string; readonly index?: number };
}

/** A JSON Pointer as a KRM field path: `/spec/containers/0/image` → `spec.containers[0].image`. */
export function fieldPath(pointer: string): string {
  return tokensOf(pointer)
    .map((token, index) => (/^\d+$/.test(token) ? `[${token}]` : index === 0 ? token : `.${token}`))
    .join('');
}

function annotation(item: unknown, names: readonly string[]): string | undefined {
  const annotations = member(member(item, 'metadata'), 'annotations');
  return names.map((name) => member(annotations, name)).find((value): value is string => typeof value === 'string');
}

function fileOf(item: unknown): KrmResult['file'] {
  const path = annotation(item, PATH_ANNOTATIONS);
  if (path === undefined) return undefined;
  const index = Number(annotation(item, INDEX_ANNOTATIONS));
  return Number.isInteger(index) ? { path, index } : { path };
}

function resultFor(manifest: ParsedManifest, failure: Failure): KrmResult {
  const { scalar, reason } = failure;
  const { apiVersion, kind, name, namespace } = scalar.object;
  const resourceRef = Object.fromEntries(Object.entries({ apiVersion, kind, name, namespace }).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const file = fileOf(valueAt(manifest.values[scalar.documentIndex], scalar.objectPointer));
  return {
    message: `image ${JSON.stringify(scalar.field.image)} not pinned: ${reason}`,
    severity: 'error',
    resourceRef,
    field: { path: fieldPath(scalar.field.pointer), currentValue: scalar.field.image },
    ...(file === undefined ? {} : { file }),
  };
}

/** The ResourceList on stdin, parsed; anything else is an error naming what was found. */
function resourceList(text: string): ParsedManifest {
  const manifest = parseManifest(text, STDIN_NAME);
  const documents = manifest.values.filter((value) => value !== null);
  const [list] = documents;
  const kind = member(list, 'kind');
  const apiVersion = member(list, 'apiVersion');
  if (documents.length !== 1 || !isRecord(list) || kind !== RESOURCE_LIST_KIND || typeof apiVersion !== 'string' || !apiVersion.startsWith(RESOURCE_LIST_GROUP)) {
    const found = documents.length === 1 ? `${String(apiVersion)} ${String(kind)}` : `${documents.length} documents`;
    throw new KrmInputError(`stdin must hold one config.kubernetes.io/v1 ResourceList, found ${found}`);
  }
  return manifest;
}

interface KrmSettings {
  readonly options: CommonOptions;
  readonly concurrency: number;
}

/** The settings of `args`: flags, or the flags a functionConfig stands for. Throws UsageError. */
function settingsOf(args: readonly string[]): KrmSettings {
  const { values } = parseFlags({ args: [...args], options: KRM_FLAGS });
  return { options: commonOptions(values), concurrency: concurrencyFlag(values.concurrency) };
}

/**
 * The settings of the functionConfig's arguments with the command line's after them, so a flag
 * wins; each part is checked on its own first, so an error names where it came from.
 */
function krmSettings(configArgs: readonly string[], argv: readonly string[]): KrmSettings {
  try {
    settingsOf(configArgs);
  } catch (error) {
    if (error instanceof UsageError) throw new FunctionConfigError(`functionConfig: ${error.message}`, { cause: error });
    throw error;
  }
  return settingsOf([...configArgs, ...argv]);
}

/** Returns the exit code. */
export async function krmCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags({ args: [...argv], allowPositionals: true, options: KRM_FLAGS });
  if (values.help === true) {
    writeLine(io.stdout, KRM_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError('krm reads a ResourceList on stdin and takes no arguments');
  settingsOf(argv);
  const manifest = resourceList(await readStdin(io));
  const configArgs = functionConfigArgs(member(manifest.values.find((value) => value !== null), 'functionConfig'), KRM_FLAGS);
  const { options, concurrency } = krmSettings(configArgs, argv);
  const [fields] = await pinManifests(io, options, [manifest], concurrency);
  const { replacements, failures } = fields ?? { replacements: [], failures: [] };
  const pinned = rewriteImages(manifest, replacements);
  for (const failure of failures) writeLine(io.stderr, `digest-pinner: ${failureLine(STDIN_NAME, failure)}`);
  if (failures.length === 0) {
    io.stdout.write(pinned);
    return 0;
  }
  const previous = member(manifest.values.find((value) => value !== null), 'results');
  const results = [...arrayOf(previous), ...failures.map((failure) => resultFor(manifest, failure))];
  io.stdout.write(appendTopLevelEntry(parseManifest(pinned, STDIN_NAME), 'results', results));
  return 1;
}
