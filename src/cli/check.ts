/** `digest-pinner check FILE|DIR|-...`: every image field not pinned to a digest, as text, JSON or SARIF; no network. */
import { pathToFileURL } from 'node:url';
import { isAbsolute, relative, sep } from 'node:path';
import { HELP_FLAG, parseFlags, UsageError } from './options.js';
import { writeLine, type CliIo } from './io.js';
import { loadManifests, type LoadedManifest } from './inputs.js';
import { findImageScalars, objectLabel, positionAt, type ImageScalar, type ObjectIdentity } from '../manifest/index.js';
import { parseImage } from '../reference/index.js';
import { describeError } from '../errors.js';
import { sarifLog as sarifRun } from '../sarif.js';

export const CHECK_USAGE = `Usage: digest-pinner check [flags] (FILE|DIR|-)...

Lists every image field of every workload in the manifests (the fields pin
rewrites) that is not pinned to a digest, with its file, line:column, object
(kind/namespace/name) and JSON pointer. Needs no network, so it takes none of
the registry flags of pin. A DIR is searched recursively for *.yaml, *.yml and
*.json; - reads stdin.

Exit code 0 when every image is pinned, 1 when any is not (or an input could not
be read or parsed), 2 on a usage error.

Rules:
  DP001 image-not-pinned          the image names a tag, not a digest
  DP002 image-reference-invalid   the image is not a valid reference at all

Flags:
  --output text|json|sarif    text (default): FILE:LINE:COL: OBJECT POINTER: MESSAGE (RULE);
                              json: an array of findings; sarif: SARIF 2.1.0 for code scanning`;

const OUTPUTS = ['text', 'json', 'sarif'] as const;
type Output = (typeof OUTPUTS)[number];

interface Rule {
  readonly id: string;
  readonly name: string;
  readonly short: string;
  readonly full: string;
}

/** The rules check reports under; their ids are stable, for suppressions and code-scanning history. */
export const RULES = {
  notPinned: {
    id: 'DP001',
    name: 'image-not-pinned',
    short: 'Image not pinned to a digest',
    full: 'The image names a tag, which can be pushed again, so nodes pulling it at different times can run different content. Pin it to its digest: digest-pinner pin --write FILE.',
  },
  invalid: {
    id: 'DP002',
    name: 'image-reference-invalid',
    short: 'Image is not a valid reference',
    full: 'The image field does not parse as a container image reference (distribution/reference grammar), so no runtime can pull it and it cannot be pinned.',
  },
} as const satisfies Record<string, Rule>;

const RULE_LIST: readonly Rule[] = [RULES.notPinned, RULES.invalid];

/** One image field that is not pinned. */
export interface Finding {
  readonly ruleId: string;
  readonly file: string;
  /** Path of the file for SARIF; undefined for stdin. */
  readonly path: string | undefined;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly object: ObjectIdentity;
  /** JSON Pointer of the field in its object, e.g. `/spec/template/spec/containers/0/image`. */
  readonly pointer: string;
  readonly image: string;
  readonly message: string;
}

function findingFor(loaded: LoadedManifest, scalar: ImageScalar): Finding | undefined {
  const { image } = scalar.field;
  let rule: Rule = RULES.notPinned;
  let message = `image ${JSON.stringify(image)} is not pinned to a digest`;
  try {
    if (parseImage(image).digest !== undefined) return undefined;
  } catch (error) {
    rule = RULES.invalid;
    message = `image ${JSON.stringify(image)} is not a valid reference: ${describeError(error)}`;
  }
  const end = positionAt(loaded.manifest, scalar.end);
  return {
    ruleId: rule.id,
    file: loaded.manifest.file,
    path: loaded.path,
    line: scalar.line,
    column: scalar.column,
    endLine: end.line,
    endColumn: end.column,
    object: scalar.object,
    pointer: scalar.field.pointer,
    image,
    message,
  };
}

/** Every unpinned image field of the manifests, in input order. */
export function findUnpinned(manifests: readonly LoadedManifest[]): Finding[] {
  return manifests.flatMap((loaded) => findImageScalars(loaded.manifest).flatMap((scalar) => findingFor(loaded, scalar) ?? []));
}

function textLine(finding: Finding): string {
  return `${finding.file}:${finding.line}:${finding.column}: ${objectLabel(finding.object)} ${finding.pointer}: ${finding.message} (${finding.ruleId})`;
}

function jsonFinding(finding: Finding): Record<string, unknown> {
  const { path: _path, endLine: _endLine, endColumn: _endColumn, ...rest } = finding;
  return rest;
}

/** A URI GitHub code scanning resolves against the repository: relative to the working directory when inside it. */
function artifactUri(finding: Finding, cwd: string): string {
  if (finding.path === undefined) return 'stdin';
  const inside = relative(cwd, finding.path);
  if (inside.startsWith('..') || isAbsolute(inside)) return pathToFileURL(finding.path).href;
  return inside.split(sep).map(encodeURIComponent).join('/');
}

function sarifResult(finding: Finding, cwd: string): Record<string, unknown> {
  return {
    ruleId: finding.ruleId,
    ruleIndex: RULE_LIST.findIndex((rule) => rule.id === finding.ruleId),
    level: 'error',
    message: { text: `${objectLabel(finding.object)} ${finding.pointer}: ${finding.message}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: artifactUri(finding, cwd), uriBaseId: '%SRCROOT%' },
          region: { startLine: finding.line, startColumn: finding.column, endLine: finding.endLine, endColumn: finding.endColumn },
        },
        logicalLocations: [{ fullyQualifiedName: `${objectLabel(finding.object)}${finding.pointer}`, kind: 'member' }],
      },
    ],
  };
}

/** A SARIF 2.1.0 log with one run; problems reading inputs become tool notifications. */
export function sarifLog(findings: readonly Finding[], problems: readonly string[], io: Pick<CliIo, 'cwd' | 'version'>): Record<string, unknown> {
  return sarifRun({
    version: io.version,
    rules: RULE_LIST,
    results: findings.map((finding) => sarifResult(finding, io.cwd)),
    problems,
    extra: { originalUriBaseIds: { '%SRCROOT%': { uri: pathToFileURL(`${io.cwd}${sep}`).href } } },
  });
}

function parseOutput(value: string | undefined): Output {
  const output = value ?? 'text';
  const known = OUTPUTS.find((candidate) => candidate === output);
  if (known === undefined) throw new UsageError(`--output ${JSON.stringify(output)} must be text, json or sarif`);
  return known;
}

/** Returns the exit code. */
export async function checkCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags({ args: [...argv], allowPositionals: true, options: { ...HELP_FLAG, output: { type: 'string' } } });
  if (values.help === true) {
    writeLine(io.stdout, CHECK_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('check needs at least one FILE, DIR or - (stdin)');
  const output = parseOutput(values.output);
  const { manifests, problems } = await loadManifests(positionals, io);
  for (const problem of problems) writeLine(io.stderr, `digest-pinner: ${problem}`);
  const findings = findUnpinned(manifests);
  if (output === 'json') writeLine(io.stdout, JSON.stringify(findings.map(jsonFinding), null, 2));
  else if (output === 'sarif') writeLine(io.stdout, JSON.stringify(sarifLog(findings, problems, io), null, 2));
  else for (const finding of findings) writeLine(io.stdout, textLine(finding));
  return findings.length > 0 || problems.length > 0 ? 1 : 0;
}
