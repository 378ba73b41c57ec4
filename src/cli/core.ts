/** The resolver core that `serve`, `resolve` and every other command share. */
import type { CommonOptions } from './options.js';
import {
  DockerCredentialHelpers,
  OwnCredentials,
  dockerConfigDir,
  loadCredentialProviders,
  loadDockerConfig,
  type CredentialChain,
  type ImageName,
} from '../credentials/index.js';
import { proxySettingsFromEnv, RegistryAuthError, RegistryClient, type RegistryClientOptions } from '../registry/index.js';
import { DEFAULT_RETRY, Resolver, type Resolution, type ResolveOptions, type ResolverOptions, type TagLedger } from '../resolve/index.js';
import { compileRewrites, defaultConfig, loadConfig, type DigestPinnerConfig } from '../config/index.js';
import type { ImageRef } from '../reference/types.js';
import { DigestPinnerError } from '../errors.js';
import type { Deadline } from '../timeout.js';

export interface Core {
  readonly resolver: Resolver;
  readonly client: RegistryClient;
  /** The configuration file's settings (the defaults without `--config`). */
  readonly config: DigestPinnerConfig;
  /**
   * The webhook's own credentials: docker config (helpers, `auths`) and kubelet
   * credential providers. kube's clusterCredentialLookup puts them after the tenant's pull secrets.
   */
  readonly ownCredentials: OwnCredentials;
  /**
   * The webhook's own credentials for `ref` (may run a credential helper or provider), then
   * anonymous; waits on credential programs no longer than `deadline` when given.
   */
  readonly credentialsFor: (ref: ImageRef, deadline?: Deadline) => Promise<CredentialChain>;
  /** Moves `ref` by the configuration's rewrite rules; call before resolving and pin the result. Throws RewriteError. */
  readonly rewrite: (ref: ImageRef) => ImageRef;
  close(): Promise<void>;
}

/** Errors after which the next credential may still succeed: refused, or not visible to this one. */
export const TRY_NEXT_CODES: ReadonlySet<string> = new Set(['DP_ERR_REGISTRY_AUTH', 'DP_ERR_MANIFEST_UNKNOWN']);

export interface CoreOptions extends CommonOptions {
  readonly homeDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly version: string;
  readonly cacheMax?: number;
  /** Observes every registry and token-service request (metrics). */
  readonly onRequest?: RegistryClientOptions['onRequest'];
  /** Logs what the registry client refuses beyond the failure it returns. */
  readonly warn?: RegistryClientOptions['warn'];
  /** Deadline of one credential helper or provider run (default 5 s). */
  readonly credentialProgramTimeoutMs?: number;
  /**
   * Failures are told to tenants (serve): a registry outside the allow-list that could not be
   * reached is said to be so without saying how (RegistryUnreachableError).
   */
  readonly forTenants?: boolean;
  /** The tag ledger shared by the webhook's replicas (serve, with a cluster). */
  readonly ledger?: TagLedger | undefined;
}

/**
 * The resolver, but a refused anonymous pull of an image that had no credential
 * at all says what is missing (`no credentials for <registry>: no pull secret
 * matched, …`) instead of only that the registry wants credentials.
 */
class ExplainingResolver extends Resolver {
  readonly #explain: (image: ImageName) => string;

  constructor(options: ResolverOptions, explain: (image: ImageName) => string) {
    super(options);
    this.#explain = explain;
  }

  override async resolve(ref: ImageRef, options: ResolveOptions): Promise<Resolution> {
    try {
      return await super.resolve(ref, options);
    } catch (error) {
      if (!(error instanceof RegistryAuthError) || options.credentials.some((credential) => credential !== undefined)) throw error;
      throw new RegistryAuthError(error.image, `${this.#explain(ref)} (${error.reason})`, { cause: error, status: error.status });
    }
  }
}

export async function buildCore(options: CoreOptions): Promise<Core> {
  const providerConfig = options.imageCredentialProviderConfig;
  const providerBinDir = options.imageCredentialProviderBinDir;
  const timeoutMs = options.credentialProgramTimeoutMs;
  const [dockerConfig, loaded, providers] = await Promise.all([
    loadDockerConfig(dockerConfigDir(options.dockerConfigDir, options.env, options.homeDir)),
    options.configFile === undefined ? undefined : loadConfig(options.configFile),
    providerConfig === undefined || providerBinDir === undefined
      ? undefined
      : loadCredentialProviders(providerConfig, { binDir: providerBinDir, env: options.env, ...(timeoutMs === undefined ? {} : { timeoutMs }) }),
  ]);
  const helpers = dockerConfig.hasHelpers
    ? new DockerCredentialHelpers({ helperFor: (domain) => dockerConfig.helperFor(domain), env: options.env, ...(timeoutMs === undefined ? {} : { timeoutMs }) })
    : undefined;
  const ownCredentials = new OwnCredentials({ dockerConfig, helpers, providers });
  const config = loaded ?? defaultConfig();
  const client = new RegistryClient({
    env: options.env,
    proxy: proxySettingsFromEnv(options.env),
    caFiles: options.caFiles,
    insecureRegistries: options.insecureRegistries,
    requestTimeoutMs: options.registryTimeoutMs,
    userAgent: `digest-pinner/${options.version}`,
    registries: loaded?.registryHosts ?? new Map(),
    allowedRegistries: config.allow,
    breaker: { failureThreshold: config.breaker.failures, coolDownMs: config.breaker.coolDownMs },
    ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
    ...(options.warn === undefined ? {} : { warn: options.warn }),
  });
  const anonymousAfter = (domain: string): CredentialChain => [...ownCredentials.lookup(domain), undefined];
  const resolverOptions: ResolverOptions = {
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
    ...(options.forTenants === true ? { discloses: (domain: string) => client.allowListed(domain) } : {}),
    ledger: options.ledger,
  };
  const resolver = new ExplainingResolver(resolverOptions, (image) => ownCredentials.explain(image));
  return {
    resolver,
    client,
    ownCredentials,
    config,
    credentialsFor: async (ref, deadline) => [...(await ownCredentials.forImage(ref, deadline)), undefined],
    rewrite: compileRewrites(config.rewrites),
    close: () => client.close(),
  };
}
