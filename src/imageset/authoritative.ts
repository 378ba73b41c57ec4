/** Registries for which ImageSets are the only source of digests (`--imageset-authoritative`): the air-gapped mode. */
import { ANCHORED_DOMAIN, registryDomain } from '../reference/index.js';
import type { ImageRef } from '../reference/types.js';
import { DigestPinnerError } from '../errors.js';

/** A `--imageset-authoritative` value that is not a registry host. */
export class InvalidAuthoritativeRegistryError extends DigestPinnerError {
  readonly code = 'DP_ERR_IMAGESET_AUTHORITATIVE';
}

/** The registries given, each as an image's `domain` would be (`registry-1.docker.io` → `docker.io`). */
export class AuthoritativeRegistries {
  readonly #domains: ReadonlySet<string>;

  constructor(registries: readonly string[]) {
    this.#domains = new Set(registries.map(normalizeRegistry));
  }

  /** Whether `ref`'s registry is one of them. */
  covers(ref: ImageRef): boolean {
    return this.#domains.has(ref.domain);
  }

  /** The registries, normalised and sorted, for the startup log. */
  list(): string[] {
    return [...this.#domains].sort();
  }
}

/** `HOST[:PORT]` as image references name it; throws InvalidAuthoritativeRegistryError for anything else. */
export function normalizeRegistry(registry: string): string {
  const domain = registryDomain(registry);
  if (!ANCHORED_DOMAIN.test(domain)) {
    throw new InvalidAuthoritativeRegistryError(`--imageset-authoritative ${JSON.stringify(registry)} is not a registry host[:port] (e.g. registry.internal:5000)`);
  }
  return domain;
}

/** No cluster to watch: nothing is listed, and authoritative registries still are (so their images fail). */
export function withoutImageSets(authoritative: AuthoritativeRegistries): { lookup(ref: ImageRef): undefined; authoritative(ref: ImageRef): boolean } {
  return { lookup: () => undefined, authoritative: (ref) => authoritative.covers(ref) };
}
