/**
 * The webhook's own credentials for an image, used only where no tenant pull
 * secret matched (and by the CLI): its docker config (`credHelpers`/`credsStore`
 * helper, then `auths`), then the kubelet credential providers that match the
 * image. Remembers, per registry, why a lookup gave nothing, so a refused
 * anonymous pull can say what is missing (ECR, Artifact Registry and ACR images
 * usually carry no pull secret: nodes get their credentials from a provider).
 */
import { LRUCache } from 'lru-cache';
import type { DockerConfigCredentials } from './docker-config.js';
import type { DockerCredentialHelpers } from './credential-helpers.js';
import type { KubeletCredentialProviders } from './credential-provider.js';
import type { Credential } from './types.js';

/** An image as the lookups need it: `domain` (`host[:port]`) and `name` (`domain/path`). */
export interface ImageName {
  readonly domain: string;
  readonly name: string;
}

export interface WebhookCredentialSources {
  readonly dockerConfig: DockerConfigCredentials;
  readonly helpers?: DockerCredentialHelpers | undefined;
  readonly providers?: KubeletCredentialProviders | undefined;
}

const MAX_REMEMBERED = 1000;

/** The webhook's own credential sources, asked in order. */
export class WebhookCredentials {
  readonly #sources: WebhookCredentialSources;
  readonly #whyNone = new LRUCache<string, string>({ max: MAX_REMEMBERED });

  constructor(sources: WebhookCredentialSources) {
    this.#sources = sources;
  }

  /** Docker config `auths` only, without running anything (for mirrors, and OwnCredentials.lookup). */
  lookup(domain: string): Credential[] {
    return this.#sources.dockerConfig.lookup(domain);
  }

  /** Every own credential for the image, best first: helper, `auths`, kubelet providers. Never throws. */
  async forImage(image: ImageName): Promise<Credential[]> {
    const { helpers, providers } = this.#sources;
    const [helper, provided] = await Promise.all([helpers?.lookup(image.domain), providers?.lookup(image)]);
    const credentials = [...(helper?.kind === 'credential' ? [helper.credential] : []), ...this.lookup(image.domain), ...(provided?.credentials ?? [])];
    const notes = [...(helper !== undefined && helper.kind !== 'credential' ? [helper.note] : []), ...(provided?.notes ?? [])];
    if (credentials.length === 0 && notes.length > 0) this.#whyNone.set(image.domain.toLowerCase(), notes.join('; '));
    else this.#whyNone.delete(image.domain.toLowerCase());
    return credentials;
  }

  /**
   * Why an image had no credential at all, for a refused anonymous pull: what its
   * helper or providers said, or that none is configured for its registry.
   */
  explain(image: ImageName): string {
    const head = `no credentials for ${image.domain}: no pull secret matched`;
    const why = this.#whyNone.get(image.domain.toLowerCase());
    if (why !== undefined) return `${head}; ${why}`;
    return `${head}, no docker credential helper or kubelet credential provider is configured for it`;
  }
}
