/**
 * credentials: every source of registry credentials — docker config (`auths`, credential
 * helpers), kubelet credential providers, pull secrets and kubelet's keyring matching — and the
 * webhook's own credentials built from them. registry/ sends them; kube/ finds a pod's.
 */
export type { Credential, CredentialChain, CredentialContext, CredentialLookup, ImageName } from './types.js';
export { loadDockerConfig, parseDockerConfig, dockerConfigDir, registryHostOfKey, DockerConfigError, type DockerConfigCredentials } from './docker-config.js';
export {
  DockerCredentialHelpers,
  helperServerUrl,
  parseHelperAnswer,
  DEFAULT_HELPER_TIMEOUT_MS,
  DEFAULT_HELPER_CACHE_TTL_MS,
  type HelperOutcome,
  type CredentialHelperOptions,
} from './helpers.js';
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
} from './kubelet-providers.js';
export { runPlugin, CredentialProgramError, type PluginRun, type PluginResult } from './exec-plugin.js';
export {
  EMPTY_KEYRING,
  keyringOf,
  mergeKeyrings,
  parseDockerConfigJson,
  parseDockercfg,
  parsePullSecret,
  parseRegistryPattern,
  patternMatches,
  PULL_SECRET_TYPES,
  type Keyring,
  type KeyringEntry,
  type ParsedPullSecret,
  type PullSecretType,
  type RegistryPattern,
} from './keyring.js';
export { OwnCredentials, type OwnCredentialSources } from './own.js';
