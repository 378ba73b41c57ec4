/** Contracts of the registry stage: what the resolver asks of it. */
import type { Credential } from '../credentials/types.js';
import type { ImageRef } from '../reference/types.js';

/** What the registry reported for a manifest reference. */
export interface ManifestDigest {
  /** E.g. `sha256:<64 hex>`, verified in format (reference/digest.ts). For a multi-arch image, the digest of the index. */
  readonly digest: string;
}

/** Resolves one tag of one repository to its manifest digest. */
export interface DigestSource {
  getDigest(ref: ImageRef, tag: string, credential: Credential | undefined, signal: AbortSignal): Promise<ManifestDigest>;
}
