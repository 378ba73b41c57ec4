/** Where a registry domain is reached: scheme, host and port. */
import { registryEndpoint } from '../reference/index.js';

/** The origin requests for one registry go to. */
export interface RegistryEndpoint {
  /** e.g. `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
  readonly origin: URL;
  /** True when the registry is listed as insecure and reached over plain HTTP. */
  readonly insecure: boolean;
}

/** The endpoint of `domain`: plain HTTP only when the domain (or its API host) is in `insecureRegistries`. */
export function endpointOf(domain: string, insecureRegistries: ReadonlySet<string>): RegistryEndpoint {
  const host = registryEndpoint(domain);
  const insecure = insecureRegistries.has(domain.toLowerCase()) || insecureRegistries.has(host.toLowerCase());
  return { origin: new URL(`${insecure ? 'http' : 'https'}://${host}`), insecure };
}

/** The set form of the insecure-registries option, lower-cased. */
export function insecureRegistrySet(hosts: readonly string[]): ReadonlySet<string> {
  return new Set(hosts.map((h) => h.trim().toLowerCase()));
}
