/**
 * The webhook's own credentials for an image, used only where no tenant pull
 * secret matched (and by the CLI): its docker config (`credHelpers`/`credsStore`
 * helper, then `auths`), then the kubelet credential providers that match the
 * image. Remembers, per registry, why a lookup gave nothing, so a refused
 * anonymous pull can say what is missing (ECR, Artifact Registry and ACR images
 * usually carry no pull secret: nodes get their credentials from a provider).
 */
import { LRUCache } from 'lru-cache';
import { raceAbort, type Deadline } from '../timeout.js';
import type { DockerConfigCredentials } from './docker-config.js';
import type { DockerCredentialHelpers, HelperOutcome } from './helpers.js';
import type { KubeletCredentialProviders, ProviderLookup } from './kubelet-providers.js';
import type { Credential, ImageName } from './types.js';

/** Where the webhook's own credentials come from: its docker config, and the programs it names or is given. */
export interface OwnCredentialSources {
  readonly dockerConfig: DockerConfigCredentials;
  readonly helpers?: DockerCredentialHelpers | undefined;
  readonly providers?: KubeletCredentialProviders | undefined;
}

const MAX_REMEMBERED = 1000;

type ProgramAnswers = [HelperOutcome | undefined, ProviderLookup | undefined];

/** The webhook's own credential sources, asked in order. */
export class OwnCredentials {
  readonly #sources: OwnCredentialSources;
  readonly #whyNone = new LRUCache<string, string>({ max: MAX_REMEMBERED });

  constructor(sources: OwnCredentialSources) {
    this.#sources = sources;
  }

  /** Docker config `auths` only, without running anything (for mirrors). */
  lookup(domain: string): Credential[] {
    return this.#sources.dockerConfig.lookup(domain);
  }

  /**
   * Every own credential for the image, best first: helper, `auths`, kubelet providers. Never throws.
   * When `deadline` passes while a helper or provider runs, stops waiting (the program runs on, and
   * its answer is remembered for later lookups) and gives the `auths` credentials alone.
   */
  async forImage(image: ImageName, deadline?: Deadline): Promise<Credential[]> {
    const answers = await this.#programAnswers(image, deadline);
    if (answers === undefined) return this.lookup(image.domain);
    const [helper, provided] = answers;
    const credentials = [...(helper?.kind === 'credential' ? [helper.credential] : []), ...this.lookup(image.domain), ...(provided?.credentials ?? [])];
    const notes = [...(helper !== undefined && helper.kind !== 'credential' ? [helper.note] : []), ...(provided?.notes ?? [])];
    if (credentials.length === 0 && notes.length > 0) this.#whyNone.set(image.domain.toLowerCase(), notes.join('; '));
    else this.#whyNone.delete(image.domain.toLowerCase());
    return credentials;
  }

  /** What the helper and the providers say about the image; undefined when none is configured or the deadline came first. */
  async #programAnswers(image: ImageName, deadline: Deadline | undefined): Promise<ProgramAnswers | undefined> {
    const { helpers, providers } = this.#sources;
    if (helpers === undefined && providers === undefined) return undefined;
    const programs = Promise.all([helpers?.lookup(image.domain), providers?.lookup(image)]);
    if (deadline === undefined) return programs;
    try {
      return await raceAbort(programs, deadline.signal, (reason) => new Error('credential programs outlived the deadline', { cause: reason }));
    } catch {
      return undefined;
    }
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
