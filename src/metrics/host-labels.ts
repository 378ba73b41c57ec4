/**
 * Bounds the `host` label of registry metrics. Image names come from whoever may
 * create a Pod, so a host taken straight from a request would let them mint label
 * values (and time series) at will.
 */

/** The label value of every host that does not get its own. */
export const OTHER_HOST = 'other';

/** How many distinct hosts get their own label when no allow-list is configured. */
export const DEFAULT_MAX_HOSTS = 50;

export interface HostLabelOptions {
  /**
   * The registry allow-list, as `host[:port]`. When given, exactly these hosts are
   * labels and every other host is `other`, however many there are.
   */
  readonly allowList?: readonly string[];
  /** Without an allow-list: the first this many distinct hosts seen are labels, later ones `other`. */
  readonly maxHosts?: number;
}

/**
 * Maps a request host to its label value. With an allow-list the answer is fixed by
 * configuration; without one, the first `maxHosts` distinct hosts keep their name for
 * the life of the process, so the label set is bounded at `maxHosts + 1` values.
 */
export class HostLabels {
  readonly #allowList: ReadonlySet<string> | undefined;
  readonly #seen = new Set<string>();
  readonly #maxHosts: number;

  constructor(options: HostLabelOptions = {}) {
    this.#allowList = options.allowList === undefined ? undefined : new Set(options.allowList.map(normalizeHost));
    this.#maxHosts = options.maxHosts ?? DEFAULT_MAX_HOSTS;
  }

  /** The label value for `host` (`host[:port]` as the request went out). */
  label(host: string): string {
    const normalized = normalizeHost(host);
    if (this.#allowList !== undefined) return this.#allowList.has(normalized) ? normalized : OTHER_HOST;
    if (this.#seen.has(normalized)) return normalized;
    if (this.#seen.size >= this.#maxHosts) return OTHER_HOST;
    this.#seen.add(normalized);
    return normalized;
  }
}

/** Hosts are case-insensitive; a trailing dot names the same host. */
function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/\.(?=:\d+$|$)/, '');
}
