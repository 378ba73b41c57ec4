/** Where a registry domain's API is served. */
import { DEFAULT_DOMAIN, DOCKER_HUB_API_HOST } from './normalize.js';

/** Domains whose API is not served on the domain itself. */
const API_HOSTS: ReadonlyMap<string, string> = new Map([
  // Docker Hub names images `docker.io/…` but answers the registry API on this host.
  [DEFAULT_DOMAIN, DOCKER_HUB_API_HOST],
]);

/** The host (and port) to send registry API requests for a normalised domain to. */
export function registryEndpoint(domain: string): string {
  return API_HOSTS.get(domain) ?? domain;
}
