/** metrics/: Prometheus metrics of admissions, resolutions, registry traffic, cache, breakers, caches of the cluster and certificates. */
export { Metrics, BREAKER_STATES, type InformerSync, type MetricsOptions } from './metrics.js';
export { HostLabels, OTHER_HOST, DEFAULT_MAX_HOSTS, type HostLabelOptions } from './host-labels.js';
