/**
 * Pull-secret credentials matched to an image the way kubelet's keyring
 * (pkg/credentialprovider) matches them. Each docker config key is a host with an
 * optional port and path (`quay.io`, `registry.example.com:5000/team`,
 * `https://index.docker.io/v1/`, `*.example.com`):
 *
 * - the scheme (`https://`, `http://`) is dropped, and so is a leading `/v1/` or `/v2/` path;
 * - the port must equal the image's port (a key without one only matches images without one);
 * - the host must have as many DNS labels as the image's, each matching; `*` in a label
 *   matches within that one label only (`*.example.com` is not `a.b.example.com`);
 * - the path is a prefix of the image's path on `/` boundaries (`quay.io/team` matches
 *   `quay.io/team/app`, not `quay.io/teammate/app`; kubelet compares plain strings here);
 * - Docker Hub's aliases `index.docker.io`, `registry-1.docker.io` and `docker.io` all mean
 *   `docker.io`, the domain normalised image names have.
 *
 * Matching entries come most specific first: keys in reverse lexicographic order, as
 * kubelet sorts its index (a longer key before its own prefix, `a.example.com` before
 * `*.example.com`); entries with the same key keep the order they were added in.
 *
 * Pure: no I/O, no clock. Problems are reported as text naming the entry, never a secret.
 */
import { compileGlob, globMatches } from '../glob.js';
import { isRecord, member, parseJson } from '../json.js';
import { registryDomain } from '../reference/index.js';
import { quoteKey, readAuthEntry } from './docker-auth.js';
import type { Credential } from './types.js';

/** One docker config entry that can be matched: where it applies and what to send. */
export interface KeyringEntry {
  /** The key as written, for messages. */
  readonly key: string;
  /** host[:port] + path, lower-case host, aliases folded, scheme and /v1/ dropped: the sort key. */
  readonly normalizedKey: string;
  readonly credential: Credential;
  readonly pattern: RegistryPattern;
}

/** The parsed form of a key or an image name. */
export interface RegistryPattern {
  /** DNS labels of the host, lower case (an IPv6 literal is one label, without brackets). */
  readonly labels: readonly string[];
  /** Port as written, '' when none. */
  readonly port: string;
  /** Path without trailing slashes, starting with '/'; '' when none. */
  readonly path: string;
}

/** Entries from one or more pull secrets, matched as kubelet does. */
export interface Keyring {
  readonly entries: readonly KeyringEntry[];
  /** Credentials for `imageName` (`domain/path`, normalised, e.g. `docker.io/library/nginx`), best first, without repeats. */
  credentialsFor(imageName: string): Credential[];
}

/** A parsed pull secret: the usable entries and why others were skipped. */
export interface ParsedPullSecret {
  readonly keyring: Keyring;
  /** One line per skipped entry or unusable secret; names keys and fields, never values. */
  readonly problems: readonly string[];
}

/** Secret types kubelet reads pull credentials from, and the data key of each. */
export const PULL_SECRET_TYPES = {
  dockerConfigJson: 'kubernetes.io/dockerconfigjson',
  dockercfg: 'kubernetes.io/dockercfg',
} as const;

export type PullSecretType = (typeof PULL_SECRET_TYPES)[keyof typeof PULL_SECRET_TYPES];

const DATA_KEYS: ReadonlyMap<string, string> = new Map([
  [PULL_SECRET_TYPES.dockerConfigJson, '.dockerconfigjson'],
  [PULL_SECRET_TYPES.dockercfg, '.dockercfg'],
]);

/** `https://` or `http://`, which kubelet drops; any other scheme makes the key unusable. */
const HTTP_SCHEME = /^https?:\/\//i;
const ANY_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** Docker's API-version path on a key (`https://index.docker.io/v1/`): equivalent to no path. */
const API_VERSION_PATH = /^\/v[12]\//;
/** Host (DNS labels with optional `*`, or a bracketed IPv6 literal) and optional port. */
const HOST_PORT = /^(?<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_*-]+(?:\.[A-Za-z0-9_*-]+)*)(?::(?<port>[0-9]+))?$/;
/** Path characters a repository or a key's path may hold; no whitespace, query or fragment. */
const PATH = /^(?:\/[^\s?#/]*)*$/;

/** A keyring with no entries. */
export const EMPTY_KEYRING: Keyring = keyringOf([]);

/** A keyring over `entries` (sorted here; callers add them in secret order). */
export function keyringOf(entries: readonly KeyringEntry[]): Keyring {
  const sorted = stableSortBySpecificity(entries);
  return {
    entries: sorted,
    credentialsFor: (imageName) => matchingCredentials(sorted, imageName),
  };
}

/**
 * One keyring over several secrets' entries, as kubelet builds one keyring from all of a
 * pod's pull secrets: sorted by key across secrets, in secret order for equal keys.
 */
export function mergeKeyrings(keyrings: readonly Keyring[]): Keyring {
  if (keyrings.length === 1 && keyrings[0] !== undefined) return keyrings[0];
  return keyringOf(keyrings.flatMap((k) => k.entries));
}

/**
 * Parses the `data` of a pull secret (values base64, as the API serves them).
 * `source` names the secret in credentials and messages, e.g. `secret team-a/regcred`;
 * `tenant` is the namespace of a Secret read from the cluster (Credential.tenant).
 */
export function parsePullSecret(type: string, data: unknown, source: string, tenant?: string): ParsedPullSecret {
  const dataKey = DATA_KEYS.get(type);
  if (dataKey === undefined) return unusable(`${source}: type ${JSON.stringify(type)} is not a pull-secret type`);
  const encoded = member(data, dataKey);
  if (typeof encoded !== 'string' || encoded === '') return unusable(`${source}: has no ${dataKey} data`);
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  // parseJson drops the parser's message: V8 quotes the text around the error, which may be a password.
  const parsed = parseJson(text);
  if (parsed === undefined) return unusable(`${source}: ${dataKey} is not valid JSON`);
  return type === PULL_SECRET_TYPES.dockerConfigJson ? parseDockerConfigJson(parsed, source, tenant) : parseDockercfg(parsed, source, tenant);
}

/** Parses a `.dockerconfigjson` document (`{"auths": {...}}`). */
export function parseDockerConfigJson(config: unknown, source: string, tenant?: string): ParsedPullSecret {
  if (!isRecord(config)) return unusable(`${source}: .dockerconfigjson is not a JSON object`);
  const auths = member(config, 'auths');
  if (auths === undefined) return unusable(`${source}: .dockerconfigjson has no "auths"`);
  if (!isRecord(auths)) return unusable(`${source}: .dockerconfigjson "auths" is not an object`);
  return parseAuths(auths, source, 'auths', tenant);
}

/** Parses a legacy `.dockercfg` document (the map of keys to entries itself). */
export function parseDockercfg(config: unknown, source: string, tenant?: string): ParsedPullSecret {
  if (!isRecord(config)) return unusable(`${source}: .dockercfg is not a JSON object`);
  return parseAuths(config, source, '', tenant);
}

/** Parses a key (`https://quay.io/v1/`, `*.example.com:5000/team`) or an image name (`quay.io/team/app`). */
export function parseRegistryPattern(text: string): RegistryPattern | string {
  let rest = text.trim();
  if (HTTP_SCHEME.test(rest)) rest = rest.replace(HTTP_SCHEME, '');
  else if (ANY_SCHEME.test(rest)) return 'has a scheme other than http:// or https://';
  const slash = rest.indexOf('/');
  const match = HOST_PORT.exec(slash === -1 ? rest : rest.slice(0, slash));
  const host = match?.groups?.['host'];
  if (host === undefined) return 'is not host[:port][/path]';
  const path = normalizePath(slash === -1 ? '' : rest.slice(slash));
  if (path === undefined) return 'has an invalid path';
  return { labels: hostLabels(host, match?.groups?.['port'] ?? ''), port: match?.groups?.['port'] ?? '', path };
}

/** The path without docker's `/v1/`/`/v2/` prefix and trailing slashes; undefined when invalid. */
function normalizePath(path: string): string | undefined {
  if (!PATH.test(path)) return undefined;
  const unversioned = API_VERSION_PATH.test(path) ? path.slice(3) : path;
  return unversioned.replace(/\/+$/, '');
}

/** Lower-case DNS labels; an IPv6 literal is one label; Docker Hub's aliases are docker.io. */
function hostLabels(host: string, port: string): string[] {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) return [lower.slice(1, -1)];
  return (port === '' ? registryDomain(lower) : lower).split('.');
}

/** True when `pattern` (a key) applies to `target` (an image name). */
export function patternMatches(pattern: RegistryPattern, target: RegistryPattern): boolean {
  if (pattern.port !== target.port || pattern.labels.length !== target.labels.length) return false;
  if (pattern.path !== '' && target.path !== pattern.path && !target.path.startsWith(`${pattern.path}/`)) return false;
  return pattern.labels.every((glob, index) => labelMatches(glob, target.labels[index] ?? ''));
}

/** A key's label against the image's: `*` within the one label (labels hold no `/` or `.`). */
function labelMatches(glob: string, label: string): boolean {
  return glob.includes('*') ? globMatches(compileGlob(glob), label) : glob === label;
}

function matchingCredentials(entries: readonly KeyringEntry[], imageName: string): Credential[] {
  const target = parseRegistryPattern(imageName);
  if (typeof target === 'string') return [];
  const seen = new Set<string>();
  const credentials: Credential[] = [];
  for (const entry of entries) {
    if (!patternMatches(entry.pattern, target)) continue;
    const identity = `${entry.credential.username.length}\0${entry.credential.username}\0${entry.credential.password}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    credentials.push(entry.credential);
  }
  return credentials;
}

function stableSortBySpecificity(entries: readonly KeyringEntry[]): KeyringEntry[] {
  return entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => compareReverse(a.entry.normalizedKey, b.entry.normalizedKey) || a.index - b.index)
    .map(({ entry }) => entry);
}

/** Reverse code-unit order (Go's sort.Reverse over strings, for ASCII keys). */
function compareReverse(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? 1 : -1;
}

function parseAuths(auths: Readonly<Record<string, unknown>>, source: string, field: string, tenant: string | undefined): ParsedPullSecret {
  const entries: KeyringEntry[] = [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(auths)) {
    const where = field === '' ? `[${quoteKey(key)}]` : `${field}[${quoteKey(key)}]`;
    const pattern = parseRegistryPattern(key);
    if (typeof pattern === 'string') {
      problems.push(`${source}: ${where} skipped: key ${pattern}`);
      continue;
    }
    const credential = readCredential(value, source, tenant);
    if (typeof credential === 'string') {
      problems.push(`${source}: ${where} skipped: ${credential}`);
      continue;
    }
    entries.push({ key, normalizedKey: normalizedKey(pattern), credential, pattern });
  }
  return { keyring: keyringOf(entries), problems };
}

function normalizedKey(pattern: RegistryPattern): string {
  const host = pattern.labels.join('.');
  return `${host.includes(':') ? `[${host}]` : host}${pattern.port === '' ? '' : `:${pattern.port}`}${pattern.path}`;
}

/** The credential of one entry, or why it has none. */
function readCredential(value: unknown, source: string, tenant: string | undefined): Credential | string {
  const entry = readAuthEntry(value);
  if (entry.kind === 'credential') return { username: entry.username, password: entry.password, source, ...(tenant === undefined ? {} : { tenant }) };
  if (entry.kind === 'none') return entry.reason;
  return `${entry.field === undefined ? 'entry' : JSON.stringify(entry.field)} ${entry.problem}`;
}

function unusable(problem: string): ParsedPullSecret {
  return { keyring: EMPTY_KEYRING, problems: [problem] };
}
