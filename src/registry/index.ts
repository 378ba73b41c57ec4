/** Registry stage: the OCI distribution client, its auth, and where credentials come from. */
export type { Credential, DigestSource, ManifestDigest } from './types.js';
export { RegistryClient, type RegistryClientOptions } from './client.js';
export {
  RegistryError,
  ManifestUnknownError,
  RegistryAuthError,
  RegistryRateLimitedError,
  RegistryUnavailableError,
  RegistryTimeoutError,
  RegistryAbortedError,
  InvalidDigestError,
  InsecureRegistryRequiredError,
  RegistryProtocolError,
  RegistryCircuitOpenError,
  RegistryPolicyError,
  RegistryCaFileError,
  type RegistryErrorOptions,
} from './errors.js';
export { credentialKey } from './credential-key.js';
export {
  loadDockerConfig,
  parseDockerConfig,
  dockerConfigDir,
  registryHostOfKey,
  DockerConfigError,
  type DockerConfigCredentials,
} from './docker-config.js';
export {
  DockerCredentialHelpers,
  helperServerUrl,
  parseHelperAnswer,
  DEFAULT_HELPER_TIMEOUT_MS,
  DEFAULT_HELPER_CACHE_TTL_MS,
  type HelperOutcome,
  type CredentialHelperOptions,
} from './credential-helpers.js';
export {
  KubeletCredentialProviders,
  loadCredentialProviders,
  parseCredentialProviderConfig,
  parseProviderResponse,
  CredentialProviderConfigError,
  CredentialProviderError,
  DEFAULT_PROVIDER_TIMEOUT_MS,
  type CredentialProviderSpec,
  type CredentialProviderOptions,
  type ProviderLookup,
} from './credential-provider.js';
export { WebhookCredentials, type ImageName, type WebhookCredentialSources } from './own-credentials.js';
export { runPlugin, CredentialProgramError, type PluginRun, type PluginResult } from './exec-plugin.js';
export type { BreakerState } from './host-health.js';
export type { RegistryHostOptions } from './host-policy.js';
export type { RequestEvent } from './transport.js';
export { splitPem } from './trust.js';
