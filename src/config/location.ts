/**
 * Registry locations as the configuration file writes them: `HOST[:PORT]`
 * (a registry) and `HOST[:PORT][/PATH]` (a mirror, or a rewrite's `from` and
 * `to`). The host is what an image reference would read as its registry domain,
 * so `mirror/quay` (a Docker Hub path) is refused.
 */
import { ANCHORED_DOMAIN, parseImage } from '../reference/index.js';

/** A registry and an optional repository path prefix under it. */
export interface Location {
  /** Lower-case `host[:port]`. */
  readonly domain: string;
  /** Path prefix without slashes at either end; empty for the registry root. */
  readonly path: string;
  /** `domain[/path]`. */
  readonly text: string;
}

const PROBE = 'x';

/** The location `text` names (one trailing `/` allowed), or undefined when it is not `HOST[:PORT][/PATH]`. */
export function parseLocation(text: string): Location | undefined {
  const trimmed = text.endsWith('/') ? text.slice(0, -1) : text;
  const slash = trimmed.indexOf('/');
  const host = slash === -1 ? trimmed : trimmed.slice(0, slash);
  if (!isRegistryHost(host)) return undefined;
  let parsedDomain: string;
  try {
    parsedDomain = parseImage(`${trimmed}/${PROBE}`).domain;
  } catch {
    return undefined;
  }
  if (parsedDomain !== host) return undefined;
  const domain = host.toLowerCase();
  const path = slash === -1 ? '' : trimmed.slice(slash + 1);
  return { domain, path, text: path === '' ? domain : `${domain}/${path}` };
}

/** True for `host[:port]` that an image reference reads as a registry (a `.` or `:`, or `localhost`). */
export function isRegistryHost(text: string): boolean {
  if (!ANCHORED_DOMAIN.test(text)) return false;
  return text.includes('.') || text.includes(':') || text === 'localhost' || text.startsWith('[');
}
