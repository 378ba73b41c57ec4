/**
 * The configuration file's shape, validated field by field into
 * DigestPinnerConfig. Pure: file names are checked for shape here and read in
 * load.ts. Every error names the field as a path, e.g.
 * `registries."quay.io".mirrors[0]`.
 *
 *   apiVersion: digest-pinner.io/v1alpha1   # required, so the format can change in a later version
 *   kind: Configuration
 *   registries:            # by registry as images name it: host[:port], docker.io for Docker Hub
 *     HOST[:PORT]:
 *       ca: FILE           # PEM CA(s) trusted for this registry, besides the system store
 *       clientCert: FILE   # mutual TLS (with clientKey)
 *       clientKey: FILE
 *       insecure: BOOL     # plain HTTP
 *       mirrors: [HOST[:PORT][/PATH], …]   # asked first; used only when holding the tag
 *       tokenRealms: [HOST[:PORT], …]      # token realms on other hosts that may get its credentials
 *   rewrites:              # move images before pinning; longest `from` wins
 *     - { from: HOST[:PORT][/PATH], to: HOST[:PORT][/PATH] }
 *   allow: [HOST[:PORT], …]   # when set, no other registry is contacted
 *   cache: { staleFor: DURATION, negativeTtl: DURATION }
 *   retry: { attempts: N, backoff: DURATION, maxBackoff: DURATION }
 *   breaker: { failures: N, coolDown: DURATION }
 */
import { parseDuration } from '../duration.js';
import { describeValue } from '../json.js';
import { registryDomain } from '../reference/index.js';
import { ConfigError } from './errors.js';
import { isRegistryHost, parseLocation, type Location } from './location.js';
import type { RewriteRule } from './rewrite.js';

/** One registry's settings; file names as written (relative to the configuration file's directory). */
export interface RegistryConfig {
  readonly ca: string | undefined;
  readonly clientCert: string | undefined;
  readonly clientKey: string | undefined;
  readonly insecure: boolean;
  readonly mirrors: readonly Location[];
  readonly tokenRealms: readonly string[];
}

export interface CacheConfig {
  /** Oldest digest served stale when its registry fails; 0 disables. */
  readonly staleForMs: number;
  /** How long "manifest unknown" is remembered; 0 disables. */
  readonly negativeTtlMs: number;
}

export interface RetryConfig {
  readonly attempts: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

export interface BreakerConfig {
  readonly failures: number;
  readonly coolDownMs: number;
}

/** A validated configuration. */
export interface DigestPinnerConfig {
  /** The file it came from, as named on the command line (empty for the built-in defaults). */
  readonly file: string;
  /** By lower-case `host[:port]`. */
  readonly registries: ReadonlyMap<string, RegistryConfig>;
  readonly rewrites: readonly RewriteRule[];
  /** Registries that may be contacted; undefined: any. */
  readonly allow: readonly string[] | undefined;
  readonly cache: CacheConfig;
  readonly retry: RetryConfig;
  readonly breaker: BreakerConfig;
}

export const DEFAULT_CACHE: CacheConfig = { staleForMs: 60 * 60_000, negativeTtlMs: 30_000 };
export const DEFAULT_RETRY_CONFIG: RetryConfig = { attempts: 3, backoffMs: 100, maxBackoffMs: 1_000 };
export const DEFAULT_BREAKER_CONFIG: BreakerConfig = { failures: 3, coolDownMs: 10_000 };

/** The configuration without a file. */
export function defaultConfig(): DigestPinnerConfig {
  return {
    file: '',
    registries: new Map(),
    rewrites: [],
    allow: undefined,
    cache: DEFAULT_CACHE,
    retry: DEFAULT_RETRY_CONFIG,
    breaker: DEFAULT_BREAKER_CONFIG,
  };
}

/** The version and kind every configuration file names; a later format gets a version of its own. */
export const CONFIG_API_VERSION = 'digest-pinner.io/v1alpha1';
export const CONFIG_KIND = 'Configuration';

const TOP_LEVEL = ['apiVersion', 'kind', 'registries', 'rewrites', 'allow', 'cache', 'retry', 'breaker'] as const;
const REGISTRY_FIELDS = ['ca', 'clientCert', 'clientKey', 'insecure', 'mirrors', 'tokenRealms'] as const;
/** Docker Hub's website host, which people write for its registry; no client reads it as one. */
const DOCKER_HUB_WEBSITE = 'registry.hub.docker.com';
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_ATTEMPTS = 10;

/** Validates parsed YAML (`null` for an empty file). Throws ConfigError naming the first bad field. */
export function validateConfig(raw: unknown, file: string): DigestPinnerConfig {
  const root = new Field(file, '');
  const document = raw === null || raw === undefined ? {} : root.object(raw);
  checkType(root, document['apiVersion'], document['kind']);
  const top = root.object(document, TOP_LEVEL);
  const registries = readRegistries(root.child('registries'), top['registries']);
  const rewrites = readRewrites(root.child('rewrites'), top['rewrites']);
  const allow = top['allow'] === undefined ? undefined : readHosts(root.child('allow'), top['allow']);
  const config: DigestPinnerConfig = {
    file,
    registries,
    rewrites,
    allow,
    cache: readCache(root.child('cache'), top['cache']),
    retry: readRetry(root.child('retry'), top['retry']),
    breaker: readBreaker(root.child('breaker'), top['breaker']),
  };
  if (allow !== undefined) checkAllowed(root, config, new Set(allow));
  return config;
}

/**
 * A file without apiVersion and kind is refused, not read with a warning: none exists yet
 * (the format is new), and a warning in a log nobody reads would leave files that no later
 * version could tell apart from its own.
 */
function checkType(root: Field, apiVersion: unknown, kind: unknown): void {
  const version = `"apiVersion: ${CONFIG_API_VERSION}"`;
  const type = `"kind: ${CONFIG_KIND}"`;
  if (apiVersion === undefined && kind === undefined) root.fail(`apiVersion and kind are missing: add ${version} and ${type} at the top of the file`);
  if (apiVersion === undefined) root.child('apiVersion').fail(`missing: add ${version} at the top of the file`);
  if (apiVersion !== CONFIG_API_VERSION) root.child('apiVersion').fail(`${describeValue(apiVersion)} is not ${CONFIG_API_VERSION}, the version this digest-pinner reads`);
  if (kind === undefined) root.child('kind').fail(`missing: add ${type} at the top of the file`);
  if (kind !== CONFIG_KIND) root.child('kind').fail(`${describeValue(kind)} is not ${CONFIG_KIND}`);
}

function readRegistries(field: Field, raw: unknown): ReadonlyMap<string, RegistryConfig> {
  const registries = new Map<string, RegistryConfig>();
  if (raw === undefined || raw === null) return registries;
  for (const [host, value] of Object.entries(field.object(raw))) {
    const entry = field.key(host);
    if (!isRegistryHost(host)) entry.fail(`${JSON.stringify(host)} must be HOST[:PORT] as images name the registry`);
    const domain = host.toLowerCase();
    if (registryDomain(domain) !== domain || domain === DOCKER_HUB_WEBSITE) entry.fail('write Docker Hub as docker.io, the name images use');
    if (registries.has(domain)) entry.fail(`${domain} is configured twice (names are not case-sensitive)`);
    registries.set(domain, readRegistry(entry, value, domain));
  }
  return registries;
}

function readRegistry(field: Field, raw: unknown, domain: string): RegistryConfig {
  const fields = raw === null ? {} : field.object(raw, REGISTRY_FIELDS);
  const ca = field.child('ca').optionalPath(fields['ca']);
  const clientCert = field.child('clientCert').optionalPath(fields['clientCert']);
  const clientKey = field.child('clientKey').optionalPath(fields['clientKey']);
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    field.child(clientCert === undefined ? 'clientCert' : 'clientKey').fail('clientCert and clientKey go together');
  }
  const insecure = field.child('insecure').optionalBoolean(fields['insecure']) ?? false;
  if (insecure && (ca !== undefined || clientCert !== undefined)) {
    field.child('insecure').fail('an insecure (plain HTTP) registry has no TLS: drop ca/clientCert or insecure');
  }
  const mirrors = field.child('mirrors').list(fields['mirrors']).map(([item, value]) => {
    const location = parseLocation(item.string(value));
    if (location === undefined) return item.fail(`${JSON.stringify(value)} must be HOST[:PORT][/PATH]`);
    if (location.domain === domain && location.path === '') return item.fail(`a registry cannot be its own mirror`);
    return location;
  });
  const tokenRealms = readHosts(field.child('tokenRealms'), fields['tokenRealms']);
  return { ca, clientCert, clientKey, insecure, mirrors, tokenRealms };
}

function readRewrites(field: Field, raw: unknown): readonly RewriteRule[] {
  const seen = new Set<string>();
  return field.list(raw).map(([item, value]) => {
    const rule = item.object(value, ['from', 'to'] as const);
    const from = readLocation(item.child('from'), rule['from']);
    const to = readLocation(item.child('to'), rule['to']);
    if (seen.has(from.text)) item.child('from').fail(`${from.text} is rewritten by an earlier rule already`);
    seen.add(from.text);
    return { from, to };
  });
}

function readLocation(field: Field, raw: unknown): Location {
  const text = field.string(raw);
  const location = parseLocation(text);
  if (location === undefined) field.fail(`${JSON.stringify(text)} must be HOST[:PORT][/PATH]`);
  return location;
}

function readHosts(field: Field, raw: unknown): readonly string[] {
  return field.list(raw).map(([item, value]) => {
    const host = item.string(value);
    if (!isRegistryHost(host)) item.fail(`${JSON.stringify(host)} must be HOST[:PORT]`);
    return host.toLowerCase();
  });
}

function readCache(field: Field, raw: unknown): CacheConfig {
  const fields = raw === undefined || raw === null ? {} : field.object(raw, ['staleFor', 'negativeTtl'] as const);
  return {
    staleForMs: field.child('staleFor').optionalDuration(fields['staleFor']) ?? DEFAULT_CACHE.staleForMs,
    negativeTtlMs: field.child('negativeTtl').optionalDuration(fields['negativeTtl']) ?? DEFAULT_CACHE.negativeTtlMs,
  };
}

function readRetry(field: Field, raw: unknown): RetryConfig {
  const fields = raw === undefined || raw === null ? {} : field.object(raw, ['attempts', 'backoff', 'maxBackoff'] as const);
  const attempts = field.child('attempts').optionalInteger(fields['attempts'], 1, MAX_ATTEMPTS) ?? DEFAULT_RETRY_CONFIG.attempts;
  const backoffMs = field.child('backoff').optionalDuration(fields['backoff']) ?? DEFAULT_RETRY_CONFIG.backoffMs;
  const maxBackoffMs = field.child('maxBackoff').optionalDuration(fields['maxBackoff']) ?? Math.max(backoffMs, DEFAULT_RETRY_CONFIG.maxBackoffMs);
  if (maxBackoffMs < backoffMs) field.child('maxBackoff').fail('must not be shorter than backoff');
  return { attempts, backoffMs, maxBackoffMs };
}

function readBreaker(field: Field, raw: unknown): BreakerConfig {
  const fields = raw === undefined || raw === null ? {} : field.object(raw, ['failures', 'coolDown'] as const);
  const failures = field.child('failures').optionalInteger(fields['failures'], 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_BREAKER_CONFIG.failures;
  const coolDownMs = field.child('coolDown').optionalDuration(fields['coolDown']) ?? DEFAULT_BREAKER_CONFIG.coolDownMs;
  if (coolDownMs <= 0) field.child('coolDown').fail('must be longer than 0');
  return { failures, coolDownMs };
}

/** With an allow-list, every mirror and rewrite target must be allowed, or it could never answer. */
function checkAllowed(root: Field, config: DigestPinnerConfig, allow: ReadonlySet<string>): void {
  for (const [domain, registry] of config.registries) {
    for (const [index, mirror] of registry.mirrors.entries()) {
      if (!allow.has(mirror.domain)) {
        root.child('registries').key(domain).child('mirrors').index(index).fail(`mirror ${mirror.domain} is not in allow`);
      }
    }
  }
  for (const [index, rule] of config.rewrites.entries()) {
    if (!allow.has(rule.to.domain)) root.child('rewrites').index(index).child('to').fail(`${rule.to.domain} is not in allow`);
  }
}

/** A position in the file, for messages, with readers that fail naming it. */
class Field {
  constructor(
    private readonly file: string,
    readonly path: string,
  ) {}

  child(name: string): Field {
    return new Field(this.file, this.path === '' ? name : `${this.path}.${name}`);
  }

  key(name: string): Field {
    const shown = IDENTIFIER.test(name) ? name : JSON.stringify(name);
    return new Field(this.file, this.path === '' ? shown : `${this.path}.${shown}`);
  }

  index(i: number): Field {
    return new Field(this.file, `${this.path}[${i}]`);
  }

  fail(problem: string): never {
    throw new ConfigError(this.file, this.path, problem);
  }

  /** A mapping; with `known`, any other key is an error (a typo should not be silently ignored). */
  object(raw: unknown, known?: readonly string[]): Readonly<Record<string, unknown>> {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) this.fail(`must be a mapping, not ${describeValue(raw)}`);
    const record = raw as Record<string, unknown>;
    if (known !== undefined) {
      const unknownKey = Object.keys(record).find((k) => !known.includes(k));
      if (unknownKey !== undefined) this.key(unknownKey).fail(`not a known field (known: ${known.join(', ')})`);
    }
    return record;
  }

  /** Items of a list (absent: none), each with its field. */
  list(raw: unknown): (readonly [Field, unknown])[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) this.fail(`must be a list, not ${describeValue(raw)}`);
    return raw.map((value: unknown, i) => [this.index(i), value] as const);
  }

  string(raw: unknown): string {
    if (typeof raw !== 'string' || raw.trim() === '') this.fail(`must be a non-empty string, not ${describeValue(raw)}`);
    return raw.trim();
  }

  optionalPath(raw: unknown): string | undefined {
    return raw === undefined || raw === null ? undefined : this.string(raw);
  }

  optionalBoolean(raw: unknown): boolean | undefined {
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== 'boolean') this.fail(`must be true or false, not ${describeValue(raw)}`);
    return raw;
  }

  optionalInteger(raw: unknown, min: number, max: number): number | undefined {
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
      this.fail(`must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, not ${describeValue(raw)}`);
    }
    return raw;
  }

  optionalDuration(raw: unknown): number | undefined {
    if (raw === undefined || raw === null) return undefined;
    const ms = parseDuration(raw);
    if (ms === undefined) this.fail(`${describeValue(raw)} is not a duration (examples: 30s, 5m, 1h, 0 to disable)`);
    return ms;
  }
}
