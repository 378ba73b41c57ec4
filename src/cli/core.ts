/** The resolver core that `serve`, `resolve` and every other command share. */
import type { CommonOptions } from './options.js';
import { RegistryClient, loadDockerConfig, type DockerConfigCredentials, type RegistryClientOptions } from '../registry/index.js';
import { DEFAULT_RETRY, Resolver, type CredentialChain } from '../resolve/index.js';
import { compileRewrites, defaultConfig, loadConfig, type DigestPinnerConfig } from '../config/index.js';
import type { ImageRef } from '../reference/types.js';
import { DigestPinnerError } from '../errors.js';

export interface Core {
  readonly resolver: Resolver;
  readonly client: RegistryClient;
  readonly dockerConfig: DockerConfigCredentials;
  /** The configuration file's settings (the defaults without `--config`). */
  readonly config: DigestPinnerConfig;
  /** The webhook's own credentials for `ref`'s registry, then anonymous. */
  readonly credentialsFor: (ref: ImageRef) => CredentialChain;
  /** Moves `ref` by the configuration's rewrite rules; call before resolving and pin the result. Throws RewriteError. */
  readonly rewrite: (ref: ImageRef) => ImageRef;
  close(): Promise<void>;
}

/** Errors after which the next credential may still succeed: refused, or not visible to this one. */
const TRY_NEXT_CODES: ReadonlySet<string> = new Set(['DP_ERR_REGISTRY_AUTH', 'DP_ERR_MANIFEST_UNKNOWN']);

export interface CoreOptions extends CommonOptions {
  readonly homeDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly version: string;
  readonly cacheMax?: number;
  /** Observes every registry and token-service request (metrics). */
  readonly onRequest?: RegistryClientOptions['onRequest'];
}

export async function buildCore(options: CoreOptions): Promise<Core> {
  const dir = options.dockerConfigDir ?? options.env.DOCKER_CONFIG ?? `${options.homeDir}/.docker`;
  const [dockerConfig, loaded] = await Promise.all([
    loadDockerConfig(dir),
    options.configFile === undefined ? undefined : loadConfig(options.configFile),
  ]);
  const config = loaded ?? defaultConfig();
  const client = new RegistryClient({
    caFiles: options.caFiles,
    insecureRegistries: options.insecureRegistries,
    requestTimeoutMs: options.registryTimeoutMs,
    userAgent: `digest-pinner/${options.version}`,
    registries: loaded?.registryHosts ?? new Map(),
    allowedRegistries: config.allow,
    breaker: { failureThreshold: config.breaker.failures, coolDownMs: config.breaker.coolDownMs },
    ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
  });
  const anonymousAfter = (domain: string): CredentialChain => [...dockerConfig.lookup(domain), undefined];
  const resolver = new Resolver({
    source: client,
    cacheTtlMs: options.cacheTtlMs,
    cacheMax: options.cacheMax ?? 100_000,
    fetchTimeoutMs: options.registryTimeoutMs * 2,
    tryNextCredential: (error) => error instanceof DigestPinnerError && TRY_NEXT_CODES.has(error.code),
    staleForMs: config.cache.staleForMs,
    negativeTtlMs: config.cache.negativeTtlMs,
    retry: { ...DEFAULT_RETRY, attempts: config.retry.attempts, baseDelayMs: config.retry.backoffMs, maxDelayMs: config.retry.maxBackoffMs },
    mirrors: new Map([...config.registries].map(([domain, registry]) => [domain, registry.mirrors.map((m) => m.text)])),
    mirrorCredentials: anonymousAfter,
    mirrorWaitMs: options.registryTimeoutMs,
  });
  return {
    resolver,
    client,
    dockerConfig,
    config,
    credentialsFor: (ref) => anonymousAfter(ref.domain),
    rewrite: compileRewrites(config.rewrites),
    close: () => client.close(),
  };
}
