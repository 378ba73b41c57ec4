/** metrics/: Prometheus metrics of admissions, resolutions, registry traffic, cache and breakers. */
export { Metrics, BREAKER_STATE_VALUES, type MetricsOptions } from './metrics.js';
export { HostLabels, OTHER_HOST, DEFAULT_MAX_HOSTS, type HostLabelOptions } from './host-labels.js';
