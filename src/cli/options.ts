/** Flags shared by every command, parsed with node:util's parseArgs. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DigestPinnerError } from '../errors.js';
import type { Mode } from '../admission/index.js';
import { parseDuration } from '../duration.js';

/** A command line the CLI cannot act on; exits 2 with this message. */
/** Where manifests/ installs the webhook: its status Lease and the cluster-wide tag ledger, outside a cluster. */
export const DEFAULT_WEBHOOK_NAMESPACE = 'digest-pinner';

export class UsageError extends DigestPinnerError {
  readonly code = 'DP_ERR_USAGE';
}

/** `-h`/`--help`, which every command takes. */
export const HELP_FLAG = {
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Flags every command that resolves images takes: how to reach and trust registries. */
export const COMMON_FLAGS = {
  ...HELP_FLAG,
  config: { type: 'string' },
  'docker-config': { type: 'string' },
  'ca-file': { type: 'string', multiple: true },
  'insecure-registry': { type: 'string', multiple: true },
  'registry-timeout': { type: 'string' },
  'image-credential-provider-config': { type: 'string' },
  'image-credential-provider-bin-dir': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** `--drop-tag`, for the commands that write pinned references (not imageset, whose entries keep digest and image apart). */
export const DROP_TAG_FLAG = {
  'drop-tag': { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

/** The common flags as every command's usage lists them. */
export const COMMON_FLAGS_USAGE = `  --config FILE               registry configuration (YAML, kind Configuration): per-registry CA,
                              client certificate and insecure HTTP, mirrors, rewrites, allow-list,
                              stale/negative caching, retries, circuit breaker (checked at start)
  --docker-config DIR         directory with config.json (default $DOCKER_CONFIG, then ~/.docker);
                              its credHelpers/credsStore run docker-credential-* helpers
  --image-credential-provider-config FILE
                              kubelet CredentialProviderConfig: run the nodes' credential provider plugins
  --image-credential-provider-bin-dir DIR
                              where those plugins are (both flags or neither)
  --ca-file FILE              extra CA certificate(s) to trust, added to the system store (repeatable)
  --insecure-registry HOST    reach HOST[:PORT] over plain HTTP (repeatable)
  --registry-timeout DUR      deadline of one registry request (default 5s)`;

export interface CommonOptions {
  /** The YAML configuration file (`--config`): per-registry TLS, mirrors, rewrites, allow-list, cache and retries. */
  readonly configFile: string | undefined;
  /** Directory holding config.json; undefined means $DOCKER_CONFIG, then ~/.docker. */
  readonly dockerConfigDir: string | undefined;
  readonly caFiles: readonly string[];
  readonly insecureRegistries: readonly string[];
  /** How long a resolved digest is reused: `--cache-ttl`, serve's alone (the other commands' cache ends with the run). */
  readonly cacheTtlMs: number;
  readonly registryTimeoutMs: number;
  readonly dropTag: boolean;
  /** kubelet's CredentialProviderConfig file and plugin directory (both or neither), as on the nodes. */
  readonly imageCredentialProviderConfig?: string | undefined;
  readonly imageCredentialProviderBinDir?: string | undefined;
}

export const DEFAULT_CACHE_TTL_MS = 15 * 60_000;
export const DEFAULT_REGISTRY_TIMEOUT_MS = 5_000;

/** A bare number of seconds, which the flags also take. */
const SECONDS = /^\d+(?:\.\d+)?$/;

/** Parses `--flag 30s` / `--flag 1m` / `--flag 90` (seconds). */
export function durationFlag(name: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const ms = parseDuration(SECONDS.test(value) ? Number(value) : value);
  if (ms === undefined || ms <= 0) throw new UsageError(`--${name} ${JSON.stringify(value)} is not a duration (examples: 30s, 5m, 1h, or seconds)`);
  return ms;
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/** Reads the common flags from parseArgs values. */
export function commonOptions(values: {
  config?: string;
  'docker-config'?: string;
  'ca-file'?: string[];
  'insecure-registry'?: string[];
  'cache-ttl'?: string;
  'registry-timeout'?: string;
  'drop-tag'?: boolean;
  'image-credential-provider-config'?: string;
  'image-credential-provider-bin-dir'?: string;
}): CommonOptions {
  const insecure = values['insecure-registry'] ?? [];
  const providerConfig = values['image-credential-provider-config'];
  const providerBinDir = values['image-credential-provider-bin-dir'];
  if ((providerConfig === undefined) !== (providerBinDir === undefined)) {
    throw new UsageError('--image-credential-provider-config and --image-credential-provider-bin-dir go together (as for kubelet)');
  }
  for (const host of insecure) {
    if (!HOST_PORT.test(host)) throw new UsageError(`--insecure-registry ${JSON.stringify(host)} must be HOST or HOST:PORT, without a scheme or path`);
  }
  return {
    configFile: values.config,
    dockerConfigDir: values['docker-config'],
    caFiles: values['ca-file'] ?? [],
    insecureRegistries: insecure,
    cacheTtlMs: durationFlag('cache-ttl', values['cache-ttl'], DEFAULT_CACHE_TTL_MS),
    registryTimeoutMs: durationFlag('registry-timeout', values['registry-timeout'], DEFAULT_REGISTRY_TIMEOUT_MS),
    dropTag: values['drop-tag'] ?? false,
    imageCredentialProviderConfig: providerConfig,
    imageCredentialProviderBinDir: providerBinDir,
  };
}

/**
 * parseArgs, with a command line it cannot take answered as a UsageError that names the
 * flag or argument at fault (runCli adds where to read the command's flags).
 */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError(flagProblem(config) ?? (error instanceof Error ? error.message : String(error)), { cause: error });
  }
}

/** What parseArgs refused, in our words, read from the tokens of a lenient parse; undefined when none is found. */
export function flagProblem(config: ParseArgsConfig): string | undefined {
  const options = config.options ?? {};
  const { tokens } = parseArgs({ ...config, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'positional' && config.allowPositionals !== true) return `unexpected argument ${JSON.stringify(token.value)}: this command takes flags only`;
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (option === undefined) return `unknown flag ${token.rawName}`;
    if (option.type === 'boolean' && token.value !== undefined) return `${token.rawName} takes no value`;
    if (option.type !== 'string') continue;
    if (token.value === undefined) return `${token.rawName} needs a value`;
    // `--output --drop-tag`: parseArgs refuses to take a flag as the value; `--output=-x` is one.
    if (!token.inlineValue && token.value.startsWith('-')) return `${token.rawName} needs a value (for one starting with -, write ${token.rawName}=${token.value})`;
  }
  return undefined;
}

/** `--NAME N` as a positive whole number, `fallback` when absent. */
export function wholeNumberFlag(name: string, value: string | undefined, fallback: number): number {
  const count = Number(value ?? fallback);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--${name} must be a positive whole number`);
  return count;
}

/** `--concurrency` as a positive whole number (default 8). */
export function concurrencyFlag(value: string | undefined): number {
  return wholeNumberFlag('concurrency', value, 8);
}

export function parseMode(value: string | undefined): Mode {
  if (value === undefined || value === 'warn') return 'warn';
  if (value === 'strict') return 'strict';
  throw new UsageError(`--mode ${JSON.stringify(value)} must be warn or strict`);
}
