/**
 * What the global setup provides to test files: three real Distribution
 * registries on 127.0.0.1 (plain HTTP, TLS + htpasswd, TLS + token auth), each
 * holding images whose digests were read back from the registry itself.
 * Import this module (even only for its types) to get `inject('registries')` typed.
 */

/** One image as a registry serves it. */
export interface PushedImage {
  readonly repository: string;
  readonly tag: string;
  /** `Docker-Content-Digest` the registry reported for `repository:tag`. */
  readonly digest: string;
  /** Content-Type the registry serves the manifest with. */
  readonly mediaType: string;
  /** Digests of the per-platform manifests of an index or list; empty for a single manifest. */
  readonly platformDigests: readonly string[];
}

export interface TestRegistry {
  readonly name: 'plain' | 'basic' | 'token';
  /** `127.0.0.1:PORT`: what goes into an image reference. */
  readonly host: string;
  readonly scheme: 'http' | 'https';
  /** PEM of the CA that signed its certificate; undefined for plain HTTP. */
  readonly caFile: string | undefined;
  /** A directory with that CA as `ca.crt`, for containers tools' --cert-dir. */
  readonly certDir: string | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** stdout+stderr of the registry: access log lines in combined format, app log as JSON. */
  readonly logFile: string;
  readonly pid: number;
  /** Where pushImage builds its layouts: inside workDir, so nothing outlives the run. */
  readonly scratchDir: string;
  readonly images: {
    /** OCI image manifest, linux/amd64. */
    readonly single: PushedImage;
    /** OCI index over linux/amd64 and linux/arm64. */
    readonly multiArch: PushedImage;
    /** Docker schema 2 manifest (pushed with skopeo --format v2s2). */
    readonly dockerV2: PushedImage;
  };
}

export interface TokenRegistry extends TestRegistry {
  readonly name: 'token';
  /** The realm, `https://127.0.0.1:PORT/token`; accepts `username` or `username-<suffix>` with the same password. */
  readonly tokenUrl: string;
  /** GET → `TokenStats` JSON: token requests in total and per account. */
  readonly statsUrl: string;
  /** The `service` the registry announces and tokens are issued for. */
  readonly service: string;
  /** Repositories under this prefix may be pulled anonymously. */
  readonly publicPrefix: string;
  /**
   * Accounts `${username}-${alias}` and `${username}-${alias}-<suffix>` (same
   * password) are granted only repositories under `repositoryPrefix`, and the
   * public ones: a user who may pull some repositories and not others.
   */
  readonly limited: { readonly alias: string; readonly repositoryPrefix: string };
  /** An OCI image manifest at `public/single:v1`, pullable without credentials. */
  readonly publicImage: PushedImage;
}

export interface TestRegistries {
  readonly plain: TestRegistry;
  readonly basic: TestRegistry;
  readonly token: TokenRegistry;
  /** PEM of the test CA (same as each TLS registry's caFile). */
  readonly caFile: string;
  /** The temp dir holding everything; removed on teardown. */
  readonly workDir: string;
  /** How long the global setup took, for the curious. */
  readonly setupMs: number;
}

export interface PushOptions {
  /** Push an OCI index over linux/amd64 and linux/arm64 instead of one manifest. */
  readonly multiArch?: boolean;
  /** `oci` (default) keeps the built bytes; `v2s2` has skopeo convert to Docker schema 2. */
  readonly format?: 'oci' | 'v2s2';
  /** Mixed into the layer content, which is unique on every push anyway. */
  readonly seed?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    registries: TestRegistries;
  }
}
