/** Configuration file (`--config FILE`): per-registry TLS, mirrors, rewrites, allow-list, cache and retry settings. */
export {
  validateConfig,
  defaultConfig,
  CONFIG_API_VERSION,
  CONFIG_KIND,
  DEFAULT_CACHE,
  DEFAULT_RETRY_CONFIG,
  DEFAULT_BREAKER_CONFIG,
  type DigestPinnerConfig,
  type RegistryConfig,
  type CacheConfig,
  type RetryConfig,
  type BreakerConfig,
} from './schema.js';
export { loadConfig, parseConfig, withFiles, type LoadedConfig, type RegistryConnection } from './load.js';
export { rewriteReference, compileRewrites, applicableRule, type RewriteRule } from './rewrite.js';
export { parseLocation, isRegistryHost, type Location } from './location.js';
export { ConfigError, RewriteError } from './errors.js';
