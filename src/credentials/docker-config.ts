/**
 * Credentials from a docker `config.json`: `auths` entries, and which credential
 * helper (`credHelpers` per registry, else `credsStore`) docker would ask
 * (helpers.ts runs them). Keys are matched the way docker does: scheme
 * and path are dropped (`https://quay.io/v1/` → quay.io) and Docker Hub's aliases
 * (`https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io`,
 * `docker.io`) all mean docker.io.
 *
 * Not supported: `identitytoken` in `auths` (an OAuth refresh token for the token
 * service; entries with only an identity token are skipped).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestPinnerError, describeError, errorCode } from '../errors.js';
import { isRecord, member } from '../json.js';
import { DEFAULT_DOMAIN, registryDomain } from '../reference/index.js';
import { DOCKER_HUB_LOGIN_KEY, quoteKey, readAuthEntry } from './docker-auth.js';
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
const SCHEME_PREFIX = /^[a-z][a-z0-9+.-]*:\/\//i;
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

/** The directory holding config.json: the option (`--docker-config`), else `$DOCKER_CONFIG`, else `~/.docker`. */
export function dockerConfigDir(dir: string | undefined, env: Readonly<Record<string, string | undefined>>, home: string): string {
  if (dir !== undefined && dir !== '') return dir;
  const fromEnv = env['DOCKER_CONFIG'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return join(home, '.docker');
}

/** Reads `<dir>/config.json` (`dir` as dockerConfigDir gives it). A missing file gives no credentials. */
export async function loadDockerConfig(dir: string): Promise<DockerConfigCredentials> {
  const file = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return parseDockerConfig('', file);
    throw new DockerConfigError(file, `cannot be read (${code ?? describeError(error)})`, { cause: error });
  }
  return parseDockerConfig(text, file);
}

/** Parses the text of a config.json; `file` is only used in messages and credential sources. */
export function parseDockerConfig(text: string, file: string): DockerConfigCredentials {
  const config = text.trim() === '' ? {} : parseJson(text, file);
  const entries = readEntries(config, file);
  const helpers = readHelpers(config, file);
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
  return registryDomain((slash === -1 ? withoutScheme : withoutScheme.slice(0, slash)).toLowerCase());
}

function lookupEntries(entries: readonly Entry[], domain: string): Credential[] {
  const host = registryHostOfKey(domain);
  const preferredKey = host === DEFAULT_DOMAIN ? DOCKER_HUB_LOGIN_KEY : host;
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
  const auths = member(config, 'auths');
  if (auths === undefined) return [];
  if (!isRecord(auths)) throw new DockerConfigError(file, '"auths" is not an object');
  const entries: Entry[] = [];
  for (const [key, value] of Object.entries(auths)) {
    const credential = readCredential(value, `auths[${quoteKey(key)}]`, file);
    if (credential !== undefined) entries.push({ key, host: registryHostOfKey(key), credential });
  }
  return entries;
}

function readHelpers(config: unknown, file: string): Helpers {
  const raw = member(config, 'credsStore');
  const store = raw === undefined || raw === null || raw === '' ? undefined : raw;
  if (store !== undefined && (typeof store !== 'string' || !HELPER_SUFFIX.test(store))) throw new DockerConfigError(file, '"credsStore" is not a helper name (docker-credential-<name>)');
  const byHost = new Map<string, string>();
  const helpers = member(config, 'credHelpers');
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

/** The credential of an entry; undefined for one without any. Throws for a malformed one. */
function readCredential(value: unknown, where: string, file: string): Credential | undefined {
  const entry = readAuthEntry(value);
  if (entry.kind === 'invalid') throw new DockerConfigError(file, `${where}${entry.field === undefined ? '' : `.${entry.field}`} ${entry.problem}`);
  if (entry.kind === 'none') return undefined;
  return { username: entry.username, password: entry.password, source: `docker config ${file} ${where}` };
}
