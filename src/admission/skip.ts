/** The skip list: globs on normalised references that the webhook leaves alone. */
import { compileGlob } from '../glob.js';

/** A compiled skip list. */
export interface SkipList {
  matches(normalisedReference: string): boolean;
}

/**
 * Builds a skip list. A pattern matches the normalised reference (`docker.io/istio/proxyv2:1.20`)
 * or its repository name alone, so `docker.io/istio/*` and `docker.io/istio/proxyv2` both work.
 */
export function skipList(patterns: readonly string[]): SkipList {
  const compiled = patterns.map(compileGlob);
  return {
    matches: (reference) => {
      const name = repositoryOf(reference);
      return compiled.some((glob) => glob.test(reference) || glob.test(name));
    },
  };
}

/** `name` of `name[:tag][@digest]`, without parsing (a port's colon precedes the last slash). */
function repositoryOf(reference: string): string {
  const at = reference.indexOf('@');
  const withoutDigest = at === -1 ? reference : reference.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}
