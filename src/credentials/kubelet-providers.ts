/**
 * Kubelet image credential provider plugins (KEP-2133), run the way kubelet runs
 * them, so the webhook can use the providers its nodes use (ECR, Artifact
 * Registry, ACR) for images no pull secret covers.
 *
 * - Configuration: the `CredentialProviderConfig` file kubelet takes with
 *   `--image-credential-provider-config` (`kubelet.config.k8s.io/v1`, YAML or
 *   JSON), plugins in `--image-credential-provider-bin-dir`.
 * - A provider applies to an image when one of its `matchImages` matches the
 *   image name: same number of DNS labels, each `*` within one label
 *   (`*.dkr.ecr.*.amazonaws.com`), the port equal when the pattern has one, the
 *   pattern's path a prefix of the image's (keyring.ts's matching, which is
 *   kubelet's for both).
 * - Exec protocol: `<bin-dir>/<name> <args>` with kubelet's environment plus the
 *   provider's `env`; stdin `{"apiVersion","kind":"CredentialProviderRequest","image"}`
 *   with the image as `domain/path` (what kubelet sends); stdout a
 *   `CredentialProviderResponse` of the same apiVersion with `cacheKeyType`
 *   (Image, Registry, Global), optional `cacheDuration` (absent: the provider's
 *   `defaultCacheDuration`; `0`: not cached) and `auth` keyed by match patterns.
 * - Answers are cached per `cacheKeyType` (the image, its registry host, or
 *   everything) for their duration; failures are not cached. Of an answer's `auth`
 *   entries, those matching the image are used, most specific key first; several
 *   matching providers contribute in configuration order.
 *
 * Not supported: `tokenAttributes` (service-account tokens for the plugin: the
 * webhook has no pod to request them for); such a provider is refused at start.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { parse as parseYaml } from 'yaml';
import { DigestPinnerError, describeError } from '../errors.js';
import { parseDuration } from '../duration.js';
import { isRecord, member, parseJson } from '../json.js';
import { parseRegistryPattern, patternMatches, type RegistryPattern } from './keyring.js';
import { firstLineOf, runPlugin, type PluginResult } from './exec-plugin.js';
import type { Credential, ImageName } from './types.js';

/** One provider of the configuration file, checked. */
export interface CredentialProviderSpec {
  readonly name: string;
  readonly matchImages: readonly string[];
  readonly patterns: readonly RegistryPattern[];
  readonly defaultCacheDurationMs: number;
  /** The protocol version spoken with the plugin, e.g. `credentialprovider.kubelet.k8s.io/v1`. */
  readonly apiVersion: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** A credential provider configuration that cannot be used; names the file and field, never a value from `env`. */
export class CredentialProviderConfigError extends DigestPinnerError {
  readonly code = 'DP_ERR_CREDENTIAL_PROVIDER_CONFIG';
}

/** A plugin run that failed or answered something unusable; names the problem, never an answer's secret. */
export class CredentialProviderError extends DigestPinnerError {
  readonly code = 'DP_ERR_CREDENTIAL_PROVIDER';
}

/** What the providers for one image gave: credentials, best first, and one note per provider that gave none. */
export interface ProviderLookup {
  readonly credentials: readonly Credential[];
  /** E.g. `kubelet credential provider ecr-credential-provider failed: …`; never a secret. */
  readonly notes: readonly string[];
  /** Names of the providers whose `matchImages` matched. */
  readonly matched: readonly string[];
}

export interface CredentialProviderOptions {
  readonly binDir: string;
  /** kubelet's own environment, which plugins inherit. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs?: number;
  /** Clock of the answers' cache durations (default Date.now). */
  readonly now?: () => number;
}

export const CONFIG_API_VERSIONS: ReadonlySet<string> = new Set(['kubelet.config.k8s.io/v1', 'kubelet.config.k8s.io/v1beta1', 'kubelet.config.k8s.io/v1alpha1']);
export const PROVIDER_API_VERSIONS: ReadonlySet<string> = new Set([
  'credentialprovider.kubelet.k8s.io/v1',
  'credentialprovider.kubelet.k8s.io/v1beta1',
  'credentialprovider.kubelet.k8s.io/v1alpha1',
]);
export const DEFAULT_PROVIDER_TIMEOUT_MS = 5_000;
const CACHE_KEY_TYPES: ReadonlySet<string> = new Set(['Image', 'Registry', 'Global']);
const PROVIDER_NAME = /^[^/\\]+$/;
const MAX_CACHED = 10_000;

interface AuthEntry {
  readonly key: string;
  readonly pattern: RegistryPattern;
  readonly credential: Credential;
}

interface ProviderResponse {
  readonly cacheKeyType: string;
  readonly cacheDurationMs: number;
  readonly entries: readonly AuthEntry[];
}

/** Reads and checks a CredentialProviderConfig, and that each provider's plugin is an executable in `binDir`. */
export async function loadCredentialProviders(configFile: string, options: CredentialProviderOptions): Promise<KubeletCredentialProviders> {
  let text: string;
  try {
    text = await readFile(configFile, 'utf8');
  } catch (error) {
    throw new CredentialProviderConfigError(`credential provider config ${configFile} cannot be read (${describeError(error)})`, { cause: error });
  }
  const specs = parseCredentialProviderConfig(text, configFile);
  for (const spec of specs) {
    const plugin = join(options.binDir, spec.name);
    try {
      await access(plugin, constants.X_OK);
    } catch (error) {
      throw new CredentialProviderConfigError(`credential provider config ${configFile}: provider ${spec.name}: ${plugin} is not an executable`, { cause: error });
    }
  }
  return new KubeletCredentialProviders(specs, options);
}

/** Parses the text of a CredentialProviderConfig (YAML or JSON); `file` is only used in messages. */
export function parseCredentialProviderConfig(text: string, file: string): CredentialProviderSpec[] {
  const fail = (problem: string): CredentialProviderConfigError => new CredentialProviderConfigError(`credential provider config ${file}: ${problem}`);
  let config: unknown;
  try {
    config = parseYaml(text);
  } catch {
    throw fail('is not valid YAML or JSON');
  }
  if (!isRecord(config)) throw fail('is not an object');
  if (member(config, 'kind') !== 'CredentialProviderConfig') throw fail('kind must be CredentialProviderConfig');
  const apiVersion = member(config, 'apiVersion');
  if (typeof apiVersion !== 'string' || !CONFIG_API_VERSIONS.has(apiVersion)) throw fail(`apiVersion must be one of ${[...CONFIG_API_VERSIONS].join(', ')}`);
  const providers = member(config, 'providers');
  if (!Array.isArray(providers) || providers.length === 0) throw fail('providers must be a non-empty list');
  const specs = providers.map((provider: unknown, index) => parseProvider(provider, `providers[${String(index)}]`, fail));
  const names = new Set<string>();
  for (const spec of specs) {
    if (names.has(spec.name)) throw fail(`provider name ${JSON.stringify(spec.name)} appears twice`);
    names.add(spec.name);
  }
  return specs;
}

function parseProvider(value: unknown, where: string, fail: (problem: string) => Error): CredentialProviderSpec {
  if (!isRecord(value)) throw fail(`${where} is not an object`);
  const name = member(value, 'name');
  if (typeof name !== 'string' || !PROVIDER_NAME.test(name) || name === '.' || name === '..') throw fail(`${where}.name must be a file name in the bin dir`);
  const at = `${where} (${name})`;
  if (member(value, 'tokenAttributes') !== undefined) throw fail(`${at}.tokenAttributes is not supported (the webhook has no pod service-account token to give the plugin)`);
  const matchImages = stringList(member(value, 'matchImages'), `${at}.matchImages`, fail);
  if (matchImages.length === 0) throw fail(`${at}.matchImages must not be empty`);
  const patterns = matchImages.map((text, index) => {
    const pattern = parseRegistryPattern(text);
    if (typeof pattern === 'string') throw fail(`${at}.matchImages[${String(index)}] ${JSON.stringify(text)} ${pattern}`);
    return pattern;
  });
  const defaultCacheDurationMs = parseDuration(member(value, 'defaultCacheDuration'));
  if (defaultCacheDurationMs === undefined) throw fail(`${at}.defaultCacheDuration must be a duration (e.g. 12h, 0s)`);
  const apiVersion = member(value, 'apiVersion');
  if (typeof apiVersion !== 'string' || !PROVIDER_API_VERSIONS.has(apiVersion)) throw fail(`${at}.apiVersion must be one of ${[...PROVIDER_API_VERSIONS].join(', ')}`);
  const rawArgs = member(value, 'args');
  const args = rawArgs === undefined || rawArgs === null ? [] : stringList(rawArgs, `${at}.args`, fail);
  return { name, matchImages, patterns, defaultCacheDurationMs, apiVersion, args, env: envOf(member(value, 'env'), `${at}.env`, fail) };
}

function stringList(value: unknown, where: string, fail: (problem: string) => Error): string[] {
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) throw fail(`${where} must be a list of strings`);
  return value;
}

function envOf(value: unknown, where: string, fail: (problem: string) => Error): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!Array.isArray(value)) throw fail(`${where} must be a list of {name, value}`);
  const env: Record<string, string> = {};
  for (const [index, item] of value.entries()) {
    const name = member(item, 'name');
    const text = member(item, 'value');
    if (typeof name !== 'string' || name === '' || typeof text !== 'string') throw fail(`${where}[${String(index)}] must have a string name and value`);
    env[name] = text;
  }
  return env;
}

/** The providers of one configuration: matching, running, caching. */
export class KubeletCredentialProviders {
  readonly specs: readonly CredentialProviderSpec[];
  readonly #options: CredentialProviderOptions;
  readonly #cache: LRUCache<string, ProviderResponse>;
  readonly #inFlight = new Map<string, Promise<ProviderResponse>>();

  constructor(specs: readonly CredentialProviderSpec[], options: CredentialProviderOptions) {
    this.specs = specs;
    this.#options = options;
    const { now } = options;
    this.#cache = new LRUCache<string, ProviderResponse>({
      max: MAX_CACHED,
      // lru-cache reads the time itself; a given clock must drive it, read afresh each time.
      ...(now === undefined ? {} : { perf: { now }, ttlResolution: 0 }),
    });
  }

  /** Providers whose `matchImages` match `imageName` (`domain/path`), in configuration order. */
  matching(imageName: string): CredentialProviderSpec[] {
    const target = parseRegistryPattern(imageName);
    if (typeof target === 'string') return [];
    return this.specs.filter((spec) => spec.patterns.some((pattern) => patternMatches(pattern, target)));
  }

  /** Credentials for `image` (`domain` and `name` = `domain/path`) from every matching provider. Never throws. */
  async lookup(image: ImageName): Promise<ProviderLookup> {
    const matched = this.matching(image.name);
    const answers = await Promise.all(matched.map((spec) => this.#lookupOne(spec, image)));
    const credentials: Credential[] = [];
    const notes: string[] = [];
    const seen = new Set<string>();
    for (const answer of answers) {
      if (typeof answer === 'string') {
        notes.push(answer);
        continue;
      }
      for (const credential of answer) {
        const identity = `${credential.username.length}\0${credential.username}\0${credential.password}`;
        if (seen.has(identity)) continue;
        seen.add(identity);
        credentials.push(credential);
      }
    }
    return { credentials, notes, matched: matched.map((spec) => spec.name) };
  }

  /** One provider's credentials for the image, or a note saying why there are none. */
  async #lookupOne(spec: CredentialProviderSpec, image: ImageName): Promise<Credential[] | string> {
    const who = `kubelet credential provider ${spec.name}`;
    let response: ProviderResponse;
    try {
      response = this.#cached(spec, image) ?? (await this.#shared(spec, image.name));
    } catch (error) {
      return `${who} failed: ${describeError(error)}`;
    }
    this.#remember(spec, image, response);
    const credentials = matchingEntries(response.entries, image.name).map((entry) => entry.credential);
    return credentials.length > 0 ? credentials : `${who} returned no credentials for ${image.name}`;
  }

  #cached(spec: CredentialProviderSpec, image: ImageName): ProviderResponse | undefined {
    return (
      this.#cache.get(cacheKey(spec, 'Image', image)) ?? this.#cache.get(cacheKey(spec, 'Registry', image)) ?? this.#cache.get(cacheKey(spec, 'Global', image))
    );
  }

  #remember(spec: CredentialProviderSpec, image: ImageName, response: ProviderResponse): void {
    if (response.cacheDurationMs <= 0) return;
    const key = cacheKey(spec, response.cacheKeyType, image);
    if (this.#cache.has(key)) return;
    this.#cache.set(key, response, { ttl: response.cacheDurationMs });
  }

  /** Runs the plugin for an image, one run at a time per provider and image (as kubelet's singleflight). */
  #shared(spec: CredentialProviderSpec, imageName: string): Promise<ProviderResponse> {
    const key = `${spec.name}\0${imageName}`;
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    const run = this.#exec(spec, imageName).finally(() => {
      this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, run);
    return run;
  }

  async #exec(spec: CredentialProviderSpec, imageName: string): Promise<ProviderResponse> {
    const request = { apiVersion: spec.apiVersion, kind: 'CredentialProviderRequest', image: imageName };
    const result: PluginResult = await runPlugin({
      file: join(this.#options.binDir, spec.name),
      args: spec.args,
      env: { ...this.#options.env, ...spec.env },
      stdin: JSON.stringify(request),
      timeoutMs: this.#options.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS,
    });
    if (result.code !== 0) throw new CredentialProviderError(`exit ${String(result.code)}${firstLineOf(result.stderr)}`);
    return parseProviderResponse(result.stdout, spec);
  }
}

/** Parses a plugin's answer to a request sent with `spec.apiVersion`; throws naming what is wrong, never quoting a secret. */
export function parseProviderResponse(stdout: string, spec: Pick<CredentialProviderSpec, 'name' | 'apiVersion' | 'defaultCacheDurationMs'>): ProviderResponse {
  const fail = (problem: string): CredentialProviderError => new CredentialProviderError(`response ${problem}`);
  const response = parseJson(stdout);
  if (response === undefined) throw fail('is not JSON');
  if (!isRecord(response)) throw fail('is not a JSON object');
  if (member(response, 'kind') !== 'CredentialProviderResponse') throw fail('kind is not CredentialProviderResponse');
  if (member(response, 'apiVersion') !== spec.apiVersion) throw fail(`apiVersion is not ${spec.apiVersion}, the request's`);
  const cacheKeyType = member(response, 'cacheKeyType');
  if (typeof cacheKeyType !== 'string' || !CACHE_KEY_TYPES.has(cacheKeyType)) throw fail('cacheKeyType is not Image, Registry or Global');
  const duration = member(response, 'cacheDuration');
  const cacheDurationMs = duration === undefined || duration === null ? spec.defaultCacheDurationMs : parseDuration(duration);
  if (cacheDurationMs === undefined) throw fail('cacheDuration is not a duration');
  return { cacheKeyType, cacheDurationMs, entries: authEntries(member(response, 'auth'), spec.name, fail) };
}

function authEntries(auth: unknown, provider: string, fail: (problem: string) => Error): AuthEntry[] {
  if (auth === undefined || auth === null) return [];
  if (!isRecord(auth)) throw fail('auth is not an object');
  const entries: AuthEntry[] = [];
  for (const [key, value] of Object.entries(auth)) {
    const pattern = parseRegistryPattern(key);
    if (typeof pattern === 'string') throw fail(`auth key ${JSON.stringify(key)} ${pattern}`);
    if (!isRecord(value)) throw fail(`auth[${JSON.stringify(key)}] is not an object`);
    const username = member(value, 'username') ?? '';
    const password = member(value, 'password') ?? '';
    if (typeof username !== 'string' || typeof password !== 'string') throw fail(`auth[${JSON.stringify(key)}] username and password must be strings`);
    entries.push({ key, pattern, credential: { username, password, source: `kubelet credential provider ${provider} (${key})` } });
  }
  return entries;
}

/** Entries whose key matches the image, most specific first (kubelet: keys in reverse order). */
function matchingEntries(entries: readonly AuthEntry[], imageName: string): AuthEntry[] {
  const target = parseRegistryPattern(imageName);
  if (typeof target === 'string') return [];
  return entries.filter((entry) => patternMatches(entry.pattern, target)).sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
}

function cacheKey(spec: CredentialProviderSpec, type: string, image: ImageName): string {
  if (type === 'Global') return `${spec.name}\0global`;
  if (type === 'Registry') return `${spec.name}\0registry\0${image.domain}`;
  return `${spec.name}\0image\0${image.name}`;
}
