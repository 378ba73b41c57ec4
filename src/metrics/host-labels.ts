/**
 * Bounds the `host` label of registry metrics. Image names come from whoever may
 * create a Pod, so a host taken straight from a request would let them mint label
 * values (and time series) at will.
 */

/** The label value of every host that does not get its own. */
export const OTHER_HOST = 'other';

/** How many hosts outside the allow-list get their own label. */
export const DEFAULT_MAX_HOSTS = 50;

export interface HostLabelOptions {
  /**
   * The registry allow-list (`host[:port]`). Its hosts always have their own label;
   * any other host gets one only once it has answered over HTTP (a token realm, or
   * `registry-1.docker.io` for `docker.io`), since the client refuses to contact the rest.
   */
  readonly allowList?: readonly string[] | undefined;
  /** Most hosts outside the allow-list with their own label, first come first served. */
  readonly maxHosts?: number;
}

/**
 * Maps a request host to its label value: allow-listed hosts by name, then the first
 * `maxHosts` other hosts seen (with an allow-list, only hosts that answered), then
 * `other`. A host keeps its label for the life of the process, so at most
 * `allowList.length + maxHosts + 1` values ever exist.
 */
export class HostLabels {
  readonly #allowList: ReadonlySet<string> | undefined;
  readonly #seen = new Set<string>();
  readonly #maxHosts: number;

  constructor(options: HostLabelOptions = {}) {
    this.#allowList = options.allowList === undefined ? undefined : new Set(options.allowList.map(normalizeHost));
    this.#maxHosts = options.maxHosts ?? DEFAULT_MAX_HOSTS;
  }

  /** The label for a request to `host` (`host[:port]`); `answered` is false when no HTTP response came. */
  label(host: string, answered: boolean): string {
    const normalized = normalizeHost(host);
    const known = this.#known(normalized);
    if (known !== undefined) return known;
    if (this.#seen.size >= this.#maxHosts || (this.#allowList !== undefined && !answered)) return OTHER_HOST;
    this.#seen.add(normalized);
    return normalized;
  }

  /** The label `host` already has, or `other`; never gives a new host a label. */
  existing(host: string): string {
    return this.#known(normalizeHost(host)) ?? OTHER_HOST;
  }

  #known(normalized: string): string | undefined {
    return this.#allowList?.has(normalized) === true || this.#seen.has(normalized) ? normalized : undefined;
  }
}

/** Hosts are case-insensitive; a trailing dot names the same host. */
function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/\.(?=:\d+$|$)/, '');
}
