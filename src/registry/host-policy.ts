/**
 * Which hosts the client may contact and send credentials to, and how it
 * reaches each registry. Registries are named as images name them
 * (`host[:port]`, `docker.io`); requests go to their API host
 * (`registry-1.docker.io`).
 *
 * - Credentials go to the registry they are for and to a token realm on that
 *   same host name (any port), on a host the registry's `tokenRealms` lists, or
 *   on a well-known realm of that registry (Docker Hub's auth.docker.io).
 * - With an allow-list, a registry request goes only to an allowed registry;
 *   a token realm or redirect only to a host that could receive that registry's
 *   credentials by the rule above.
 */
import { registryEndpoint } from '../reference/index.js';
import { endpointOf, insecureRegistrySet, type RegistryEndpoint } from './endpoint.js';

/** Per-registry settings (from the configuration file). */
export interface RegistryHostOptions {
  /** PEM of CA certificates trusted for this registry, besides the default trust. */
  readonly ca?: string | undefined;
  /** PEM client certificate (chain) and its key, for registries that require mutual TLS. */
  readonly clientCert?: string | undefined;
  readonly clientKey?: string | undefined;
  /** Reach it over plain HTTP. */
  readonly insecure?: boolean | undefined;
  /** Hosts (`host` or `host:port`) of token realms on other hosts that may receive this registry's credentials. */
  readonly tokenRealms?: readonly string[] | undefined;
}

/** Token realms on another host, known for well-known registries. */
const KNOWN_TOKEN_REALMS: ReadonlyMap<string, readonly string[]> = new Map([['docker.io', ['auth.docker.io']]]);

/** What the policy checks a URL for. */
export type ContactPurpose = 'registry' | 'token-realm' | 'redirect';

/** The host rules of one client. */
export class RegistryHosts {
  readonly #registries: ReadonlyMap<string, RegistryHostOptions>;
  readonly #insecure: ReadonlySet<string>;
  /** API hosts of allowed registries; undefined when there is no allow-list. */
  readonly #allowedRegistryHosts: ReadonlySet<string> | undefined;
  /** Hosts and host names that may be contacted for realms and redirects. */
  readonly #allowedOtherHosts: ReadonlySet<string> | undefined;

  constructor(options: {
    readonly registries: ReadonlyMap<string, RegistryHostOptions>;
    readonly insecureRegistries: readonly string[];
    readonly allowed: readonly string[] | undefined;
  }) {
    this.#registries = new Map([...options.registries].map(([domain, settings]) => [domain.toLowerCase(), settings]));
    const insecure = [...options.insecureRegistries, ...[...this.#registries].filter(([, s]) => s.insecure === true).map(([d]) => d)];
    this.#insecure = insecureRegistrySet(insecure);
    if (options.allowed !== undefined) {
      const domains = options.allowed.map((d) => d.trim().toLowerCase());
      this.#allowedRegistryHosts = new Set(domains.map((d) => registryEndpoint(d).toLowerCase()));
      this.#allowedOtherHosts = new Set(domains.flatMap((d) => [...this.credentialHosts(d)]));
    }
  }

  /** Where `domain`'s API is reached, over HTTPS unless it is insecure. */
  endpoint(domain: string): RegistryEndpoint {
    return endpointOf(domain, this.#insecure);
  }

  /** Every configured registry with its API host, for building TLS contexts. */
  configured(): readonly (readonly [apiHost: string, settings: RegistryHostOptions])[] {
    return [...this.#registries].map(([domain, settings]) => [registryEndpoint(domain).toLowerCase(), settings] as const);
  }

  /**
   * Hosts whose token realms may receive `domain`'s credentials: the API host,
   * its host name on any port, configured and well-known realms.
   */
  credentialHosts(domain: string): ReadonlySet<string> {
    const lower = domain.toLowerCase();
    const api = new URL(`https://${registryEndpoint(lower)}`);
    const configured = this.#registries.get(lower)?.tokenRealms ?? [];
    const known = KNOWN_TOKEN_REALMS.get(lower) ?? [];
    return new Set([api.host, api.hostname, ...configured, ...known].map((h) => h.toLowerCase()));
  }

  /** Whether `domain` (`host[:port]` as images name it) is on the allow-list; false when there is none. */
  allowListed(domain: string): boolean {
    return this.#allowedRegistryHosts?.has(registryEndpoint(domain.toLowerCase()).toLowerCase()) === true;
  }

  /** Why `url` may not be contacted under the allow-list; undefined when it may. */
  refusal(url: URL, purpose: ContactPurpose): string | undefined {
    if (this.#allowedRegistryHosts === undefined || this.#allowedOtherHosts === undefined) return undefined;
    const host = url.host.toLowerCase();
    if (purpose === 'registry') {
      return this.#allowedRegistryHosts.has(host) ? undefined : `registry ${url.host} is not in the allow-list`;
    }
    if (this.#allowedOtherHosts.has(host) || this.#allowedOtherHosts.has(url.hostname.toLowerCase())) return undefined;
    const what = purpose === 'token-realm' ? 'token realm' : 'redirect target';
    return `${what} ${url.host} is not an allowed registry's host or configured token realm`;
  }
}

/** Whether `realm` is on one of `hosts` (entries with a port match `host:port`, others any port). */
export function realmOnHosts(realm: URL, hosts: ReadonlySet<string>): boolean {
  return hosts.has(realm.host.toLowerCase()) || hosts.has(realm.hostname.toLowerCase());
}
