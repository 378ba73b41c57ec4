/** Contracts of the registry stage: what the resolver asks of it. */
import type { ImageRef } from '../reference/types.js';

/** A username/password pair for one registry, and where it came from (for logs; never the secret). */
export interface Credential {
  readonly username: string;
  readonly password: string;
  /** Human-readable origin, e.g. `docker config /root/.docker/config.json` or `secret ns/name`. */
  readonly source: string;
}

/** What the registry reported for a manifest reference. */
export interface ManifestDigest {
  /** E.g. `sha256:<64 hex>`, verified in format (reference/digest.ts). For a multi-arch image, the digest of the index. */
  readonly digest: string;
}

/** Resolves one tag of one repository to its manifest digest. */
export interface DigestSource {
  getDigest(ref: ImageRef, tag: string, credential: Credential | undefined, signal: AbortSignal): Promise<ManifestDigest>;
}
