/** A parsed reference as data (Go's Named, Tagged and Canonical references), and building one. */

/** A reference with a repository name, and optionally a tag and a digest. */
export interface NamedReference {
  /** `host[:port]`; empty when the name has no domain (Go's `Domain()`). */
  readonly domain: string;
  /** The repository path after the domain (Go's `Path()`). */
  readonly path: string;
  /** `domain/path`, or `path` alone when there is no domain (Go's `Name()`). */
  readonly name: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

/** The parts a named reference is made of. */
export interface NamedParts {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

/** Builds a named reference from parts that are already valid. */
export function namedReference(parts: NamedParts): NamedReference {
  const { domain, path } = parts;
  return {
    domain,
    path,
    name: domain === '' ? path : `${domain}/${path}`,
    tag: parts.tag,
    digest: parts.digest,
  };
}
