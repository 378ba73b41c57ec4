/**
 * Credentials from a docker `config.json`: `auths` entries, and which credential
 * helper (`credHelpers` per registry, else `credsStore`) docker would ask
 * (credential-helpers.ts runs them). Keys are matched the way docker does: scheme
 * and path are dropped (`https://quay.io/v1/` → quay.io) and Docker Hub's aliases
 * (`https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io`,
 * `docker.io`) all mean docker.io.
 *
 * Not supported: `identitytoken` in `auths` (an OAuth refresh token for the token
 * service; entries with only an identity token are skipped).
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DigestPinnerError, describeError, errorCode } from '../errors.js';
import { isRecord } from '../json.js';
import type { Credential } from './types.js';

/** Credentials found in one docker config file. */
export interface DockerConfigCredentials {
  /** The file that was read (it may not exist: then there are no credentials). */
  readonly file: string;
  /** Credentials for a registry domain (e.g. `docker.io`, `127.0.0.1:5000`), best match first. */
  lookup(domain: string): Credential[];
  /** The credential helper suffix (`ecr-login` for `docker-credential-ecr-login`) for a domain: its `credHelpers` entry, else `credsStore`. */
  helperFor(domain: string): string | undefined;
  /** True when the file names any credential helper. */
  readonly hasHelpers: boolean;
}

/** A docker config file that exists but cannot be used. The message names the file and the entry, never a secret. */
export class DockerConfigError extends DigestPinnerError {
  readonly code = 'DP_ERR_DOCKER_CONFIG';
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`docker config ${file}: ${problem}`, options);
    this.file = file;
  }
}

const CONFIG_FILE = 'config.json';
const DOCKER_HUB = 'docker.io';
/** The key `docker login` writes for Docker Hub; preferred when several keys match. */
const DOCKER_HUB_LOGIN_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const SCHEME_PREFIX = /^[a-z][a-z0-9+.-]*:\/\//i;
// Standard base64 with padding, as docker's decoder (base64.StdEncoding) requires.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_KEY_IN_MESSAGE = 80;
// What follows `docker-credential-`: a program name, never a path.
const HELPER_SUFFIX = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface Helpers {
  readonly byHost: ReadonlyMap<string, string>;
  readonly store: string | undefined;
}

interface Entry {
  readonly key: string;
  readonly host: string;
  readonly credential: Credential;
}

/** The directory holding config.json: the option, else `$DOCKER_CONFIG`, else `~/.docker`. */
export function dockerConfigDir(dir: string | undefined, env: Readonly<Record<string, string | undefined>>, home: string): string {
  if (dir !== undefined && dir !== '') return dir;
  const fromEnv = env['DOCKER_CONFIG'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return join(home, '.docker');
}

/** Reads `<dir>/config.json` (dir defaults as in dockerConfigDir). A missing file gives no credentials. */
export async function loadDockerConfig(
  dir: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<DockerConfigCredentials> {
  const file = join(dockerConfigDir(dir, env, homedir()), CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isMissingFile(error)) return parseDockerConfig('', file);
    throw new DockerConfigError(file, `cannot be read (${errorCode(error) ?? describeError(error)})`, { cause: error });
  }
  return parseDockerConfig(text, file);
}

/** Parses the text of a config.json; `file` is only used in messages and credential sources. */
export function parseDockerConfig(text: string, file: string): DockerConfigCredentials {
  const config = text.trim() === '' ? {} : parseJson(text, file);
  const entries = readEntries(config, file);
  const helpers = isRecord(config) ? readHelpers(config, file) : { byHost: new Map<string, string>(), store: undefined };
  return {
    file,
    lookup: (domain) => lookupEntries(entries, domain),
    helperFor: (domain) => helpers.byHost.get(registryHostOfKey(domain)) ?? helpers.store,
    hasHelpers: helpers.byHost.size > 0 || helpers.store !== undefined,
  };
}

/** The registry a config key or image domain names: scheme and path dropped, lower-cased, Docker Hub aliases folded to docker.io. */
export function registryHostOfKey(key: string): string {
  const withoutScheme = key.trim().replace(SCHEME_PREFIX, '');
  const slash = withoutScheme.indexOf('/');
  const host = (slash === -1 ? withoutScheme : withoutScheme.slice(0, slash)).toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

function lookupEntries(entries: readonly Entry[], domain: string): Credential[] {
  const host = registryHostOfKey(domain);
  const preferredKey = host === DOCKER_HUB ? DOCKER_HUB_LOGIN_KEY : host;
  const matching = entries.filter((e) => e.host === host);
  const ranked = [...matching.filter((e) => e.key === preferredKey), ...matching.filter((e) => e.key !== preferredKey)];
  const seen = new Set<string>();
  const credentials: Credential[] = [];
  for (const { credential } of ranked) {
    const identity = `${credential.username}\0${credential.password}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    credentials.push(credential);
  }
  return credentials;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // No cause and no parser message: V8 quotes the surrounding text, which may hold a secret.
    const position = /position (\d+)/.exec(describeError(error))?.[1];
    throw new DockerConfigError(file, position === undefined ? 'is not valid JSON' : `is not valid JSON (at character ${position})`);
  }
}

function readEntries(config: unknown, file: string): Entry[] {
  if (!isRecord(config)) throw new DockerConfigError(file, 'is not a JSON object');
  const auths = config['auths'];
  if (auths === undefined) return [];
  if (!isRecord(auths)) throw new DockerConfigError(file, '"auths" is not an object');
  const entries: Entry[] = [];
  for (const [key, value] of Object.entries(auths)) {
    const credential = readCredential(value, `auths[${quoteKey(key)}]`, file);
    if (credential !== undefined) entries.push({ key, host: registryHostOfKey(key), credential });
  }
  return entries;
}

function readHelpers(config: Record<string, unknown>, file: string): Helpers {
  const raw = config['credsStore'];
  const store = raw === undefined || raw === null || raw === '' ? undefined : raw;
  if (store !== undefined && (typeof store !== 'string' || !HELPER_SUFFIX.test(store))) throw new DockerConfigError(file, '"credsStore" is not a helper name (docker-credential-<name>)');
  const byHost = new Map<string, string>();
  const helpers = config['credHelpers'];
  if (helpers !== undefined && helpers !== null) {
    if (!isRecord(helpers)) throw new DockerConfigError(file, '"credHelpers" is not an object');
    for (const [key, value] of Object.entries(helpers)) {
      const where = `credHelpers[${quoteKey(key)}]`;
      if (typeof value !== 'string' || !HELPER_SUFFIX.test(value)) throw new DockerConfigError(file, `${where} is not a helper name (docker-credential-<name>)`);
      byHost.set(registryHostOfKey(key), value);
    }
  }
  return { byHost, store };
}

function readCredential(value: unknown, where: string, file: string): Credential | undefined {
  if (!isRecord(value)) throw new DockerConfigError(file, `${where} is not an object`);
  const source = `docker config ${file} ${where}`;
  const auth = optionalString(value, 'auth', where, file);
  // As in docker: a non-empty `auth` wins over username/password.
  if (auth !== undefined && auth !== '') return { ...decodeAuth(auth, where, file), source };
  const username = optionalString(value, 'username', where, file);
  const password = optionalString(value, 'password', where, file);
  if (username === undefined || username === '') {
    if (password !== undefined && password !== '') throw new DockerConfigError(file, `${where} has a password but no username`);
    return undefined;
  }
  return { username, password: password ?? '', source };
}

function decodeAuth(auth: string, where: string, file: string): { username: string; password: string } {
  if (!BASE64.test(auth)) throw new DockerConfigError(file, `${where}.auth is not valid base64`);
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new DockerConfigError(file, `${where}.auth does not decode to "username:password"`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function optionalString(record: Record<string, unknown>, field: string, where: string, file: string): string | undefined {
  const value = record[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new DockerConfigError(file, `${where}.${field} is not a string`);
  return value;
}

function quoteKey(key: string): string {
  const shown = key.length > MAX_KEY_IN_MESSAGE ? `${key.slice(0, MAX_KEY_IN_MESSAGE)}…` : key;
  return JSON.stringify(shown);
}


function isMissingFile(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
