/** A container image reference, parsed and normalised (see parse.ts). */
export interface ImageRef {
  /** The reference exactly as the user wrote it, e.g. `nginx:1.27`. */
  readonly written: string;
  /** Normalised registry domain, e.g. `docker.io`, `quay.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/nginx`. */
  readonly path: string;
  /** `domain/path`, e.g. `docker.io/library/nginx`. */
  readonly name: string;
  /** Tag as written; undefined when absent (the registry default `latest` is applied by the resolver). */
  readonly tag: string | undefined;
  /** Digest as written (`sha256:…`); undefined when absent. */
  readonly digest: string | undefined;
}
