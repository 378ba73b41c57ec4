/** The resolver core that `serve`, `resolve` and every other command share. */
import type { CommonOptions } from './options.js';
import { RegistryClient, loadDockerConfig, type DockerConfigCredentials } from '../registry/index.js';
import { Resolver, type CredentialChain } from '../resolve/index.js';
import type { ImageRef } from '../reference/types.js';
import { DigestPinnerError } from '../errors.js';

export interface Core {
  readonly resolver: Resolver;
  readonly client: RegistryClient;
  readonly dockerConfig: DockerConfigCredentials;
  /** The webhook's own credentials for `ref`'s registry, then anonymous. */
  readonly credentialsFor: (ref: ImageRef) => CredentialChain;
  close(): Promise<void>;
}

/** Errors after which the next credential may still succeed: refused, or not visible to this one. */
const TRY_NEXT_CODES: ReadonlySet<string> = new Set(['DP_ERR_REGISTRY_AUTH', 'DP_ERR_MANIFEST_UNKNOWN']);

export interface CoreOptions extends CommonOptions {
  readonly homeDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly version: string;
  readonly cacheMax?: number;
}

export async function buildCore(options: CoreOptions): Promise<Core> {
  const dir = options.dockerConfigDir ?? options.env.DOCKER_CONFIG ?? `${options.homeDir}/.docker`;
  const dockerConfig = await loadDockerConfig(dir);
  const client = new RegistryClient({
    caFiles: options.caFiles,
    insecureRegistries: options.insecureRegistries,
    requestTimeoutMs: options.registryTimeoutMs,
    userAgent: `digest-pinner/${options.version}`,
  });
  const resolver = new Resolver({
    source: client,
    cacheTtlMs: options.cacheTtlMs,
    cacheMax: options.cacheMax ?? 100_000,
    fetchTimeoutMs: options.registryTimeoutMs * 2,
    tryNextCredential: (error) => error instanceof DigestPinnerError && TRY_NEXT_CODES.has(error.code),
  });
  return {
    resolver,
    client,
    dockerConfig,
    credentialsFor: (ref) => [...dockerConfig.lookup(ref.domain), undefined],
    close: () => client.close(),
  };
}
