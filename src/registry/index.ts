/** Registry stage: the OCI distribution client and its auth (credentials come from credentials/). */
export type { DigestSource, ManifestDigest } from './types.js';
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
  RegistryUnreachableError,
  RegistryCaFileError,
  type RegistryErrorOptions,
} from './errors.js';
export { credentialKey } from './credential-key.js';
export { invalidRegistryHost, InvalidHostNameError } from './address-policy.js';
export type { BreakerState } from './host-health.js';
export type { RegistryHostOptions } from './host-policy.js';
export type { RequestEvent } from './transport.js';
export { proxySettingsFromEnv, ProxyConfigError, type ProxySettings } from './proxy-settings.js';
