/** Registry stage: the OCI distribution client, its auth, and where credentials come from. */
export type { Credential, DigestSource, ManifestDigest } from './types.js';
export { RegistryClient, MANIFEST_BODY_LIMIT, type RegistryClientOptions } from './client.js';
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
export { credentialKey, ANONYMOUS_KEY } from './credential-key.js';
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
export { parseWwwAuthenticate, findChallenge, MalformedChallengeError, type Challenge } from './www-authenticate.js';
export { parseRetryAfter } from './retry-after.js';
export { endpointOf, type RegistryEndpoint, type UrlCheck } from './endpoint.js';
export { AddressPolicy, AddressBlockedError, guardedLookup, guardedConnector, type GuardedConnectorOptions } from './address-policy.js';
export { HostHealth, DEFAULT_BREAKER, type BreakerOptions, type BreakerState, type RequestOutcome } from './host-health.js';
export { RegistryHosts, type RegistryHostOptions, type ContactPurpose } from './host-policy.js';
export type { RequestEvent } from './transport.js';
export { MANIFEST_ACCEPT, MANIFEST_MEDIA_TYPES, isValidDigest } from './manifest.js';
export { loadTrustedCertificates, splitPem, DEBIAN_SYSTEM_BUNDLE } from './trust.js';
